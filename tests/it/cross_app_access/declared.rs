//! XAA-18: trusted IdPs declared in the configuration file. At start-up each is
//! created, or brought back in line with the file when its issuer is already trusted;
//! an unchanged IdP is not rewritten, IdPs made through the API stay as they are, and
//! a declaration that cannot apply stops the start with the offending member named.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{IdpKey, Jwt, Xaa, assert_token, jwks};
use crate::both_backends;
use crate::cimd::audit_events;
use crate::harness::flow::RESOURCE;
use crate::harness::{Backend, TestApp};

const DECLARED_ISSUER: &str = "https://login.declared-idp.example";

/// The IdP's view whose issuer is `issuer`, from the admin API's list.
async fn idp_named(app: &TestApp, issuer: &str) -> Value {
    let listed = app
        .admin_ok(Method::GET, "/admin/api/v1/idps", None, StatusCode::OK)
        .await;
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|idp| idp["issuer"] == issuer)
        .unwrap_or_else(|| panic!("{issuer} is not trusted: {listed}"))
        .clone()
}

async fn xaa_18_trusted_idps_are_declared_in_the_configuration(backend: Backend) {
    let mut xaa = Xaa::new(TestApp::spawn(backend).await).await;
    let key = IdpKey::es256("declared-1");
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = dir.path().join("declared.jwks.json");
    std::fs::write(&jwks_file, jwks(&[&key]).to_string()).unwrap();
    let declared = format!(
        "[[trusted_idps]]\nissuer = \"{DECLARED_ISSUER}\"\nname = \"Declared IdP\"\n\
         jwks_file = \"{file}\"\njit_provisioning = true\nscope = \"tools:read\"\nallowed_resources = [\"{RESOURCE}\"]\n\
         clients = [{{ client_id = \"{client}\", idp_client_id = \"0oa-declared\" }}]\n",
        file = jwks_file.display(),
        client = xaa.client_id,
    );
    xaa.app.set_extra_toml(&declared);
    xaa.app.restart().await;

    let idp = idp_named(&xaa.app, DECLARED_ISSUER).await;
    assert_eq!(idp["name"], "Declared IdP", "{idp}");
    assert_eq!(idp["scope"], "tools:read", "{idp}");
    assert_eq!(idp["allowed_resources"], json!([RESOURCE]), "{idp}");
    assert_eq!(idp["enabled"], true, "{idp}");
    assert_eq!(idp["jit_provisioning"], true, "{idp}");
    assert_eq!(idp["allow_public_clients"], false, "{idp}");
    assert_eq!(idp["jwks"], jwks(&[&key]), "{idp}");
    // The IdP made through the API is still there, untouched.
    assert_eq!(
        idp_named(&xaa.app, super::IDP_ISSUER).await["name"],
        "Corp IdP"
    );
    let created = audit_events(&xaa.app, "idp.created").await;
    let by_config: Vec<_> = created.iter().filter(|e| e.actor == "config").collect();
    assert_eq!(by_config.len(), 1, "{created:?}");
    assert_eq!(by_config[0].target_id, idp["idp_id"].as_str().unwrap());

    // Its ID-JAGs are redeemed like any trusted IdP's (the file's client mapping).
    let jwt = Jwt::id_jag(&xaa.app, &key, "0oa-declared")
        .claim("iss", json!(DECLARED_ISSUER))
        .jwt();
    let token = assert_token(&xaa.redeem(&jwt).await);
    assert_eq!(token["scope"], "tools:read", "{token}");

    // A restart with the same file writes nothing.
    xaa.app.restart().await;
    assert!(audit_events(&xaa.app, "idp.updated").await.is_empty());

    // Changed through the API, the declared IdP is put back in line at the next start.
    let path = format!("/admin/api/v1/idps/{}", idp["idp_id"].as_str().unwrap());
    let off = json!({"enabled": false, "scope": "tools:read tools:call"});
    xaa.app
        .admin_ok(Method::PATCH, &path, Some(off), StatusCode::OK)
        .await;
    xaa.app.restart().await;
    let again = idp_named(&xaa.app, DECLARED_ISSUER).await;
    assert_eq!(again["enabled"], true, "{again}");
    assert_eq!(again["scope"], "tools:read", "{again}");
    let updated = audit_events(&xaa.app, "idp.updated").await;
    let actors: Vec<&str> = updated.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(actors, ["bootstrap-token", "config"], "{updated:?}");
    xaa.finish().await;
}

/// A declaration naming an unknown client, or a keys file that is not JSON, stops the
/// start with the member named; nothing is created.
async fn xaa_18_unusable_declaration_stops_the_start(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "not json").unwrap();
    let cases = [
        (
            format!(
                "[[trusted_idps]]\nissuer = \"{DECLARED_ISSUER}\"\njwks_uri = \"{DECLARED_ISSUER}/keys\"\n\
                 clients = [{{ client_id = \"cli_missing\" }}]\n"
            ),
            "trusted_idps[0].clients[0].client_id",
        ),
        (
            format!(
                "[[trusted_idps]]\nissuer = \"{DECLARED_ISSUER}\"\njwks_file = \"{}\"\n",
                broken.display()
            ),
            "trusted_idps[0].jwks_file",
        ),
    ];
    for (toml, named) in cases {
        app.set_extra_toml(&toml);
        let error = match app.try_restart().await {
            Ok(()) => panic!("started with {toml}"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains(named), "{named}: {error}");
    }
    app.set_extra_toml("");
    app.restart().await;
    let listed = app
        .admin_ok(Method::GET, "/admin/api/v1/idps", None, StatusCode::OK)
        .await;
    assert_eq!(listed["items"], json!([]), "{listed}");
    app.finish().await;
}

both_backends!(
    backend: xaa_18_trusted_idps_are_declared_in_the_configuration,
    xaa_18_unusable_declaration_stops_the_start,
);
