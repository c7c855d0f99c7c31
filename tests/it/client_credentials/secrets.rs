//! Secret authentication failures (CC-10, CORE-8), disabling a client through the
//! registry cache, and secret rotation through the admin API (CC-12).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{TestKey, assert_issued, assert_machine_token, key_client, machine_client};
use crate::both_backends;
use crate::harness::flow::{OAuthAnswer, RESOURCE, assert_oauth_error};
use crate::harness::{START, TestApp, assert_api_error};

const CC: (&str, &str) = ("grant_type", "client_credentials");

/// CORE-8: 401 `invalid_client` with a Basic challenge.
fn assert_challenged(answer: &OAuthAnswer) {
    assert_oauth_error(answer, StatusCode::UNAUTHORIZED, "invalid_client");
    let challenge = answer.1["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic "), "{challenge}");
}

fn id_and_secret(client: &Value) -> (String, String) {
    (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    )
}

fn secrets_path(client_id: &str) -> String {
    format!("/admin/api/v1/clients/{client_id}/secrets")
}

async fn cc_10_wrong_secret_is_invalid_client(app: TestApp) {
    app.fixture().await;
    let (basic_id, basic_secret) = id_and_secret(&machine_client(&app, json!({})).await);
    let post = machine_client(
        &app,
        json!({"token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let (post_id, post_secret) = id_and_secret(&post);

    let wrong = format!("{basic_secret}x");
    assert_challenged(&app.token(&[CC], Some((&basic_id, &wrong))).await);
    assert_challenged(&app.token(&[CC], Some(("cli_unknown", &basic_secret))).await);
    // Another client's (valid) secret is no proof either.
    assert_challenged(&app.token(&[CC], Some((&basic_id, &post_secret))).await);

    for form in [
        vec![CC, ("client_id", &post_id), ("client_secret", "wrong")],
        vec![CC, ("client_id", &post_id)],
        vec![
            CC,
            ("client_id", "cli_unknown"),
            ("client_secret", &post_secret),
        ],
        vec![CC],
    ] {
        let answer = app.token(&form, None).await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_client");
        assert!(!answer.1.contains_key("www-authenticate"), "{form:?}");
    }
    // The right secrets still work afterwards.
    assert_issued(&app.token(&[CC], Some((&basic_id, &basic_secret))).await);
    let form = [CC, ("client_id", &post_id), ("client_secret", &post_secret)];
    assert_issued(&app.token(&form, None).await);
    app.finish().await;
}

async fn cc_10_disabled_client_is_refused_at_once(app: TestApp) {
    let fixture = app.fixture().await;
    let (id, secret) = id_and_secret(&machine_client(&app, json!({})).await);
    let basic = Some((id.as_str(), secret.as_str()));
    // The first token request puts the client into the registry cache.
    let issued = app.token(&[CC], basic).await;
    assert_issued(&issued);
    let token = issued.2["access_token"].as_str().unwrap().to_owned();
    assert!(app.is_active_for_server(&fixture, &token).await);

    let path = format!("/admin/api/v1/clients/{id}");
    let patch = Some(json!({"enabled": false}));
    app.admin_ok(Method::PATCH, &path, patch, StatusCode::OK)
        .await;
    assert_challenged(&app.token(&[CC], basic).await);
    // INTRO-3: the tokens of a disabled client introspect inactive, also at once.
    assert!(!app.is_active_for_server(&fixture, &token).await);

    let patch = Some(json!({"enabled": true}));
    app.admin_ok(Method::PATCH, &path, patch, StatusCode::OK)
        .await;
    assert_issued(&app.token(&[CC], basic).await);
    // Deleting it is as immediate.
    let deleted = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_challenged(&app.token(&[CC], basic).await);
    app.finish().await;
}

async fn cc_12_second_secret_works_beside_the_first_until_the_first_is_revoked(app: TestApp) {
    app.fixture().await;
    let (id, first) = id_and_secret(&machine_client(&app, json!({})).await);
    // Warm the cache with the one secret there is.
    assert_issued(&app.token(&[CC], Some((&id, &first))).await);

    let added = app
        .admin_ok(
            Method::POST,
            &secrets_path(&id),
            Some(json!({})),
            StatusCode::CREATED,
        )
        .await;
    let second = added["client_secret"].as_str().unwrap().to_owned();
    let second_id = added["secret_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(added["active"], true, "{added}");
    assert_eq!(added["expires_at"], Value::Null, "{added}");
    assert_eq!(added["created_at"], START, "{added}");
    for secret in [&first, &second] {
        let claims = assert_issued(&app.token(&[CC], Some((&id, secret))).await);
        assert_machine_token(&claims, &id, RESOURCE);
    }

    // CC-12: listed by id, never shown again.
    let list = app
        .admin_ok(Method::GET, &secrets_path(&id), None, StatusCode::OK)
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert!(
        items
            .iter()
            .all(|i| i.get("client_secret").is_none() && i["active"] == true),
        "{list}"
    );
    assert!(!list.to_string().contains(&first) && !list.to_string().contains(&second));
    let first_id = items
        .iter()
        .map(|i| i["secret_id"].as_str().unwrap())
        .find(|s| *s != second_id)
        .unwrap()
        .to_owned();

    let revoked = app
        .admin(
            Method::DELETE,
            &format!("{}/{first_id}", secrets_path(&id)),
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_challenged(&app.token(&[CC], Some((&id, &first))).await);
    assert_issued(&app.token(&[CC], Some((&id, &second))).await);
    let list = app
        .admin_ok(Method::GET, &secrets_path(&id), None, StatusCode::OK)
        .await;
    let old = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["secret_id"] == first_id.as_str())
        .unwrap();
    assert_eq!(old["active"], false, "{list}");
    assert_eq!(old["revoked_at"], START, "{list}");
    app.finish().await;
}

async fn cc_12_secret_with_expires_in_stops_working_when_it_expires(app: TestApp) {
    app.fixture().await;
    let (id, first) = id_and_secret(&machine_client(&app, json!({})).await);
    let added = app
        .admin_ok(
            Method::POST,
            &secrets_path(&id),
            Some(json!({"expires_in": 3600})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(added["expires_at"], START + 3600, "{added}");
    let temporary = added["client_secret"].as_str().unwrap().to_owned();
    assert_issued(&app.token(&[CC], Some((&id, &temporary))).await);

    app.clock.advance(Duration::from_secs(3599));
    assert_issued(&app.token(&[CC], Some((&id, &temporary))).await);
    app.clock.advance(Duration::from_secs(1));
    assert_challenged(&app.token(&[CC], Some((&id, &temporary))).await);
    // The secret without expiry keeps working.
    assert_issued(&app.token(&[CC], Some((&id, &first))).await);
    let list = app
        .admin_ok(Method::GET, &secrets_path(&id), None, StatusCode::OK)
        .await;
    let expired = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["secret_id"] == added["secret_id"])
        .unwrap();
    assert_eq!(expired["active"], false, "{list}");
    assert_eq!(expired["revoked_at"], Value::Null, "{list}");
    app.finish().await;
}

async fn cc_12_secret_api_refuses_what_has_no_secret(app: TestApp) {
    app.fixture().await;
    let (id, _) = id_and_secret(&machine_client(&app, json!({})).await);
    for expires_in in [json!(0), json!(-1), json!("soon")] {
        let response = app
            .admin(
                Method::POST,
                &secrets_path(&id),
                Some(json!({ "expires_in": expires_in })),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{expires_in}"
        );
    }
    let key = TestKey::es256("k1");
    let keyed = key_client(&app, &[&key]).await;
    let response = app
        .admin(Method::POST, &secrets_path(&keyed), Some(json!({})))
        .await;
    assert_api_error(
        response,
        StatusCode::CONFLICT,
        "conflict",
        Some("client_id"),
    )
    .await;
    let response = app
        .admin(Method::POST, &secrets_path("cli_unknown"), Some(json!({})))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Revoking a secret the client does not have, or twice, is a 404.
    let list = app
        .admin_ok(Method::GET, &secrets_path(&id), None, StatusCode::OK)
        .await;
    let only = format!(
        "{}/{}",
        secrets_path(&id),
        list["items"][0]["secret_id"].as_str().unwrap()
    );
    let unknown = format!("{}/sec_unknown", secrets_path(&id));
    for (path, status) in [
        (&unknown, StatusCode::NOT_FOUND),
        (&only, StatusCode::NO_CONTENT),
        (&only, StatusCode::NOT_FOUND),
    ] {
        let response = app.admin(Method::DELETE, path, None).await;
        assert_eq!(response.status(), status, "{path}");
    }
    app.finish().await;
}

both_backends!(
    cc_10_wrong_secret_is_invalid_client,
    cc_10_disabled_client_is_refused_at_once,
    cc_12_second_secret_works_beside_the_first_until_the_first_is_revoked,
    cc_12_secret_with_expires_in_stops_working_when_it_expires,
    cc_12_secret_api_refuses_what_has_no_secret,
);
