//! `access:`: the layers in front of Jupyter's own login, enforced by the method's web front (nginx for
//! nginx-proxy): HTTP basic auth and an IP allow-list. Their cross-field rules are `check_access`.

use super::{bounded_list, conflict, Conflict, Method, Profile, MAX_LIST_ENTRIES};
use crate::value::{Cidr, HtpasswdHash, UserName};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Access {
    /// HTTP basic auth in front of Jupyter: one account per Jupyter login. `Some(empty)` is refused.
    #[serde(
        default,
        deserialize_with = "bounded_optional_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub basic_auth: Option<Vec<BasicAuthAccount>>,
    /// The addresses and networks that may reach Jupyter at all; everyone else gets 403. `Some(empty)`
    /// (which would lock everyone out) is refused.
    #[serde(
        default,
        deserialize_with = "bounded_optional_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow: Option<Vec<Cidr>>,
}

/// One basic-auth account: a Jupyter login's username and the hash of its basic-auth password.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthAccount {
    pub username: UserName,
    pub htpasswd_hash: HtpasswdHash,
    /// Refused with a hint: present only so the error can point at it.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub password: Option<PlaintextBasicAuthPassword>,
}

impl Access {
    /// Whether the profile asks for no layer (the section is absent).
    pub fn is_empty(&self) -> bool {
        self.basic_auth.is_none() && self.allow.is_none()
    }

    /// The basic-auth accounts (none without `basic_auth`).
    pub fn accounts(&self) -> &[BasicAuthAccount] {
        self.basic_auth.as_deref().unwrap_or_default()
    }

    /// The allow-list (empty without `allow`: every address may connect).
    pub fn allowed(&self) -> &[Cidr] {
        self.allow.as_deref().unwrap_or_default()
    }
}

/// Never holds a value: a plaintext basic-auth password is always an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlaintextBasicAuthPassword {}

impl<'de> Deserialize<'de> for PlaintextBasicAuthPassword {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Err(serde::de::Error::custom(
            "plaintext passwords are refused; run `jprov hash-password --htpasswd` and put its output in \
             htpasswd_hash",
        ))
    }
}

/// A present list of at most `MAX_LIST_ENTRIES` (`bounded_list`); absent is `None`.
fn bounded_optional_list<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    bounded_list(deserializer).map(Some)
}

/// A layer of `access:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layer {
    BasicAuth,
    Allow,
}

impl Layer {
    fn field(self) -> &'static str {
        match self {
            Layer::BasicAuth => "access.basic_auth",
            Layer::Allow => "access.allow",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Layer::BasicAuth => "HTTP basic auth",
            Layer::Allow => "an IP allow-list",
        }
    }
}

/// Every method, to name those that enforce a layer. `enforcement` decides each one; a test checks this
/// list against the methods the profile accepts.
const METHODS: &[Method] = &[
    Method::ReverseForward,
    Method::NginxProxy,
    Method::LocalForward,
    Method::Lan,
    Method::Ngrok,
];

/// Whether `method` can enforce `layer`, or why not. No `_` arm: a new method must decide.
fn enforcement(method: Method, layer: Layer) -> Result<(), &'static str> {
    match (method, layer) {
        (Method::NginxProxy, Layer::BasicAuth | Layer::Allow) => Ok(()),
        (Method::ReverseForward, Layer::BasicAuth | Layer::Allow) => {
            Err("the forwarded port reaches Jupyter directly, with nothing in front of it to check")
        }
        // ngrok's `restrict-ips`, on the TCP source address at its edge.
        (Method::Ngrok, Layer::Allow) => Ok(()),
        (Method::Ngrok, Layer::BasicAuth) => Err(
            "ngrok's policy checks plaintext passwords, which the profile never holds: put `user:password` \
             lines in a file on the workstation and name it in ngrok.basic_auth_file",
        ),
        (Method::Lan, Layer::BasicAuth | Layer::Allow) => Err(
            "Jupyter listens on the LAN itself, with nothing in front of it to check (the workstation's \
             firewall is where addresses are kept out)",
        ),
        (Method::LocalForward, Layer::BasicAuth | Layer::Allow) => Err(
            "the laptop's own ssh forward reaches Jupyter on loopback: who may log in over SSH is the \
             layer there",
        ),
    }
}

/// The layers are ones the method enforces, each basic-auth account is a Jupyter login, once, with a hash
/// of its own.
pub(super) fn check_access(p: &Profile) -> Result<(), Conflict> {
    let access = &p.access;
    for (layer, given) in [
        (Layer::BasicAuth, access.basic_auth.as_ref().map(Vec::len)),
        (Layer::Allow, access.allow.as_ref().map(Vec::len)),
    ] {
        let Some(entries) = given else { continue };
        if let Err(why) = enforcement(p.method, layer) {
            let can: Vec<String> = (METHODS.iter())
                .filter(|m| enforcement(**m, layer).is_ok())
                .map(|m| format!("method {m}"))
                .collect();
            return conflict(
                &[layer.field(), "method"],
                format!(
                    "method {} cannot enforce {}: {why}; use {}",
                    p.method,
                    layer.what(),
                    can.join(" or ")
                ),
            );
        }
        if entries == 0 {
            let hint = match layer {
                Layer::BasicAuth => "an empty list would let nobody in; list accounts, or remove the key",
                Layer::Allow => {
                    "an empty allow-list would refuse every address; list some, or remove the key to \
                     allow every address"
                }
            };
            return conflict(&[layer.field()], hint);
        }
    }
    check_basic_auth_accounts(p)
}

fn check_basic_auth_accounts(p: &Profile) -> Result<(), Conflict> {
    let accounts = p.access.accounts();
    for (i, account) in accounts.iter().enumerate() {
        let is_login = account.username == p.workstation.user
            || (p.jupyter.collaborators.iter()).any(|c| c.username == account.username);
        if !is_login {
            return conflict(
                &[indexed_field(i, "username")],
                "this username is no Jupyter login: basic auth uses the same accounts as Jupyter \
                 (workstation.user, and each jupyter.collaborators[].username); add the person to \
                 jupyter.collaborators, or remove this account",
            );
        }
        if accounts[..i].iter().any(|o| o.username == account.username) {
            return conflict(
                &[indexed_field(i, "username")],
                "a second basic-auth account with this username; each login has one",
            );
        }
        if let Some(j) =
            (accounts[..i].iter()).position(|o| o.htpasswd_hash == account.htpasswd_hash)
        {
            return conflict(
                &[indexed_field(i, "htpasswd_hash")],
                format!(
                    "the same hash as access.basic_auth[{j}]: one hash pasted twice, which gives two people \
                     one password; run `jprov hash-password --htpasswd` for each"
                ),
            );
        }
    }
    Ok(())
}

/// `access.basic_auth[i].FIELD` as the `&'static str` a `Conflict` names: at most `MAX_LIST_ENTRIES`
/// accounts exist, each field made once.
fn indexed_field(i: usize, field: &str) -> &'static str {
    static FIELDS: std::sync::OnceLock<Vec<[String; 2]>> = std::sync::OnceLock::new();
    let fields = FIELDS.get_or_init(|| {
        (0..MAX_LIST_ENTRIES)
            .map(|i| {
                [
                    format!("access.basic_auth[{i}].username"),
                    format!("access.basic_auth[{i}].htpasswd_hash"),
                ]
            })
            .collect()
    });
    match field {
        "username" => &fields[i][0],
        _ => &fields[i][1],
    }
}

#[cfg(test)]
mod tests;
