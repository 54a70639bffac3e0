use super::super::tests::{addresses, converge_from, converge_on, profile, queries, world};
use super::*;
use crate::plan::{self, Change, FileAction, Removal};
use crate::profile::{Access, BasicAuthAccount};

const DESTROY: Options = Options {
    start_tunnel: false,
    destroy: true,
};

/// The nginx-proxy example with basic auth for alice (a hash from jprov's own `--htpasswd` code) and an
/// allow-list.
fn with_layers(name: &str) -> (Profile, String) {
    let mut p = profile(name);
    let hash = crate::password::htpasswd::hash_password("alice's basic-auth password").unwrap();
    p.access = Access {
        basic_auth: Some(vec![BasicAuthAccount {
            username: "alice".to_string().try_into().unwrap(),
            htpasswd_hash: hash.clone().try_into().unwrap(),
            password: None,
        }]),
        allow: Some(vec!["10.0.0.0/8".to_string().try_into().unwrap()]),
    };
    (p, hash)
}

/// The server's nginx site group.
fn site_group(d: &DesiredState) -> &FileGroup {
    (d.host(Role::Server).items.iter())
        .find_map(|i| match i {
            Item::Files(g) if g.label == "nginx site" => Some(g),
            _ => None,
        })
        .expect("an nginx site")
}

fn plan_for(p: &Profile, server: &Facts, workstation: &Facts, options: Options) -> plan::Plan {
    let world = world(Some(server), Some(workstation));
    let desired = build(p, world, &Templates::new(), options).unwrap();
    match options.destroy {
        false => plan::compute("t", "m", &desired, world, &addresses()),
        true => plan::destroy::compute("t", "m", &desired, world, &addresses()),
    }
}

fn text(fact: &FileFact) -> String {
    match fact {
        FileFact::File { content, .. } => String::from_utf8_lossy(content).into_owned(),
        other => panic!("not a file: {other:?}"),
    }
}

#[test]
fn basic_auth_is_a_file_only_nginx_reads_written_and_validated_with_the_site() {
    let (p, hash) = with_layers("np");
    let l = Layout::new(&p);
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let group = site_group(&d);
    assert_eq!(
        (group.validate, group.reload),
        (Some(Validation::Nginx), Some(Service::Nginx))
    );
    let file = (group.files.iter())
        .find(|f| f.path == l.nginx_htpasswd)
        .expect("the htpasswd file is in the site's group");
    assert_eq!(l.nginx_htpasswd, "/etc/nginx/jprov-lab-proxy.htpasswd");
    assert_eq!(
        (file.mode, file.owner.as_str(), file.group.as_str()),
        (0o640, "root", "www-data")
    );
    let Content::Known(content) = &file.content else {
        panic!("known offline")
    };
    assert!(content.contains(&format!("\nalice:{hash}\n")), "{content}");
    // A plan shows the account, never its hash.
    let diff = crate::diff::unified(&file.path, None, content, file.secrecy);
    assert!(diff.contains("+alice: ********\n"), "{diff}");
    assert!(!diff.contains(&hash[7..]), "{diff}");
    assert_eq!(diff.matches("********").count(), 1, "{diff}");
    // Without basic auth (an allow-list alone) there is no such file.
    let mut allow_only = p.clone();
    allow_only.access.basic_auth = None;
    let d = build(
        &allow_only,
        World::default(),
        &Templates::new(),
        Options::default(),
    )
    .unwrap();
    assert!(site_group(&d)
        .files
        .iter()
        .all(|f| f.path != l.nginx_htpasswd));
}

#[test]
fn the_site_checks_both_layers_once_tls_is_up_and_reaches_a_fixed_point() {
    let (mut p, hash) = with_layers("np-ss");
    p.jupyter.base_url = "/lab/".to_string().try_into().unwrap();
    let (server, workstation, rounds) = converge_on(&p, Options::default(), true);
    assert!(rounds <= 4, "{rounds} rounds");
    let l = Layout::new(&p);
    let site = text(server.file(&l.nginx_available));
    // The redirect from / and the proxied base_url: allow-list, then basic auth, both required.
    let layers = "        satisfy all;\n        # access.allow: every other address is refused (403) before \
                  anything reaches Jupyter.\n        allow 10.0.0.0/8;\n        deny all;\n        # \
                  access.basic_auth: the same accounts as Jupyter's logins, each with its own password.\n        \
                  auth_basic \"Jupyter\";\n        auth_basic_user_file /etc/nginx/jprov-lab-proxy.htpasswd;\n";
    assert_eq!(site.matches(layers).count(), 2, "{site}");
    assert!(
        site.contains("try_files /.jprov-no-such-file @jprov_base_url;"),
        "{site}"
    );
    assert!(
        site.contains("proxy_set_header Authorization \"\";"),
        "{site}"
    );
    assert!(text(server.file(&l.nginx_htpasswd)).contains(&hash));
    let again = plan_for(&p, &server, &workstation, Options::default());
    assert_eq!(again.change_count(), 0, "{again}");
}

#[test]
fn basic_auth_taken_out_of_the_profile_leaves_no_hash_and_destroy_removes_the_file() {
    let (p, hash) = with_layers("np-ss");
    let l = Layout::new(&p);
    let (server, workstation, _) = converge_on(&p, Options::default(), true);
    let mut without = p.clone();
    without.access = Access::default();
    // The next plan empties the file (and the site no longer reads it), without showing the old hash.
    let plan = plan_for(&without, &server, &workstation, Options::default());
    let files: Vec<_> = (plan.hosts[Role::Server].changes.iter())
        .flat_map(|c| match c {
            Change::WriteFiles { files, .. } => files.clone(),
            _ => vec![],
        })
        .collect();
    let emptied = (files.iter())
        .find(|f| f.path == l.nginx_htpasswd)
        .expect("the htpasswd changes");
    assert!(
        matches!(emptied.action, FileAction::Update),
        "{:?}",
        emptied.action
    );
    assert!(
        emptied.diff.contains("-alice: ********"),
        "{}",
        emptied.diff
    );
    assert!(!emptied.diff.contains(&hash[7..]), "{}", emptied.diff);
    assert!(files.iter().any(|f| f.path == l.nginx_available));
    let (server, workstation, _) = converge_from(&without, Options::default(), server, workstation);
    let left = text(server.file(&l.nginx_htpasswd));
    assert!(!left.contains(':'), "{left}");
    assert!(!text(server.file(&l.nginx_available)).contains("auth_basic"));
    // destroy deletes it (apply created it), for the profile with or without basic auth.
    for profile in [&without, &p] {
        let plan = plan_for(profile, &server, &workstation, DESTROY);
        let deleted = (plan.hosts[Role::Server].changes.iter()).any(|c| {
            matches!(c, Change::RemoveFiles { files, .. }
                if files.iter().any(|f| f.path == l.nginx_htpasswd && matches!(f.how, Removal::Delete)))
        });
        assert!(deleted, "{plan}");
    }
}

#[test]
fn every_nginx_proxy_plan_asks_whether_an_htpasswd_file_was_left() {
    let p = profile("np");
    let l = Layout::new(&p);
    assert!(p.access.is_empty());
    assert!(queries(&p)[Role::Server].files.contains(&l.nginx_htpasswd));
}

#[test]
fn an_obscure_base_url_is_noted_once_on_the_workstation() {
    for name in ["rf", "np"] {
        let mut p = profile(name);
        let notes = |p: &Profile| {
            let d = build(p, World::default(), &Templates::new(), Options::default()).unwrap();
            Role::ALL.map(|role| {
                (d.host(role).notes.iter())
                    .filter(|n| n.starts_with("obscurity is not security"))
                    .count()
            })
        };
        assert_eq!(notes(&p), [0, 0], "{name} with base_url /");
        p.jupyter.base_url = crate::value::BaseUrl::unguessable([7; 16]);
        assert_eq!(notes(&p), [0, 1], "{name}");
    }
}

#[test]
fn cookies_are_secure_on_every_method_browsers_reach_over_tls() {
    for name in ["rf", "np"] {
        let p = profile(name);
        assert!(browsers_use_tls(p.method));
        let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
        let config = (d.host(Role::Workstation).items.iter())
            .find_map(|i| match i {
                Item::Files(g) => g
                    .files
                    .iter()
                    .find(|f| f.path.ends_with("jupyter_server_config.py")),
                _ => None,
            })
            .unwrap();
        let Content::Known(text) = &config.content else {
            panic!("known offline")
        };
        assert!(
            text.contains("\nc.IdentityProvider.secure_cookie = True\n"),
            "{text}"
        );
        assert!(
            text.contains("\"xsrf_cookie_kwargs\": {\"path\": '/', \"secure\": True}"),
            "{text}"
        );
    }
}
