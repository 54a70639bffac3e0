use super::*;

fn read(bytes: &[u8]) -> Result<Response, String> {
    read_response(&mut &bytes[..])
}

#[test]
fn responses_end_by_their_own_framing() {
    let r =
        read(b"HTTP/1.1 302 Found\r\nLocation: /tree\r\nContent-Length: 2\r\n\r\nokEXTRA").unwrap();
    assert_eq!(
        (r.status, r.location(), r.body.as_slice()),
        (302, "/tree", &b"ok"[..])
    );
    assert!(r.is_redirect());
    let r = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(r.body, b"abcde");
    let r = read(b"HTTP/1.1 200 OK\r\n\r\nuntil the end").unwrap();
    assert_eq!(r.body, b"until the end");
    let r = read(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\nx-a: 2\r\n\r\n").unwrap();
    assert_eq!(r.all("X-A").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(
        read(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").unwrap_err(),
        "the response was cut off"
    );
    assert!(read(b"").unwrap_err().contains("without a response"));
    assert!(read(b"SSH-2.0-OpenSSH_9.2\r\n")
        .unwrap_err()
        .contains("not an HTTP response"));
}

#[test]
fn cookies_keep_their_attributes() {
    let c = Cookie::parse(
        "username-x=\"2|abc\"; expires=Thu, 01 Jan 2099 00:00:00 GMT; HttpOnly; Path=/; Secure",
    )
    .unwrap();
    assert_eq!(
        (
            c.name.as_str(),
            c.value.as_str(),
            c.secure,
            c.http_only,
            c.removed
        ),
        ("username-x", "2|abc", true, true, false)
    );
    let c = Cookie::parse("_xsrf=2|x; Path=/").unwrap();
    assert!(!c.secure && !c.http_only);
    assert!(Cookie::parse("_xsrf=; Max-Age=0").unwrap().removed);
    assert!(Cookie::parse("a=1; max-age=0").unwrap().removed);
    assert_eq!(Cookie::parse("no equals sign"), None);
}
