//! The facts script's deferred contents. Encoding a file or a text where its record is printed costs one
//! `od` each, and a shared server's script has hundreds; so the script encodes all of them at the end with
//! one `od`, and a record's hex field says `@N` instead: blob N of that section. `expand` puts each blob's
//! hex back in its place before the lines are parsed, so no record needs to know.
//!
//! The section, before `end`:
//!
//! ```text
//! blob-sizes SIZE0 SIZE1 ...      (bytes, `stat -L -c %s` of the blobs' files)
//! blobs
//!  2f 65 74 63 ...                (od -An -v -tx1 of the files, in order: their bytes back to back)
//! blobs-end
//! ```
//!
//! The sizes cut the bytes apart. A file that changed size between the `stat` and the `od` leaves a total
//! that is not their sum: an error (`Changed`), never a wrong cut.

use std::borrow::Cow;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error(
        "a file changed while the facts script read it ({read} bytes read, {expected} expected): plan again"
    )]
    Changed { read: usize, expected: usize },
    #[error("the facts script's deferred contents are malformed: {0}")]
    Malformed(String),
}

/// `output` with every `@N` field replaced by blob N's hex and the blob section taken out; `output` itself
/// when it has no section and no `@N`.
pub fn expand(output: &str) -> Result<Cow<'_, str>, BlobError> {
    let Some(start) = find_line(output, "blob-sizes ") else {
        if output.split([' ', '\n']).any(is_reference) {
            return Err(BlobError::Malformed(
                "a record names a blob, but there is no blob section".into(),
            ));
        }
        return Ok(Cow::Borrowed(output));
    };
    let end = find_line(output, "blobs-end\n")
        .map(|at| at + "blobs-end\n".len())
        .ok_or_else(|| BlobError::Malformed("the blob section has no end".into()))?;
    if end < start {
        return Err(BlobError::Malformed(
            "the blob section ends before it starts".into(),
        ));
    }
    let blobs = cut(&output[start..end])?;
    let mut expanded = String::with_capacity(output.len() * 2);
    for line in output[..start].lines().chain(output[end..].lines()) {
        let mut fields = line.split(' ').peekable();
        while let Some(field) = fields.next() {
            match is_reference(field) {
                true => expanded.push_str(&hex::encode(blob(&blobs, field)?)),
                false => expanded.push_str(field),
            }
            if fields.peek().is_some() {
                expanded.push(' ');
            }
        }
        expanded.push('\n');
    }
    Ok(Cow::Owned(expanded))
}

/// The byte offset of the line of `output` that starts with `prefix`.
fn find_line(output: &str, prefix: &str) -> Option<usize> {
    if output.starts_with(prefix) {
        return Some(0);
    }
    output.find(&format!("\n{prefix}")).map(|at| at + 1)
}

fn is_reference(field: &str) -> bool {
    field.len() > 1 && field.starts_with('@') && field[1..].bytes().all(|b| b.is_ascii_digit())
}

fn blob<'a>(blobs: &'a [Vec<u8>], reference: &str) -> Result<&'a [u8], BlobError> {
    let n: usize = reference[1..]
        .parse()
        .map_err(|_| BlobError::Malformed(format!("blob number {reference}")))?;
    (blobs.get(n).map(Vec::as_slice)).ok_or_else(|| {
        BlobError::Malformed(format!("{reference}: there are {} blobs", blobs.len()))
    })
}

/// The blobs of a section (`blob-sizes ...`, `blobs`, od's lines, `blobs-end`), cut by their sizes.
fn cut(section: &str) -> Result<Vec<Vec<u8>>, BlobError> {
    let mut lines = section.lines();
    let sizes: Vec<usize> = (lines.next().unwrap_or("").split(' ').skip(1))
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| BlobError::Malformed(format!("blob size {s:?}")))
        })
        .collect::<Result<_, _>>()?;
    if lines.next() != Some("blobs") {
        return Err(BlobError::Malformed(
            "no `blobs` line after the sizes".into(),
        ));
    }
    let mut bytes = Vec::with_capacity(sizes.iter().sum());
    for line in lines.take_while(|l| *l != "blobs-end") {
        for pair in line.split_ascii_whitespace() {
            let byte = (pair.len() == 2)
                .then(|| u8::from_str_radix(pair, 16).ok())
                .flatten()
                .ok_or_else(|| BlobError::Malformed(format!("{pair:?} is not a byte in hex")))?;
            bytes.push(byte);
        }
    }
    let expected: usize = sizes.iter().sum();
    if bytes.len() != expected {
        return Err(BlobError::Changed {
            read: bytes.len(),
            expected,
        });
    }
    let mut rest = bytes.as_slice();
    Ok(sizes
        .iter()
        .map(|&size| {
            let (blob, after) = rest.split_at(size);
            rest = after;
            blob.to_vec()
        })
        .collect())
}

#[cfg(test)]
mod tests;
