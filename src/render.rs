//! Templates: every file jprov puts on a host is rendered from templates/, and so are the query loops of the
//! facts and check scripts (src/script.rs builds every script around them).
//!
//! Templates are compiled into the binary so that a copied `jprov` works on its own.

use minijinja::Environment;
use serde::Serialize;

/// The templates jprov knows, by name (the file name under templates/).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "sshd_dropin.conf",
        include_str!("../templates/sshd_dropin.conf.j2"),
    ),
    (
        "nginx_site.conf",
        include_str!("../templates/nginx_site.conf.j2"),
    ),
    (
        "nginx_htpasswd",
        include_str!("../templates/nginx_htpasswd.j2"),
    ),
    (
        "jupyter_server_config.py",
        include_str!("../templates/jupyter_server_config.py.j2"),
    ),
    (
        "authorized_key",
        include_str!("../templates/authorized_key.j2"),
    ),
    ("facts.sh", include_str!("../templates/facts.sh.j2")),
    ("check.sh", include_str!("../templates/check.sh.j2")),
    ("sshd_view.sh", include_str!("../templates/sshd_view.sh.j2")),
    (
        "tunnel.service",
        include_str!("../templates/tunnel.service.j2"),
    ),
    (
        "jupyter.service",
        include_str!("../templates/jupyter.service.j2"),
    ),
    (
        "fetch_certificate.sh",
        include_str!("../templates/fetch_certificate.sh.j2"),
    ),
    (
        "fetch_certificate.service",
        include_str!("../templates/fetch_certificate.service.j2"),
    ),
    (
        "fetch_certificate.timer",
        include_str!("../templates/fetch_certificate.timer.j2"),
    ),
    (
        "certbot_deploy_hook.sh",
        include_str!("../templates/certbot_deploy_hook.sh.j2"),
    ),
    ("ngrok.yml", include_str!("../templates/ngrok.yml.j2")),
    (
        "ngrok.service",
        include_str!("../templates/ngrok.service.j2"),
    ),
    (
        "assemble_ngrok_config.sh",
        include_str!("../templates/assemble_ngrok_config.sh.j2"),
    ),
    // `jprov init`'s files, on this machine.
    ("profile.yaml", include_str!("../templates/profile.yaml.j2")),
    ("gitignore", include_str!("../templates/gitignore.j2")),
];

/// Environment variable naming a directory whose `NAME.j2` files replace the built-in templates. For tests
/// that need a deliberately harmful configuration (proving the lockout guard) and for debugging.
pub const TEMPLATE_DIR_ENV: &str = "JPROV_TEMPLATE_DIR";

#[derive(Debug, thiserror::Error)]
#[error("rendering template {name}: {source}")]
pub struct RenderError {
    name: String,
    #[source]
    source: minijinja::Error,
}

/// The set of templates, ready to render.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        // Undefined variables are bugs in jprov, never something to render silently as "".
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("shell_quote", shell_quote);
        env.add_filter("systemd_quote", systemd_quote);
        env.add_filter("hex", |value: String| hex::encode(value));
        let overrides = std::env::var_os(TEMPLATE_DIR_ENV).map(std::path::PathBuf::from);
        for (name, source) in TEMPLATES {
            let replaced = overrides
                .as_ref()
                .and_then(|dir| std::fs::read_to_string(dir.join(format!("{name}.j2"))).ok());
            match replaced {
                Some(text) => env
                    .add_template_owned(name.to_string(), text)
                    .unwrap_or_else(|e| panic!("overriding template {name} does not parse: {e}")),
                None => env
                    .add_template(name, source)
                    .unwrap_or_else(|e| panic!("template {name} does not parse: {e}")),
            }
        }
        Templates { env }
    }

    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, RenderError> {
        let wrap = |source| RenderError {
            name: name.to_string(),
            source,
        };
        self.env
            .get_template(name)
            .map_err(wrap)?
            .render(context)
            .map_err(wrap)
    }
}

/// Quote a value for POSIX sh. Values are validated before rendering; quoting is the second fence.
fn shell_quote(value: String) -> Result<String, minijinja::Error> {
    shlex::try_quote(&value)
        .map(|q| q.into_owned())
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

/// Quote one word of a systemd unit setting (`ExecStart=`, `Environment=`): systemd splits on whitespace,
/// unquotes '"' and expands `%` specifiers and `$` variables, so those are quoted or doubled.
fn systemd_quote(value: String) -> String {
    let plain = !value.is_empty()
        && value != ";"
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '%' | '$'));
    if plain {
        return value;
    }
    let mut quoted = String::from("\"");
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '%' => quoted.push_str("%%"),
            '$' => quoted.push_str("$$"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::systemd_quote;

    #[test]
    fn systemd_words_are_quoted_only_when_needed() {
        assert_eq!(systemd_quote("-N".into()), "-N");
        assert_eq!(
            systemd_quote("UserKnownHostsFile=/home/a b/kh".into()),
            "\"UserKnownHostsFile=/home/a b/kh\""
        );
        assert_eq!(systemd_quote("100%$HOME".into()), "\"100%%$$HOME\"");
        assert_eq!(systemd_quote(r#"a"b\c"#.into()), r#""a\"b\\c""#);
        assert_eq!(systemd_quote(String::new()), "\"\"");
    }
}
