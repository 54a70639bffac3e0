//! Profile errors: where (file, line, column, dotted field) and why, and never the offending value.
//!
//! serde's messages quote the value they refused (`invalid type: string "sha1:…", expected u32`,
//! ``unknown variant `…` ``), so a password hash written under the wrong key would be printed in full. They
//! are rewritten here to say what kind of value it was and what was expected, and nothing else.

use super::source::{is_field_name, Outline, Problem};
use serde_path_to_error::Segment;
use std::fmt;
use std::path::{Path, PathBuf};

/// A profile that could not be used, with where and why.
#[derive(Debug, PartialEq, Eq)]
pub struct ProfileError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProfileError {}

impl ProfileError {
    /// An error about the file as a whole.
    pub(super) fn whole(file: &Path, message: impl Into<String>) -> ProfileError {
        ProfileError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// An error about a field, at its line when the text has it.
    pub(super) fn at_field(
        file: &Path,
        outline: &Outline,
        field: &str,
        message: String,
    ) -> ProfileError {
        let (line, column) = outline.locate(field).unzip();
        ProfileError {
            file: file.to_path_buf(),
            line,
            column,
            field: Some(field.to_string()),
            message,
        }
    }

    pub(super) fn from_problem(file: &Path, problem: Problem) -> ProfileError {
        ProfileError {
            file: file.to_path_buf(),
            line: Some(problem.line),
            column: Some(problem.column),
            field: problem.field,
            message: problem.message,
        }
    }
}

pub(super) fn yaml_error(
    outline: &Outline,
    e: &serde_path_to_error::Error<serde_yaml::Error>,
    file: &Path,
) -> ProfileError {
    let inner = e.inner();
    let (dotted_field, _) = dotted(e.path());
    let message = in_the_users_words(
        &without_values(&strip_yaml_decorations(&inner.to_string())),
        &dotted_field,
    );
    let location = inner.location().map(|l| (l.line(), l.column()));
    let (mut field, complete) = dotted(e.path());
    if let Some(name) = duplicate_name(&message) {
        // serde reports a duplicate at the mapping that holds it; the reader wants the second key.
        let dotted = join(&field, name);
        // In a flow mapping the keys have no line of their own: where serde_yaml stopped, then.
        let at = outline.locate_duplicate(&dotted).or(location);
        let (line, column) = at.unzip();
        return ProfileError {
            file: file.to_path_buf(),
            line,
            column,
            field: Some(dotted),
            message,
        };
    }
    if !complete {
        // serde_path_to_error has `?` for what a syntax error interrupted; the outline may know the key.
        let on_line = location.and_then(|(line, _)| outline.field_on(line));
        if let Some(f) = on_line.filter(|f| f.starts_with(&field)) {
            field = f;
        }
    }
    if message.starts_with(MISINDENTED) {
        // The parser took the key for a child of the one above it: the reader meant its sibling.
        if let Some((parent, key)) = field.rsplit_once('.') {
            let grandparent = parent.rsplit_once('.').map_or("", |(g, _)| g);
            field = join(grandparent, key);
        }
        let (line, column) = location.unzip();
        return ProfileError {
            file: file.to_path_buf(),
            line,
            column,
            field: (!field.is_empty()).then_some(field),
            message,
        };
    }
    let located = outline.locate(&field);
    let (line, column) = match (located, location) {
        // An unknown key is reported where it stands, which serde_yaml knows and the path doesn't.
        (_, Some(at)) if message.starts_with("unknown field") => Some(at),
        (Some(at), _) => Some(at),
        (None, at) => at,
    }
    .unzip();
    ProfileError {
        file: file.to_path_buf(),
        line,
        column,
        field: (!field.is_empty()).then_some(field),
        message,
    }
}

/// serde_yaml appends " at line L column C" and may prefix its own path; both are printed up front instead.
fn strip_yaml_decorations(message: &str) -> String {
    let mut message = message.to_string();
    while let Some(start) = message.find(" at line ") {
        let rest = &message[start + " at line ".len()..];
        let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let line_len = digits(rest);
        let Some(after) = rest[line_len..].strip_prefix(" column ") else {
            break;
        };
        let end = start + " at line ".len() + line_len + " column ".len() + digits(after);
        message.replace_range(start..end, "");
    }
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.contains(' ') && !prefix.is_empty() && !rest.is_empty() {
            message = rest.to_string();
        }
    }
    message
}

/// The message without the value it quotes: serde's `invalid type`/`invalid value` name the kind of value
/// (`string "…"`, ``integer `5` ``), `unknown variant` the value itself, `unknown field` a key, which is
/// shown only when it looks like a field name.
fn without_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((unexpected, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            let kind = &unexpected[..unexpected.find(['"', '`']).unwrap_or(unexpected.len())];
            return format!("{prefix}{}, expected {expected}", kind.trim_end());
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        return match rest.rsplit_once("`, expected ") {
            Some((_, expected)) => format!("unknown value, expected {expected}"),
            None => "unknown value".into(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, tail) = rest
            .rsplit_once("`, expected ")
            .map(|(key, expected)| (key, format!(", expected {expected}")))
            .or_else(|| {
                rest.rsplit_once("`, there are no fields")
                    .map(|(k, _)| (k, String::new()))
            })
            .unwrap_or((rest, String::new()));
        if !is_field_name(key) {
            return format!("unknown field (its name is not shown){tail}");
        }
        if let Some(near) = nearest_field(key, &tail) {
            return format!("{message}; did you mean `{near}`?");
        }
    }
    message.to_string()
}

/// The expected field (from serde's ", expected `a`, `b` or `c`") a mistyped `key` most likely meant: at
/// most a third of its letters away, and at least one.
fn nearest_field<'a>(key: &str, expected: &'a str) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).max(1);
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|field| (strsim::damerau_levenshtein(key, field), field))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, field)| field)
}

const MISINDENTED: &str =
    "this line is not indented like the keys beside it (YAML nests by indentation): \
                           indent it with as many spaces as its neighbours";

/// serde's and the YAML parser's words for types and layout, in those of a profile's reader: "expected u32"
/// names the Rust type, not what the field holds; "did not find expected key" does not say indentation.
fn in_the_users_words(message: &str, field: &str) -> String {
    const LAYOUT: &str = "did not find expected key, while parsing a block mapping";
    if message.starts_with(LAYOUT) || message.starts_with("mapping values are not allowed") {
        return MISINDENTED.into();
    }
    let number = if field.ends_with("port") || field.ends_with("_port") {
        "a port number from 1 to 65535"
    } else if field.ends_with("days") {
        "a number of days"
    } else {
        "a whole number"
    };
    let expected = |e: &str| match e {
        "u32" | "u16" | "u64" => number.to_string(),
        "a boolean" => "true or false".to_string(),
        "a string" => "text".to_string(),
        other => other.to_string(),
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((kind, wanted)) =
            (message.strip_prefix(prefix)).and_then(|r| r.split_once(", expected "))
        {
            let kind = match kind.split_whitespace().next().unwrap_or(kind) {
                "sequence" => "a list",
                "map" => "a mapping",
                "string" => "text",
                "integer" if prefix == "invalid value: " => "a number out of range",
                "integer" => "a number",
                "floating" => "a decimal number",
                "boolean" => "true or false",
                "unit" => "empty",
                _ => "a value of another kind",
            };
            return format!("this is {kind}, but it must be {}", expected(wanted));
        }
    }
    message.to_string()
}

/// `duplicate field `port`` → `port`.
fn duplicate_name(message: &str) -> Option<&str> {
    message
        .strip_prefix("duplicate field `")?
        .strip_suffix('`')
        .filter(|name| is_field_name(name))
}

/// The dotted field of a serde path, and whether it is complete (all of its keys known and shown).
fn dotted(path: &serde_path_to_error::Path) -> (String, bool) {
    let mut field = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } if is_field_name(key) => {
                field = join(&field, key);
            }
            _ => return (field, false),
        }
    }
    (field, true)
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_their_values() {
        let hash = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";
        for (message, want) in [
            (
                format!("invalid type: string \"{hash}\", expected u32"),
                "invalid type: string, expected u32",
            ),
            (
                "invalid value: integer `-1`, expected u32".to_string(),
                "invalid value: integer, expected u32",
            ),
            (
                format!("unknown variant `{hash}`, expected `lab`, `notebook` or `server`"),
                "unknown value, expected `lab`, `notebook` or `server`",
            ),
            (
                format!("unknown field `{hash}`, expected `name` or `method`"),
                "unknown field (its name is not shown), expected `name` or `method`",
            ),
            (
                "unknown field `hots`, expected `host`".to_string(),
                "unknown field `hots`, expected `host`; did you mean `host`?",
            ),
            (
                "unknown field `identity_fle`, expected one of `host`, `port`, `identity_file`, `user`"
                    .to_string(),
                "unknown field `identity_fle`, expected one of `host`, `port`, `identity_file`, `user`; \
                 did you mean `identity_file`?",
            ),
            (
                "unknown field `colour`, expected `host` or `port`".to_string(),
                "unknown field `colour`, expected `host` or `port`",
            ),
        ] {
            assert_eq!(without_values(&message), want);
        }
        assert_eq!(
            strip_yaml_decorations(
                "server.port: found character that cannot start any token at line 8 column 1, while scanning"
            ),
            "found character that cannot start any token, while scanning"
        );
    }
}
