//! Trusted IdPs through the admin API (XAA-18, XAA-25) and what metadata says about
//! them (XAA-2): everything configurable, validated field by field, and never public.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{IDP_ISSUER, IdpKey, JWT_BEARER, Xaa, assert_refused, create_idp, jwks, secret_client};
use crate::both_backends;
use crate::harness::flow::{OTHER_RESOURCE, RESOURCE};
use crate::harness::{TestApp, assert_api_error};

const IDPS: &str = "/admin/api/v1/idps";

/// `view` with `allowed_resources` sorted: the API keeps them as a set.
fn normalized(mut view: Value) -> Value {
    if let Some(list) = view["allowed_resources"].as_array_mut() {
        list.sort_by_key(|r| r.as_str().map(str::to_owned));
    }
    view
}

async fn xaa_18_idp_is_created_read_listed_changed_and_deleted(app: TestApp) {
    super::servers(&app).await;
    let (client_id, _) = secret_client(&app, json!({})).await;
    let key = IdpKey::rs256("idp-rsa-1");
    let created = create_idp(
        &app,
        json!({
            "issuer": IDP_ISSUER, "name": "Corp IdP", "jwks": jwks(&[&key]),
            "algorithms": ["RS256"], "tenant": "acme", "scope": "tools:read",
            "allowed_resources": [RESOURCE],
            "clients": [{"client_id": client_id, "idp_client_id": "0oa5agent7xq"}],
        }),
    )
    .await;
    let id = created["idp_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("idp_"), "{created}");
    let expected = json!({
        "idp_id": id, "issuer": IDP_ISSUER, "name": "Corp IdP", "jwks": jwks(&[&key]),
        "algorithms": ["RS256"], "tenant": "acme", "scope": "tools:read",
        "allowed_resources": [RESOURCE],
        "clients": [{"client_id": client_id, "idp_client_id": "0oa5agent7xq"}],
        "allow_public_clients": false, "jit_provisioning": false,
        "link_verified_email": false, "enabled": true,
        "created_at": crate::harness::START, "updated_at": crate::harness::START,
    });
    assert_eq!(created, expected);
    let path = format!("{IDPS}/{id}");
    let read = app.admin_ok(Method::GET, &path, None, StatusCode::OK).await;
    assert_eq!(read, expected);
    let listed = app.admin_ok(Method::GET, IDPS, None, StatusCode::OK).await;
    assert_eq!(listed["items"], json!([expected]), "{listed}");

    // Defaults: name = issuer, every asymmetric algorithm, no limits.
    let minimal = create_idp(
        &app,
        json!({"issuer": "https://idp.minimal.example", "jwks_uri": "https://idp.minimal.example/keys"}),
    )
    .await;
    assert_eq!(minimal["name"], "https://idp.minimal.example", "{minimal}");
    assert_eq!(
        minimal["jwks_uri"], "https://idp.minimal.example/keys",
        "{minimal}"
    );
    assert!(minimal.get("jwks").is_none(), "{minimal}");
    let algorithms: Vec<&str> = minimal["algorithms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for alg in ["ES256", "RS256", "PS256", "EdDSA"] {
        assert!(algorithms.contains(&alg), "{minimal}");
    }
    assert!(
        !algorithms
            .iter()
            .any(|a| a.starts_with("HS") || *a == "none")
    );
    for (member, value) in [
        ("tenant", Value::Null),
        ("scope", Value::Null),
        ("allowed_resources", Value::Null),
        ("clients", json!([])),
        ("jit_provisioning", json!(false)),
        ("link_verified_email", json!(false)),
        ("allow_public_clients", json!(false)),
        ("enabled", json!(true)),
    ] {
        assert_eq!(minimal[member], value, "{member}: {minimal}");
    }
    let listed = app.admin_ok(Method::GET, IDPS, None, StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");

    let patched = app
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({
                "name": "Corp IdP (EU)", "jwks_uri": "https://login.corp-idp.example/keys",
                "algorithms": ["ES256", "RS256"], "tenant": null, "scope": null,
                "allowed_resources": [RESOURCE, OTHER_RESOURCE], "clients": [],
                "allow_public_clients": true, "jit_provisioning": true, "enabled": false,
                "link_verified_email": true,
            })),
            StatusCode::OK,
        )
        .await;
    let mut changed = expected.clone();
    for (member, value) in [
        ("name", json!("Corp IdP (EU)")),
        ("jwks_uri", json!("https://login.corp-idp.example/keys")),
        ("algorithms", json!(["ES256", "RS256"])),
        ("tenant", Value::Null),
        ("scope", Value::Null),
        ("allowed_resources", json!([RESOURCE, OTHER_RESOURCE])),
        ("clients", json!([])),
        ("allow_public_clients", json!(true)),
        ("jit_provisioning", json!(true)),
        ("link_verified_email", json!(true)),
        ("enabled", json!(false)),
    ] {
        changed[member] = value;
    }
    changed.as_object_mut().unwrap().remove("jwks");
    assert_eq!(normalized(patched), normalized(changed.clone()));
    let read = app.admin_ok(Method::GET, &path, None, StatusCode::OK).await;
    assert_eq!(normalized(read), normalized(changed.clone()));
    // An empty patch changes nothing; `allowed_resources: null` means every server.
    let same = app
        .admin_ok(Method::PATCH, &path, Some(json!({})), StatusCode::OK)
        .await;
    assert_eq!(normalized(same), normalized(changed));
    let all = app
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({"allowed_resources": null})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(all["allowed_resources"], Value::Null, "{all}");

    app.admin_ok(Method::DELETE, &path, None, StatusCode::NO_CONTENT)
        .await;
    let gone = app.admin(Method::GET, &path, None).await;
    assert_api_error(gone, StatusCode::NOT_FOUND, "not_found", None).await;
    let gone = app.admin(Method::DELETE, &path, None).await;
    assert_api_error(gone, StatusCode::NOT_FOUND, "not_found", None).await;
    let gone = app
        .admin(Method::PATCH, &path, Some(json!({"name": "x"})))
        .await;
    assert_api_error(gone, StatusCode::NOT_FOUND, "not_found", None).await;
    let listed = app.admin_ok(Method::GET, IDPS, None, StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    // The API is for administrators only.
    let anonymous = app.request(Method::GET, IDPS).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let anonymous = app
        .request(Method::POST, IDPS)
        .json(&json!({"issuer": "https://x.example", "jwks_uri": "https://x.example/k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

/// XAA-18, XAA-25: invalid configurations are refused with the field at fault.
async fn xaa_18_invalid_idp_is_refused_with_the_field(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let app = &xaa.app;
    let key = IdpKey::es256("k");
    let valid = json!({"issuer": "https://new-idp.example", "jwks": jwks(&[&key])});
    let with = |members: Value| {
        let mut body = valid.clone();
        for (name, value) in members.as_object().unwrap() {
            body[name] = value.clone();
        }
        body
    };
    let mut private = key.jwk();
    private["d"] = json!("c2VjcmV0");
    let cases = [
        (with(json!({"issuer": app.issuer})), "issuer"),
        (
            with(json!({"issuer": format!("{}/", app.issuer)})),
            "issuer",
        ),
        (with(json!({"issuer": "http://idp.example"})), "issuer"),
        (
            with(json!({"issuer": "https://idp.example/?q=1"})),
            "issuer",
        ),
        (with(json!({"issuer": "https://idp.example/#f"})), "issuer"),
        (with(json!({"issuer": "not a url"})), "issuer"),
        (
            with(json!({"jwks_uri": "https://new-idp.example/keys"})),
            "jwks",
        ),
        (with(json!({"jwks": {"keys": []}})), "jwks"),
        (with(json!({"jwks": {"keys": [private]}})), "jwks"),
        (
            with(json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}})),
            "jwks",
        ),
        (
            with(json!({"jwks": null, "jwks_uri": "http://new-idp.example/keys"})),
            "jwks_uri",
        ),
        (with(json!({"algorithms": ["HS256"]})), "algorithms[0]"),
        (
            with(json!({"algorithms": ["ES256", "none"]})),
            "algorithms[1]",
        ),
        (with(json!({"algorithms": ["es256"]})), "algorithms[0]"),
        (with(json!({"algorithms": []})), "algorithms"),
        (
            with(json!({"clients": [{"client_id": "cli_does_not_exist"}]})),
            "clients[0].client_id",
        ),
        (
            with(json!({"clients": [
                {"client_id": xaa.client_id}, {"client_id": xaa.client_id}
            ]})),
            "clients[1].idp_client_id",
        ),
        (
            with(json!({"clients": [{"client_id": xaa.client_id, "idp_client_id": ""}]})),
            "clients[0].idp_client_id",
        ),
        (
            with(json!({"allowed_resources": ["https://unknown.example/mcp"]})),
            "allowed_resources[0]",
        ),
        (with(json!({"scope": "bad\"scope"})), "scope"),
        (with(json!({"name": ""})), "name"),
    ];
    for (body, field) in cases {
        let response = app.admin(Method::POST, IDPS, Some(body.clone())).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            (status, answer["error"].as_str(), answer["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid_request"),
                Some(field)
            ),
            "{body}: {answer}"
        );
    }
    let unknown_member = with(json!({"trusted": true}));
    let response = app.admin(Method::POST, IDPS, Some(unknown_member)).await;
    assert!(response.status().is_client_error(), "{}", response.status());

    // The same issuer twice is a conflict; nothing above was stored.
    let again = app
        .admin(
            Method::POST,
            IDPS,
            Some(with(json!({"issuer": IDP_ISSUER}))),
        )
        .await;
    assert_api_error(again, StatusCode::CONFLICT, "conflict", Some("issuer")).await;
    let listed = app.admin_ok(Method::GET, IDPS, None, StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    // PATCH validates the same way.
    for (body, field) in [
        (json!({"jwks": {"keys": []}}), "jwks"),
        (json!({"algorithms": ["HS256"]}), "algorithms[0]"),
        (
            json!({"clients": [{"client_id": "cli_nope"}]}),
            "clients[0].client_id",
        ),
        (
            json!({"jwks": jwks(&[&key]), "jwks_uri": "https://x.example/k"}),
            "jwks",
        ),
    ] {
        let response = app.admin(Method::PATCH, &xaa.idp_path(), Some(body)).await;
        assert_api_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            Some(field),
        )
        .await;
    }
    // The refused patches left the IdP working.
    super::assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    xaa.finish().await;
}

/// XAA-18: a loopback `http` issuer is accepted in dev mode (as this test server runs).
async fn xaa_18_loopback_http_issuer_is_allowed_in_dev_mode(app: TestApp) {
    let key = IdpKey::es256("k");
    let created = create_idp(
        &app,
        json!({"issuer": "http://127.0.0.1:9/idp", "jwks": jwks(&[&key])}),
    )
    .await;
    assert_eq!(created["issuer"], "http://127.0.0.1:9/idp", "{created}");
    app.finish().await;
}

/// XAA-2: metadata advertises the grant and the ID-JAG profile and reveals no IdP.
async fn xaa_2_metadata_lists_the_grant_and_profile_but_no_idp(app: TestApp) {
    let xaa = Xaa::with_idp(
        app,
        json!({"name": "Secret Corp Identity", "tenant": "secret-tenant"}),
    )
    .await;
    let id_jag = || xaa.id_jag().claim("tenant", json!("secret-tenant")).jwt();
    let app = &xaa.app;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let response = app.get(path).await;
        if path.contains("openid") && response.status() == StatusCode::NOT_FOUND {
            continue;
        }
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let text = response.text().await.unwrap();
        let document: Value = serde_json::from_str(&text).unwrap();
        let grants = document["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&json!(JWT_BEARER)), "{path}: {document}");
        assert_eq!(
            document["authorization_grant_profiles_supported"],
            json!(["urn:ietf:params:oauth:grant-profile:id-jag"]),
            "{path}"
        );
        for secret in [
            "corp-idp",
            "Secret Corp",
            "secret-tenant",
            &xaa.key.kid,
            &xaa.idp_id,
        ] {
            assert!(!text.contains(secret), "{path} reveals {secret:?}: {text}");
        }
    }
    // Still true while an IdP is in use.
    super::assert_token(&xaa.redeem(&id_jag()).await);
    let text = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .text()
        .await
        .unwrap();
    assert!(!text.contains("corp-idp"), "{text}");
    xaa.finish().await;
}

/// XAA-18: deleting an IdP applies on the next request; its accounts stay.
async fn xaa_18_deleted_idp_is_refused_and_its_accounts_stay(app: TestApp) {
    let xaa = Xaa::new(app).await;
    let claims = super::assert_token(&xaa.redeem(&xaa.id_jag().jwt()).await);
    xaa.app
        .admin_ok(
            Method::DELETE,
            &xaa.idp_path(),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
    assert_refused(
        &xaa.redeem(&xaa.id_jag().jwt()).await,
        "invalid_grant",
        "not trusted",
    );
    let users = super::users(&xaa.app).await;
    assert!(
        users.iter().any(|u| u["user_id"] == claims["sub"]),
        "{users:?}"
    );
    xaa.finish().await;
}

both_backends!(
    xaa_18_idp_is_created_read_listed_changed_and_deleted,
    xaa_18_invalid_idp_is_refused_with_the_field,
    xaa_18_loopback_http_issuer_is_allowed_in_dev_mode,
    xaa_2_metadata_lists_the_grant_and_profile_but_no_idp,
    xaa_18_deleted_idp_is_refused_and_its_accounts_stay,
);
