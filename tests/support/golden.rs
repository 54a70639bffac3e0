//! Golden files: expected outputs kept in tests/golden/, compared exactly, so that every change to what jprov
//! prints (a template, a plan's wording) shows in review as a change to a file.
//!
//! `JPROV_UPDATE_GOLDEN=1 cargo test --test NAME` writes the actual outputs instead of comparing them; review
//! the diff (`git diff tests/golden`) before committing it.

use std::path::PathBuf;

/// Set to rewrite the golden files instead of comparing with them.
pub const UPDATE: &str = "JPROV_UPDATE_GOLDEN";

/// Whether this run rewrites the golden files. Never under tests/run.sh (`JPROV_TEST_REQUIRE_ALL`): a suite
/// that rewrote what it compares with would pass whatever jprov printed.
pub fn updating() -> bool {
    let updating = std::env::var_os(UPDATE).is_some_and(|v| !v.is_empty() && v != "0");
    assert!(
        !(updating && super::prereq::all_required()),
        "{UPDATE} is set under {}: rewrite golden files by hand (`{UPDATE}=1 cargo test --test NAME`), \
         never in the full suite",
        super::prereq::REQUIRE_ALL
    );
    updating
}

/// tests/golden/NAME in the source tree.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")).join(name)
}

/// Compare `actual` with tests/golden/NAME (or write it there when updating). The error holds a unified diff.
pub fn compare(name: &str, actual: &str) -> Result<(), String> {
    let file = path(name);
    if updating() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "cannot read the golden file {} ({e}); `{UPDATE}=1 cargo test` writes it",
            file.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "differs from the golden file {} (`{UPDATE}=1 cargo test` rewrites it):\n{}",
        file.display(),
        diff("golden", &expected, actual)
    ))
}

/// A unified diff of two texts, with three lines of context: `-` for `expected` (named `label`), `+` actual.
pub fn diff(label: &str, expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header(label, "actual")
        .missing_newline_hint(true)
        .to_string()
}
