use super::super::tests::profile;
use super::super::*;
use super::*;

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
