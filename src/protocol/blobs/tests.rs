use super::*;

const SECTION: &str = "blob-sizes 2 0 3\nblobs\n 68 69 61\n 62 63\nblobs-end\n";

#[test]
fn each_reference_becomes_its_blobs_hex_and_the_section_goes() {
    let output = format!(
        "jprov-facts 1\nhome @0\nfile 2f78 file 644 root root @2\nbackups p @1\n{SECTION}end\n"
    );
    assert_eq!(
        expand(&output).unwrap(),
        "jprov-facts 1\nhome 6869\nfile 2f78 file 644 root root 616263\nbackups p \nend\n"
    );
}

#[test]
fn an_output_without_blobs_is_its_own_expansion() {
    let output = "jprov-facts 1\nunit user a@b.service enabled active\nend\n";
    assert!(matches!(expand(output).unwrap(), Cow::Borrowed(o) if o == output));
}

#[test]
fn a_size_that_changed_while_the_files_were_read_is_an_error_not_a_wrong_cut() {
    let grown = "blob-sizes 2 3\nblobs\n 68 69 61 62 63 64\nblobs-end\nend\n";
    assert_eq!(
        expand(grown).unwrap_err(),
        BlobError::Changed {
            read: 6,
            expected: 5
        }
    );
    let shrunk = "blob-sizes 2 3\nblobs\n 68 69 61\nblobs-end\nend\n";
    assert!(matches!(
        expand(shrunk),
        Err(BlobError::Changed { read: 3, .. })
    ));
}

#[test]
fn a_reference_without_its_blob_or_a_broken_section_is_malformed() {
    let cases = [
        "home @0\nend\n".to_string(),
        format!("home @3\n{SECTION}end\n"),
        "blob-sizes 1\nblobs\n 6g\nblobs-end\nend\n".into(),
        "blob-sizes 1\nblobs\n 61\nend\n".into(),
        "blob-sizes x\nblobs\nblobs-end\n".into(),
        "blob-sizes 1\n 61\nblobs-end\n".into(),
    ];
    for output in cases {
        assert!(
            matches!(expand(&output), Err(BlobError::Malformed(_))),
            "{output:?}: {:?}",
            expand(&output)
        );
    }
}
