//! `[[federation.providers]]` is checked at start: an https issuer (FED-3), exactly
//! one client secret, unique well-formed ids; `openid` is always asked for (FED-2).

use std::io::Write as _;

use mcp_authz::config::{Settings, UpstreamClientAuth};
use secrecy::ExposeSecret as _;

const SERVER: &str = "[server]\nissuer = \"https://as.example\"\n";

/// A provider section with `fields` (one `key = value` a line).
fn provider(fields: &str) -> String {
    format!("[[federation.providers]]\n{fields}\n")
}

const GOOD: &str = "id = \"corp\"\nname = \"Corp\"\nissuer = \"https://idp.example\"\n\
                    client_id = \"b\"\nclient_secret = \"s3cret\"";

fn load(providers: &[String]) -> Result<Settings, String> {
    let mut layers = vec![SERVER.to_owned()];
    layers.extend_from_slice(providers);
    let layers: Vec<&str> = layers.iter().map(String::as_str).collect();
    Settings::from_toml_layers(&layers).map_err(|e| e.to_string())
}

/// Asserts the configuration is refused, naming the provider's `field`.
fn assert_refused(providers: &[String], field: &str) {
    let error = load(providers)
        .err()
        .unwrap_or_else(|| panic!("accepted: {providers:?}"));
    assert!(error.contains("federation.providers"), "{error}");
    assert!(error.contains(field), "expected {field:?} in {error}");
}

#[test]
fn fed_3_provider_config_is_accepted_with_openid_first() {
    let settings = load(&[provider(&format!(
        "{GOOD}\nscopes = [\"email\", \"openid\"]"
    ))])
    .unwrap();
    let [corp] = settings.upstream_providers.as_slice() else {
        panic!("one provider expected");
    };
    assert_eq!(corp.id, "corp");
    assert_eq!(corp.issuer.as_str(), "https://idp.example");
    let UpstreamClientAuth::Secret(secret) = &corp.client_auth else {
        panic!("a secret means client_secret_basic: {:?}", corp.client_auth);
    };
    assert_eq!(secret.expose_secret(), "s3cret");
    assert_eq!(corp.scopes, ["openid", "email"]);
    assert!(!corp.jit_provisioning, "provisioning is off by default");
}

#[test]
fn fed_3_provider_issuer_must_be_https() {
    let fields = |issuer: &str| provider(&GOOD.replace("https://idp.example", issuer));
    assert_refused(&[fields("http://idp.example")], "[0].issuer");
    // Not even loopback over http, and not with dev.loopback either.
    assert_refused(&[fields("http://127.0.0.1:8443")], "[0].issuer");
    let error =
        Settings::from_toml_layers(&["[dev]\nloopback = true\n", &fields("http://127.0.0.1:8443")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
    assert!(error.contains("[0].issuer"), "{error}");
    assert_refused(&[fields("https://idp.example/")], "[0].issuer");
    assert_refused(&[fields("not a url")], "[0].issuer");
}

#[test]
fn fed_3_provider_needs_exactly_one_client_secret() {
    let without = GOOD.replace("client_secret = \"s3cret\"", "");
    assert_refused(&[provider(&without)], "[0].client_secret");

    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"from-file\n").unwrap();
    let path = format!(
        "client_secret_file = {:?}",
        file.path().display().to_string()
    );
    assert_refused(&[provider(&format!("{GOOD}\n{path}"))], "[0].client_secret");

    let from_file = load(&[provider(&format!("{without}\n{path}"))]).unwrap();
    let UpstreamClientAuth::Secret(secret) = &from_file.upstream_providers[0].client_auth else {
        panic!("a secret file means client_secret_basic");
    };
    assert_eq!(secret.expose_secret(), "from-file");

    let missing = "client_secret_file = \"/nonexistent/mcp-authz-secret\"";
    assert_refused(
        &[provider(&format!("{without}\n{missing}"))],
        "[0].client_secret_file",
    );
    assert_refused(
        &[provider(
            &GOOD.replace("client_id = \"b\"", "client_id = \"\""),
        )],
        "[0].client_id",
    );
}

/// XAA-26: `private_key_jwt` at the provider needs no secret, and refuses one.
#[test]
fn xaa_26_provider_may_authenticate_with_our_keys() {
    let without = GOOD.replace("client_secret = \"s3cret\"", "");
    let keys = load(&[provider(&format!(
        "{without}\nclient_auth = \"private_key_jwt\""
    ))])
    .unwrap();
    assert!(matches!(
        keys.upstream_providers[0].client_auth,
        UpstreamClientAuth::PrivateKeyJwt
    ));
    assert_refused(
        &[provider(&format!(
            "{GOOD}\nclient_auth = \"private_key_jwt\""
        ))],
        "[0].client_secret",
    );
    assert_refused(
        &[provider(&format!(
            "{GOOD}\nclient_auth = \"client_secret_jwt\""
        ))],
        "[0].client_auth",
    );
    let explicit = load(&[provider(&format!(
        "{GOOD}\nclient_auth = \"client_secret_basic\""
    ))])
    .unwrap();
    assert!(matches!(
        explicit.upstream_providers[0].client_auth,
        UpstreamClientAuth::Secret(_)
    ));
}

#[test]
fn fed_3_provider_ids_are_unique_slugs() {
    let other = GOOD.replace("name = \"Corp\"", "name = \"Corp again\"");
    assert_refused(&[provider(GOOD) + &provider(&other)], "[1].id");
    for bad in [
        "",
        "Corp",
        "corp idp",
        "corp/idp",
        "corp_idp",
        &"a".repeat(33),
    ] {
        let fields = GOOD.replace("id = \"corp\"", &format!("id = \"{bad}\""));
        assert_refused(&[provider(&fields)], "[0].id");
    }
    let longest = GOOD.replace("id = \"corp\"", &format!("id = \"{}\"", "a".repeat(32)));
    assert!(load(&[provider(&longest)]).is_ok());
    assert_refused(
        &[provider(&GOOD.replace("name = \"Corp\"", "name = \" \""))],
        "[0].name",
    );
    assert_refused(
        &[provider(&format!("{GOOD}\nscopes = [\"a b\"]"))],
        "[0].scopes",
    );
}
