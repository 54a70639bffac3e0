//! ngrok's agent configuration file, version 3, for what jprov renders: the documented schema, transcribed
//! as data (`TOP`), and a validator over the YAML as serde_yaml reads it. No v3 agent can be installed here
//! (`ngrok config check` would be the real check), so this is the check; each table says where it is from.
//!
//! Sources (ngrok's documentation, github.com/ngrok/ngrok-docs, read 2026-12):
//! - <https://ngrok.com/docs/agent/config/v3/>: the top-level fields (`version`, required, must be 3;
//!   `agent`, required; `endpoints`; `tunnels`, deprecated), the agent options and their values, the
//!   endpoint definitions (`name` and `upstream` required; `upstream.url` required; `upstream.protocol`
//!   `http1`/`http2`; `upstream.proxy_protocol` 1 or 2; `bindings` at most one of internal, public,
//!   kubernetes; `traffic_policy` a Traffic Policy document; `traffic_policy_file` in its examples).
//! - <https://ngrok.com/docs/traffic-policy/concepts/phases/> and `.../phase-rules/`: the phases
//!   (`on_tcp_connect`, `on_http_request`, `on_http_response`) and a rule's parts, `expressions` (CEL
//!   strings, optional) and `actions` (each a `type` and its `config`).
//! - <https://ngrok.com/docs/traffic-policy/actions/basic-auth/>: `credentials` (`username:password`
//!   strings; the first colon separates them; passwords of at least 8 and at most 128 characters),
//!   `realm` (at most 128 characters, ASCII only), `enforce` (bool); phase `on_http_request` only.
//! - <https://ngrok.com/docs/traffic-policy/actions/restrict-ips/>: `enforce` (bool), `allow` and `deny`
//!   (CIDR strings), `ip_policies` (IP policy ids).
//! - <https://ngrok.com/docs/traffic-policy/actions/remove-headers/>: `headers`, 1 to 10 header names;
//!   request and response phases.
//! - <https://ngrok.com/docs/universal-gateway/http/>: an `https://` URL's port must be 443; "if you would
//!   like to listen for both http and https traffic, create two endpoints" (so one `https://` endpoint
//!   serves no plain http).
//!
//! Only the action types jprov renders are transcribed (with every config key of each): another type is an
//! error here, not necessarily in ngrok.

use serde_yaml::Value;

/// What a field's value must be.
#[derive(Clone, Copy)]
pub enum Kind {
    Str,
    Bool,
    Int,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// `true`, `false`, or one of these strings (`console_ui: iftty`).
    BoolOr(&'static [&'static str]),
    /// `false` (off) or a string (`web_addr`, `log`).
    FalseOrStr,
    List(&'static Kind),
    Map(&'static [Field]),
    /// Checked by a function of its own (formats, action configs).
    Check(fn(&Value, &str, &mut Vec<String>)),
}

pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

/// The file: agent/config/v3 "Supported Fields".
pub const TOP: &[Field] = &[
    req("version", Kind::Check(version_is_3)),
    req("agent", Kind::Map(AGENT)),
    opt("endpoints", Kind::Check(endpoints)),
    opt("tunnels", Kind::Check(deprecated)),
];

/// agent/config/v3 "Agent Configuration Options", every one.
const AGENT: &[Field] = &[
    opt("api_key", Kind::Str),
    opt("authtoken", Kind::Str),
    opt("connect_cas", Kind::Str),
    opt("connect_interface", Kind::Str),
    opt("connect_timeout", Kind::Str),
    opt("connect_url", Kind::Str),
    opt("console_ui", Kind::BoolOr(&["iftty"])),
    opt("console_ui_color", Kind::OneOf(&["transparent", "black"])),
    opt("crl_noverify", Kind::Bool),
    opt("dns_resolver_ips", Kind::List(&Kind::Str)),
    opt("heartbeat_interval", Kind::Str),
    opt("heartbeat_tolerance", Kind::Str),
    opt("inspect_db_size", Kind::Int),
    opt(
        "log_level",
        Kind::OneOf(&["crit", "warn", "error", "info", "debug"]),
    ),
    opt("log_format", Kind::OneOf(&["logfmt", "json", "term"])),
    // stdout, stderr, false, or a file's path.
    opt("log", Kind::FalseOrStr),
    opt("metadata", Kind::Str),
    opt("proxy_url", Kind::Str),
    opt("remote_management", Kind::Bool),
    opt(
        "update_channel",
        Kind::OneOf(&["stable", "unstable", "beta"]),
    ),
    opt("update_check", Kind::Bool),
    opt("web_addr", Kind::FalseOrStr),
    opt("web_allow_hosts", Kind::List(&Kind::Str)),
];

/// agent/config/v3 "Endpoint Configuration Options".
const ENDPOINT: &[Field] = &[
    opt("agent_tls_termination", Kind::Map(AGENT_TLS_TERMINATION)),
    req("name", Kind::Str),
    opt("url", Kind::Check(endpoint_url)),
    opt("bindings", Kind::Check(bindings)),
    opt("metadata", Kind::Str),
    opt("description", Kind::Str),
    opt("traffic_policy", Kind::Map(POLICY)),
    opt("traffic_policy_file", Kind::Str),
    req("upstream", Kind::Map(UPSTREAM)),
];

const AGENT_TLS_TERMINATION: &[Field] = &[
    opt("mutual_tls_certificate_authorities", Kind::List(&Kind::Str)),
    opt("server_certificate", Kind::Str),
    opt("server_private_key", Kind::Str),
];

const UPSTREAM: &[Field] = &[
    req("url", Kind::Check(upstream_url)),
    opt("protocol", Kind::OneOf(&["http1", "http2"])),
    opt("proxy_protocol", Kind::Check(proxy_protocol)),
];

/// A Traffic Policy document: its phases, each a list of rules.
const POLICY: &[Field] = &[
    opt("on_tcp_connect", Kind::Check(on_tcp_connect)),
    opt("on_http_request", Kind::Check(on_http_request)),
    opt("on_http_response", Kind::Check(on_http_response)),
];

/// The actions transcribed, each with its config's fields and the phases it runs in.
struct Action {
    kind: &'static str,
    config: &'static [Field],
    phases: &'static [&'static str],
}

const ACTIONS: &[Action] = &[
    Action {
        kind: "basic-auth",
        config: &[
            opt("credentials", Kind::List(&Kind::Check(credential))),
            opt("realm", Kind::Check(realm)),
            opt("enforce", Kind::Bool),
        ],
        phases: &["on_http_request"],
    },
    Action {
        kind: "restrict-ips",
        config: &[
            opt("enforce", Kind::Bool),
            opt("allow", Kind::List(&Kind::Check(cidr))),
            opt("deny", Kind::List(&Kind::Check(cidr))),
            opt("ip_policies", Kind::List(&Kind::Str)),
        ],
        phases: &["on_tcp_connect", "on_http_request", "on_http_response"],
    },
    Action {
        kind: "remove-headers",
        config: &[req("headers", Kind::Check(header_names))],
        phases: &["on_http_request", "on_http_response"],
    },
];

/// Every way `doc` departs from the schema, each with the path of the value (`endpoints[0].upstream.url`).
pub fn validate(doc: &Value) -> Vec<String> {
    let mut errors = vec![];
    check(doc, &Kind::Map(TOP), "", &mut errors);
    errors
}

fn join(path: &str, key: &str) -> String {
    match path.is_empty() {
        true => key.to_string(),
        false => format!("{path}.{key}"),
    }
}

fn check(value: &Value, kind: &Kind, path: &str, errors: &mut Vec<String>) {
    let mut wrong = |what: &str| errors.push(format!("{path}: not {what}: {value:?}"));
    match kind {
        Kind::Str if !value.is_string() => wrong("a string"),
        Kind::Bool if !value.is_bool() => wrong("true or false"),
        Kind::Int if !value.is_i64() => wrong("an integer"),
        Kind::OneOf(words) if !value.as_str().is_some_and(|s| words.contains(&s)) => {
            wrong(&format!("one of {words:?}"))
        }
        Kind::BoolOr(words)
            if !value.is_bool() && !value.as_str().is_some_and(|s| words.contains(&s)) =>
        {
            wrong(&format!("true, false or one of {words:?}"))
        }
        Kind::FalseOrStr if value != &Value::Bool(false) && !value.is_string() => {
            wrong("false or a string")
        }
        Kind::List(item) => match value.as_sequence() {
            Some(items) => {
                for (i, v) in items.iter().enumerate() {
                    check(v, item, &format!("{path}[{i}]"), errors);
                }
            }
            None => wrong("a list"),
        },
        Kind::Map(fields) => check_map(value, fields, path, errors),
        Kind::Check(f) => f(value, path, errors),
        _ => {}
    }
}

fn check_map(value: &Value, fields: &[Field], path: &str, errors: &mut Vec<String>) {
    let Some(map) = value.as_mapping() else {
        errors.push(format!("{path}: not a mapping: {value:?}"));
        return;
    };
    for (key, v) in map {
        let Some(key) = key.as_str() else {
            errors.push(format!("{path}: a key that is not a string: {key:?}"));
            continue;
        };
        match fields.iter().find(|f| f.name == key) {
            Some(field) => check(v, &field.kind, &join(path, key), errors),
            None => errors.push(format!("{}: unknown field", join(path, key))),
        }
    }
    for field in fields.iter().filter(|f| f.required) {
        if !map.contains_key(field.name) {
            errors.push(format!("{}: required, missing", join(path, field.name)));
        }
    }
}

fn version_is_3(v: &Value, path: &str, errors: &mut Vec<String>) {
    if v.as_i64() != Some(3) && v.as_str() != Some("3") {
        errors.push(format!("{path}: must be 3: {v:?}"));
    }
}

fn deprecated(_: &Value, path: &str, errors: &mut Vec<String>) {
    errors.push(format!("{path}: deprecated in version 3: use endpoints"));
}

/// A list of endpoint definitions with unique names.
fn endpoints(v: &Value, path: &str, errors: &mut Vec<String>) {
    check(v, &Kind::List(&Kind::Map(ENDPOINT)), path, errors);
    let names: Vec<&str> = (v.as_sequence().into_iter().flatten())
        .filter_map(|e| e.get("name").and_then(Value::as_str))
        .collect();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            errors.push(format!(
                "{path}: the name {name:?} twice (names are unique)"
            ));
        }
    }
}

/// agent/config/v3 `url`: a domain, an origin (`scheme://host[:port]`), a scheme alone, or empty;
/// http and https endpoints take only their own port (universal-gateway/http).
fn endpoint_url(v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(url) = v.as_str() else {
        return errors.push(format!("{path}: not a string: {v:?}"));
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        if url.contains('/') || url.contains(':') {
            errors.push(format!(
                "{path}: neither a domain nor scheme://host[:port]: {url:?}"
            ));
        }
        return;
    };
    if !["https", "http", "tcp", "tls"].contains(&scheme) {
        errors.push(format!("{path}: unknown scheme {scheme:?}"));
    }
    if rest.contains('/') {
        errors.push(format!("{path}: an origin has no path: {url:?}"));
    }
    if let Some((_, port)) = rest.rsplit_once(':') {
        let own = match scheme {
            "https" => Some("443"),
            "http" => Some("80"),
            _ => None,
        };
        if own.is_some_and(|own| port != own) {
            errors.push(format!("{path}: {scheme} endpoints take only port {own:?}"));
        }
    }
}

fn bindings(v: &Value, path: &str, errors: &mut Vec<String>) {
    check(
        v,
        &Kind::List(&Kind::OneOf(&["internal", "public", "kubernetes"])),
        path,
        errors,
    );
    if v.as_sequence().is_some_and(|b| b.len() > 1) {
        errors.push(format!("{path}: at most one binding"));
    }
}

/// agent/config/v3 `upstream.url`: an origin, a domain, a scheme, or a port number.
fn upstream_url(v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(port) = v.as_u64() {
        if !(1..=65535).contains(&port) {
            errors.push(format!("{path}: not a port: {port}"));
        }
        return;
    }
    let Some(url) = v.as_str() else {
        return errors.push(format!("{path}: neither a string nor a port: {v:?}"));
    };
    if let Some((scheme, _)) = url.split_once("://") {
        if !["http", "https", "tcp", "tls", "file"].contains(&scheme) {
            errors.push(format!("{path}: unknown scheme {scheme:?}"));
        }
    }
}

fn proxy_protocol(v: &Value, path: &str, errors: &mut Vec<String>) {
    let ok = matches!(v.as_i64(), Some(1 | 2)) || matches!(v.as_str(), Some("1" | "2"));
    if !ok {
        errors.push(format!(
            "{path}: the PROXY protocol version is 1 or 2: {v:?}"
        ));
    }
}

fn on_tcp_connect(v: &Value, path: &str, errors: &mut Vec<String>) {
    rules(v, "on_tcp_connect", path, errors)
}

fn on_http_request(v: &Value, path: &str, errors: &mut Vec<String>) {
    rules(v, "on_http_request", path, errors)
}

fn on_http_response(v: &Value, path: &str, errors: &mut Vec<String>) {
    rules(v, "on_http_response", path, errors)
}

/// A phase's rules: `expressions` (optional) and `actions` (each a type and its config).
fn rules(v: &Value, phase: &str, path: &str, errors: &mut Vec<String>) {
    const RULE: &[Field] = &[
        opt("expressions", Kind::List(&Kind::Str)),
        req("actions", Kind::List(&Kind::Check(action_shape))),
    ];
    check(v, &Kind::List(&Kind::Map(RULE)), path, errors);
    for (i, rule) in v.as_sequence().into_iter().flatten().enumerate() {
        let actions = rule.get("actions").and_then(Value::as_sequence);
        for (j, action) in actions.into_iter().flatten().enumerate() {
            action_config(action, phase, &format!("{path}[{i}].actions[{j}]"), errors);
        }
    }
}

/// An action is a mapping of `type` and an optional `config`.
fn action_shape(v: &Value, path: &str, errors: &mut Vec<String>) {
    const SHAPE: &[Field] = &[req("type", Kind::Str), opt("config", Kind::Check(any_map))];
    check_map(v, SHAPE, path, errors);
}

fn any_map(v: &Value, path: &str, errors: &mut Vec<String>) {
    if !v.is_mapping() {
        errors.push(format!("{path}: not a mapping: {v:?}"));
    }
}

/// The action's config against its type's fields, in a phase the type runs in.
fn action_config(action: &Value, phase: &str, path: &str, errors: &mut Vec<String>) {
    let Some(kind) = action.get("type").and_then(Value::as_str) else {
        return;
    };
    let Some(known) = ACTIONS.iter().find(|a| a.kind == kind) else {
        return errors.push(format!(
            "{path}.type: no such action type (of those transcribed): {kind:?}"
        ));
    };
    if !known.phases.contains(&phase) {
        errors.push(format!("{path}: {kind} does not run in {phase}"));
    }
    let empty = Value::Mapping(Default::default());
    let config = action.get("config").unwrap_or(&empty);
    check_map(config, known.config, &join(path, "config"), errors);
}

/// basic-auth's `username:password`: the first colon separates them; a password of 8 to 128 characters.
fn credential(v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some((user, password)) = v.as_str().and_then(|c| c.split_once(':')) else {
        return errors.push(format!("{path}: not a user:password string"));
    };
    if user.is_empty() {
        errors.push(format!("{path}: no user name before ':'"));
    }
    let length = password.chars().count();
    if !(8..=128).contains(&length) {
        // The password's length only: a test's sample, but a credential all the same.
        errors.push(format!(
            "{path}: a password of {length} characters, not 8 to 128"
        ));
    }
}

fn realm(v: &Value, path: &str, errors: &mut Vec<String>) {
    let ok = v
        .as_str()
        .is_some_and(|r| r.is_ascii() && r.chars().count() <= 128);
    if !ok {
        errors.push(format!(
            "{path}: a realm is ASCII, at most 128 characters: {v:?}"
        ));
    }
}

fn cidr(v: &Value, path: &str, errors: &mut Vec<String>) {
    let parsed = v
        .as_str()
        .and_then(|c| c.split_once('/'))
        .and_then(|(ip, bits)| {
            let ip: std::net::IpAddr = ip.parse().ok()?;
            let bits: u8 = bits.parse().ok()?;
            (bits <= if ip.is_ipv4() { 32 } else { 128 }).then_some(())
        });
    if parsed.is_none() {
        errors.push(format!("{path}: not a CIDR (address/bits): {v:?}"));
    }
}

fn header_names(v: &Value, path: &str, errors: &mut Vec<String>) {
    check(v, &Kind::List(&Kind::Str), path, errors);
    let count = v.as_sequence().map_or(0, Vec::len);
    if !(1..=10).contains(&count) {
        errors.push(format!("{path}: 1 to 10 headers, not {count}"));
    }
}
