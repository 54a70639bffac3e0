//! The checks over HTTP, in the order a browser meets them: HSTS, the basic-auth layer, Jupyter's own
//! refusals (the API without a login, a wrong password), the login and its cookie, and a kernel that runs
//! code over its websocket and is shut down again. The login follows the form as JupyterLab's page
//! posts it (the `_xsrf` cookie and field, `Origin`, `Referer`), as tests/lab/laptop_check.py does.

use super::super::credentials::Credentials;
use super::super::http::{Auth, Client, Cookie, Endpoint, Response};
use super::super::report::Check;
use super::super::target::Target;
use super::super::websocket::{self, Failure};
use base64::Engine;

/// What `jprov plan` and `jprov apply` do about a server that is not as the profile says.
const CONVERGE: &str =
    "`jprov plan PROFILE` shows what differs on the hosts, `jprov apply PROFILE` puts it back";

/// The checks this module makes for `target`, in order (those not reached are reported skipped).
pub fn names(target: &Target) -> Vec<&'static str> {
    let mut names = vec![];
    if target.hsts {
        names.push("hsts");
    }
    if target.basic_auth {
        names.extend(["basic-auth", "basic-auth-login"]);
    }
    names.extend([
        "unauthenticated-api",
        "wrong-password",
        "login",
        "session-cookie",
        "kernel-start",
        "kernel-execute",
        "kernel-stop",
    ]);
    names
}

/// Every check of `names`, until one fails that the rest depend on.
pub fn all(
    target: &Target,
    endpoint: &Endpoint,
    credentials: &Credentials,
    checks: &mut Vec<Check>,
) {
    let mut client = Client::new(endpoint);
    if target.hsts {
        checks.push(hsts(&mut client));
    }
    if let Some((user, password)) = &credentials.basic_auth {
        let refused = basic_auth_refused(target, &mut client, user, password);
        let failed = !refused.passed();
        checks.push(refused);
        if failed {
            return;
        }
        let accepted = basic_auth_accepted(&mut client, user, password);
        let failed = !accepted.passed();
        checks.push(accepted);
        if failed {
            return;
        }
    }
    checks.push(unauthenticated(target, &mut client));
    checks.push(wrong_password(target, &client, credentials));
    let mut session = fresh(&client);
    let (login, cookies) = login(target, &mut session, credentials);
    let failed = !login.passed();
    checks.push(login);
    if failed {
        return;
    }
    checks.push(session_cookie(target, &cookies));
    kernel(&mut session, checks);
}

/// A client with `client`'s basic-auth credentials and no cookies.
fn fresh<'e>(client: &Client<'e>) -> Client<'e> {
    let mut fresh = Client::new(client.endpoint);
    fresh.authorization = client.authorization.clone();
    fresh
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// `status` with what it says about this set-up, for reasons.
fn shown(target: &Target, r: &Response) -> String {
    let mut s = r.status.to_string();
    if r.is_redirect() {
        s.push_str(&format!(" to {}", r.location()));
    }
    if r.status == 401
        && (r.header("WWW-Authenticate"))
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("basic"))
    {
        s.push_str(" with a basic-auth challenge");
        if !target.basic_auth {
            s.push_str(", which the profile has not got (access.basic_auth)");
        }
    }
    if r.status == 403 && target.allow_list {
        s.push_str(" (is this machine's address in access.allow?)");
    }
    s
}

fn hsts(client: &mut Client) -> Check {
    let response = match client.request("GET", "login", Auth::None, &[], b"") {
        Ok(response) => response,
        Err(e) => return Check::fail("hsts", format!("GET login: {e}"), CONVERGE),
    };
    let max_age = (response.header("Strict-Transport-Security")).and_then(|v| {
        v.split(';').find_map(|p| {
            p.trim()
                .strip_prefix("max-age=")?
                .trim_matches('"')
                .parse::<u64>()
                .ok()
        })
    });
    match max_age {
        Some(age) if age > 0 => Check::pass("hsts", format!("Strict-Transport-Security: max-age={age}")),
        _ => Check::fail(
            "hsts",
            format!("GET login answered {} without Strict-Transport-Security (max-age > 0)", response.status),
            format!("nginx-proxy's site sends it on every response (`add_header Strict-Transport-Security`): {CONVERGE}"),
        ),
    }
}

fn basic_auth_refused(target: &Target, client: &mut Client, user: &str, password: &str) -> Check {
    let wrong = basic(user, &format!("{password}-jprov-verify-wrong"));
    let mut seen = vec![];
    for (what, auth) in [
        ("without credentials", Auth::None),
        ("with a wrong password", Auth::Header(&wrong)),
    ] {
        match client.request("GET", "login", auth, &[], b"") {
            Ok(r) if r.status == 401 => seen.push(format!("401 {what}")),
            Ok(r) => {
                return Check::fail(
                    "basic-auth",
                    format!("GET login {what} answered {}, not 401: nothing asks for the basic auth the profile has", shown(target, &r)),
                    format!("the server's site lacks `auth_basic` (access.basic_auth): {CONVERGE}"),
                )
            }
            Err(e) => return Check::fail("basic-auth", format!("GET login {what}: {e}"), CONVERGE),
        }
    }
    Check::pass("basic-auth", seen.join(", "))
}

fn basic_auth_accepted(client: &mut Client, user: &str, password: &str) -> Check {
    client.authorization = Some(basic(user, password));
    match client.request("GET", "login", Auth::Own, &[], b"") {
        // Whatever Jupyter answers behind it, the layer let the request through.
        Ok(r) if !matches!(r.status, 401 | 403) => {
            Check::pass("basic-auth-login", format!("{user}'s credentials pass (GET login: {})", r.status))
        }
        Ok(r) if r.status == 403 => Check::fail(
            "basic-auth-login",
            format!("GET login with {user}'s basic-auth credentials answered 403"),
            "this machine's address is not in the profile's access.allow, or the site differs from jprov's \
             (`jprov plan PROFILE`)",
        ),
        Ok(r) => Check::fail(
            "basic-auth-login",
            format!("GET login with {user}'s basic-auth credentials answered {}", r.status),
            "the user or password in --basic-auth-file is not one the server's htpasswd file has (the \
             profile's access.basic_auth holds its hashes; `jprov apply PROFILE` writes them)",
        ),
        Err(e) => Check::fail("basic-auth-login", format!("GET login: {e}"), CONVERGE),
    }
}

fn unauthenticated(target: &Target, client: &mut Client) -> Check {
    let name = "unauthenticated-api";
    match client.request("GET", "api/kernels", Auth::Own, &[], b"") {
        Ok(r) if matches!(r.status, 401 | 403) || (r.is_redirect() && r.location().contains("login")) => {
            Check::pass(name, format!("GET api/kernels without a login: {}", shown(target, &r)))
        }
        Ok(r) => Check::fail(
            name,
            format!("GET api/kernels without a login answered {}: Jupyter serves its API to anyone", shown(target, &r)),
            format!(
                "the config on the workstation must require the password (jprov's sets \
                 `PasswordIdentityProvider.password_required = True`, a hash and no token): {CONVERGE}, and \
                 restarts Jupyter"
            ),
        ),
        Err(e) => Check::fail(name, format!("GET api/kernels: {e}"), CONVERGE),
    }
}

/// GET login (for the `_xsrf` cookie), then POST the form; the POST's response.
fn post_login(
    client: &mut Client,
    password: &str,
    username: Option<&str>,
) -> Result<Response, String> {
    let page = client.request("GET", "login", Auth::Own, &[], b"")?;
    let xsrf = match (page.status, client.cookie("_xsrf")) {
        (200, Some(cookie)) => cookie.value.clone(),
        (200, None) => return Err("GET login set no _xsrf cookie".into()),
        (404, _) => {
            return Err(
                "GET login answered 404: Jupyter has no login page, so no password is set".into(),
            )
        }
        (status, _) => return Err(format!("GET login answered {status}")),
    };
    let mut form = vec![("_xsrf", xsrf.as_str()), ("password", password)];
    form.extend(username.map(|u| ("username", u)));
    let body = form_encode(&form);
    let origin = client.endpoint.url.origin();
    let referer = format!("{origin}{}login", client.endpoint.url.base);
    let headers = [
        (
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("Origin", origin),
        ("Referer", referer),
    ];
    client.request("POST", "login", Auth::Own, &headers, body.as_bytes())
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether GET api/kernels answers 200 with `client`'s cookies.
fn logged_in(client: &mut Client) -> Result<bool, String> {
    Ok(client
        .request("GET", "api/kernels", Auth::Own, &[], b"")?
        .status
        == 200)
}

fn wrong_password(target: &Target, client: &Client, credentials: &Credentials) -> Check {
    let name = "wrong-password";
    let mut client = fresh(client);
    let wrong = format!("jprov-verify-wrong-{}", &random_token());
    let refused = post_login(&mut client, &wrong, credentials.username.as_deref())
        .and_then(|r| Ok((logged_in(&mut client)?, r)));
    match refused {
        Ok((false, r)) => Check::pass(name, format!("a wrong password is refused (POST login: {})", shown(target, &r))),
        Ok((true, r)) => Check::fail(
            name,
            format!("a wrong password logged in (POST login: {}), api/kernels answered 200", shown(target, &r)),
            format!("the config on the workstation must check the password: {CONVERGE}, and restarts Jupyter"),
        ),
        Err(e) => Check::fail(name, e, CONVERGE),
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).expect("the operating system gives random bytes");
    hex::encode(bytes)
}

/// The login, and the cookies its response set.
fn login(target: &Target, client: &mut Client, credentials: &Credentials) -> (Check, Vec<Cookie>) {
    let name = "login";
    let posted = post_login(
        client,
        &credentials.password,
        credentials.username.as_deref(),
    );
    let response = match posted {
        Ok(r) => r,
        Err(e) => return (Check::fail(name, e, CONVERGE), vec![]),
    };
    let cookies: Vec<Cookie> = response
        .all("Set-Cookie")
        .filter_map(Cookie::parse)
        .collect();
    let fix =
        "the password (and --username, for a collaborator) must be the one whose hash the profile \
               has; `jprov plan PROFILE` shows a config on the workstation that differs";
    if !response.is_redirect() || response.location().contains("/login") {
        let reason = format!(
            "POST login answered {}: the password was refused",
            shown(target, &response)
        );
        return (Check::fail(name, reason, fix), cookies);
    }
    match logged_in(client) {
        Ok(true) => {
            let reason = format!(
                "the password is accepted ({}), api/kernels answers 200",
                shown(target, &response)
            );
            (Check::pass(name, reason), cookies)
        }
        Ok(false) => (
            Check::fail(
                name,
                "after the login, GET api/kernels is still refused",
                fix,
            ),
            cookies,
        ),
        Err(e) => (
            Check::fail(name, format!("GET api/kernels: {e}"), CONVERGE),
            cookies,
        ),
    }
}

/// The login cookie `HttpOnly`, and with TLS both it and `_xsrf` `Secure`.
fn session_cookie(target: &Target, set: &[Cookie]) -> Check {
    let name = "session-cookie";
    let Some(session) = set.iter().find(|c| c.name != "_xsrf" && !c.removed) else {
        return Check::fail(name, "the login set no session cookie", CONVERGE);
    };
    let mut wrong = vec![];
    if !session.http_only {
        wrong.push(format!("{} lacks HttpOnly", session.name));
    }
    if target.secure_cookies && !session.secure {
        wrong.push(format!("{} lacks Secure", session.name));
    }
    let xsrf = set.iter().find(|c| c.name == "_xsrf");
    if target.secure_cookies && xsrf.is_some_and(|c| !c.secure) {
        wrong.push("_xsrf lacks Secure".to_string());
    }
    if !wrong.is_empty() {
        return Check::fail(
            name,
            wrong.join(", "),
            format!("jprov's config sets `IdentityProvider.secure_cookie` and the _xsrf cookie's `secure` where browsers use TLS: {CONVERGE}"),
        );
    }
    let flags = if target.secure_cookies {
        "Secure, HttpOnly"
    } else {
        "HttpOnly (plain http to localhost: no Secure)"
    };
    Check::pass(name, format!("{}: {flags}", session.name))
}

/// Start a kernel, run code over its websocket, shut it down (also when the code did not run).
fn kernel(client: &mut Client, checks: &mut Vec<Check>) {
    let url = &client.endpoint.url;
    let headers = [
        (
            "X-XSRFToken",
            client
                .cookie("_xsrf")
                .map(|c| c.value.clone())
                .unwrap_or_default(),
        ),
        ("Content-Type", "application/json".to_string()),
        ("Origin", url.origin()),
        ("Referer", format!("{}{}", url.origin(), url.base)),
    ];
    let id = match start(client, &headers) {
        Ok(id) => id,
        Err(e) => return checks.push(Check::fail("kernel-start", e, CONVERGE)),
    };
    checks.push(Check::pass("kernel-start", format!("kernel {id} started")));
    checks.push(match websocket::execute(client, &id, "print(6*7)", "42") {
        Ok(output) => Check::pass(
            "kernel-execute",
            format!("print(6*7) over the kernel websocket printed {output:?}"),
        ),
        Err(failure) => execute_failed(failure),
    });
    checks.push(
        match client.request(
            "DELETE",
            &format!("api/kernels/{id}"),
            Auth::Own,
            &headers,
            b"",
        ) {
            Ok(r) if matches!(r.status, 200 | 204) => Check::pass(
                "kernel-stop",
                format!("kernel {id} shut down ({})", r.status),
            ),
            Ok(r) => Check::fail(
                "kernel-stop",
                format!("DELETE api/kernels/{id} answered {}", r.status),
                CONVERGE,
            ),
            Err(e) => Check::fail(
                "kernel-stop",
                format!("DELETE api/kernels/{id}: {e}"),
                CONVERGE,
            ),
        },
    );
}

fn start(client: &mut Client, headers: &[(&str, String)]) -> Result<String, String> {
    let r = client.request("POST", "api/kernels", Auth::Own, headers, b"{}")?;
    if !matches!(r.status, 200 | 201) {
        return Err(format!("POST api/kernels answered {}", r.status));
    }
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let id = body["id"]
        .as_str()
        .ok_or("POST api/kernels answered without a kernel id")?;
    // A kernel id names a URL path: only what Jupyter's ids hold (a UUID) goes into one.
    match id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        true => Ok(id.to_string()),
        false => Err("POST api/kernels answered an id that is not a UUID".into()),
    }
}

fn execute_failed(failure: Failure) -> Check {
    match failure {
        Failure::Refused(400) => Check::fail(
            "kernel-execute",
            "the websocket upgrade was answered 400: Jupyter did not get the Upgrade and Connection headers, \
             which something on the way dropped (login and starting a kernel work without them, kernels \
             hang at \"connecting\")",
            format!(
                "a proxy must pass them on (nginx: `proxy_http_version 1.1`, `proxy_set_header Upgrade \
                 $http_upgrade`, `proxy_set_header Connection` from a map, as jprov's site has): {CONVERGE}"
            ),
        ),
        Failure::Refused(status) => Check::fail(
            "kernel-execute",
            format!("the websocket upgrade was answered {status}"),
            format!("403: Jupyter refused the Origin or Host the browser sends (a proxy must keep `Host` with its port): {CONVERGE}"),
        ),
        Failure::Other(why) => Check::fail("kernel-execute", why, CONVERGE),
    }
}
