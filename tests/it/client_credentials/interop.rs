//! Interoperability of the client credentials grant (CC-3, CC-9, CC-11): the `oauth2`
//! crate's `exchange_client_credentials` with Basic and with the secret in the body,
//! and an assertion made by the `jsonwebtoken` crate rather than by hand.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse as _, TokenUrl,
};
use serde_json::json;

use super::{
    KeyKind, TestKey, assert_issued, assert_machine_token, cc_with_assertion, fresh_jti,
    key_client, machine_client,
};
use crate::both_backends;
use crate::harness::TestApp;
use crate::harness::flow::{RESOURCE, jwt_payload};

async fn cc_3_oauth2_crate_gets_a_token_with_basic_and_with_the_body(app: TestApp) {
    app.fixture().await;
    #[expect(
        clippy::disallowed_methods,
        reason = "the interop client brings its own HTTP client"
    )]
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token_url = TokenUrl::new(format!("{}/oauth2/token", app.issuer)).unwrap();
    for (auth_type, method) in [
        (AuthType::BasicAuth, "client_secret_basic"),
        (AuthType::RequestBody, "client_secret_post"),
    ] {
        let created = machine_client(&app, json!({"token_endpoint_auth_method": method})).await;
        let id = created["client_id"].as_str().unwrap();
        let client = BasicClient::new(ClientId::new(id.to_owned()))
            .set_client_secret(ClientSecret::new(
                created["client_secret"].as_str().unwrap().to_owned(),
            ))
            .set_token_uri(token_url.clone())
            .set_auth_type(auth_type.clone());
        let tokens = client
            .exchange_client_credentials()
            .add_scope(Scope::new("tools:call".to_owned()))
            .add_extra_param("resource", RESOURCE)
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e:?}"));
        assert!(tokens.refresh_token().is_none(), "{method}");
        let scopes: Vec<String> = tokens
            .scopes()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(scopes, vec!["tools:call"], "{method}");
        assert!(tokens.expires_in().is_some(), "{method}");
        let claims = jwt_payload(tokens.access_token().secret());
        assert_machine_token(&claims, id, RESOURCE);

        // A wrong secret surfaces as the library's invalid_client.
        let wrong = client.set_client_secret(ClientSecret::new("wrong".to_owned()));
        let error = wrong
            .exchange_client_credentials()
            .request_async(&http)
            .await
            .unwrap_err();
        match error {
            RequestTokenError::ServerResponse(response) => {
                assert_eq!(*response.error(), BasicErrorResponseType::InvalidClient);
            }
            other => panic!("{method}: {other:?}"),
        }
    }
    app.finish().await;
}

async fn cc_9_jsonwebtoken_signed_assertions_are_accepted(app: TestApp) {
    app.fixture().await;
    let es = TestKey::new(KeyKind::Es256, "es");
    let ed = TestKey::new(KeyKind::Ed25519, "ed");
    let id = key_client(&app, &[&es, &ed]).await;
    let now = app.clock_now();
    for (key, alg, encoding) in [
        (&es, Algorithm::ES256, EncodingKey::from_ec_der(es.pkcs8())),
        (&ed, Algorithm::EdDSA, EncodingKey::from_ed_der(ed.pkcs8())),
    ] {
        let mut header = Header::new(alg);
        header.kid = Some(key.kid.clone());
        header.typ = Some("client-authentication+jwt".to_owned());
        let claims = json!({
            "iss": id, "sub": id, "aud": [app.issuer], "iat": now, "nbf": now,
            "exp": now + 120, "jti": fresh_jti(),
        });
        let jwt = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
        let claims = assert_issued(&cc_with_assertion(&app, &jwt, &[]).await);
        assert_machine_token(&claims, &id, RESOURCE);
    }
    app.finish().await;
}

both_backends!(
    cc_3_oauth2_crate_gets_a_token_with_basic_and_with_the_body,
    cc_9_jsonwebtoken_signed_assertions_are_accepted,
);
