//! The document rules (CIMD-13..20): from a fetched body to a [`Client`].
//!
//! Every rule failure is a sentence for the audit log; the user only ever sees one
//! message (CIMD-24).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::json::parse_strict;
use super::url::ClientIdUrl;
use crate::clock::UnixTime;
use crate::domain::client::{
    AuthMethod, Client, ClientKeys, ClientSource, GrantType, check_public_jwks,
};
use crate::domain::ids::ClientId;
use crate::domain::redirect_uri::{RedirectPolicy, RedirectUri};
use crate::domain::scope::ScopeSet;

/// Longest `client_name` accepted, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Most redirect URIs a document may list.
const MAX_REDIRECT_URIS: usize = 20;

/// A document that passed every rule.
#[derive(Debug, Clone)]
pub struct ValidDocument {
    /// The client it describes (source CIMD, enabled).
    pub client: Client,
    /// The document as parsed.
    pub document: Value,
    /// Hash of the security-relevant members (CIMD-23).
    pub fingerprint: String,
    /// `logo_uri`, an https URL, if given.
    pub logo_uri: Option<String>,
    /// `client_uri`, if given.
    pub client_uri: Option<String>,
}

/// Applies CIMD-13..20 to a 200 response's `Content-Type` and body.
///
/// # Errors
///
/// The first rule broken, as a sentence.
pub(super) fn validate(
    id: &ClientIdUrl,
    content_type: Option<&str>,
    body: &[u8],
    redirect_policy: RedirectPolicy,
    now: UnixTime,
) -> Result<ValidDocument, String> {
    check_content_type(content_type)?; // CIMD-13
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let document = parse_strict(text).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Value::Object(members) = &document else {
        return Err("the document is not a JSON object".to_owned());
    };
    // CIMD-14: byte equality with the URL the client presented.
    match members.get("client_id") {
        Some(Value::String(claimed)) if claimed == id.as_str() => {}
        Some(Value::String(_)) => {
            return Err("client_id in the document differs from the URL".to_owned());
        }
        Some(_) => return Err("client_id must be a string".to_owned()),
        None => return Err("client_id is missing".to_owned()),
    }
    let name = client_name(members)?; // CIMD-15
    let redirect_uris = redirect_uris(members, redirect_policy)?; // CIMD-15, CIMD-18
    refuse_secrets(members)?; // CIMD-16
    let keys = keys(members)?; // CIMD-17
    let auth_method = auth_method(members, &keys)?; // CIMD-16, CIMD-20
    let grant_types = grant_types(members, auth_method)?; // CIMD-19
    check_response_types(members)?;
    let scope = match optional_str(members, "scope")? {
        Some(raw) => Some(ScopeSet::parse(raw).map_err(|e| format!("scope: {e}"))?),
        None => None,
    };
    check_application_type(members)?;
    let logo_uri = optional_https_url(members, "logo_uri")?;
    let client_uri = optional_str(members, "client_uri")?.map(str::to_owned);
    let client = Client {
        id: ClientId::from_stored(id.as_str().to_owned()),
        name,
        auth_method,
        redirect_uris,
        grant_types,
        scope,
        keys,
        allowed_servers: None,
        source: ClientSource::Cimd,
        may_introspect: false,
        accept_token_endpoint_audience: false,
        is_enabled: true,
        created_at: now,
        updated_at: now,
    };
    let fingerprint = fingerprint(&client, logo_uri.as_deref());
    Ok(ValidDocument {
        client,
        document,
        fingerprint,
        logo_uri,
        client_uri,
    })
}

/// CIMD-13: `application/json` or `application/<x>+json`; a charset, if named, UTF-8.
fn check_content_type(content_type: Option<&str>) -> Result<(), String> {
    let Some(raw) = content_type else {
        return Err("the response has no Content-Type".to_owned());
    };
    let mut parts = raw.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let is_json = essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.len() > "+json".len() && sub.ends_with("+json"));
    if !is_json {
        return Err(format!("Content-Type {essence:?} is not JSON"));
    }
    for parameter in parts {
        if let Some((name, value)) = parameter.split_once('=')
            && name.trim().eq_ignore_ascii_case("charset")
            && !value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err("the charset is not UTF-8".to_owned());
        }
    }
    Ok(())
}

fn optional_str<'a>(
    members: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, String> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn string_list<'a>(
    members: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<&'a str>>, String> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| format!("{name} must hold strings only"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{name} must be an array of strings")),
    }
}

/// CIMD-15: a non-empty display name without control characters.
fn client_name(members: &Map<String, Value>) -> Result<String, String> {
    let name = optional_str(members, "client_name")?
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| "client_name is missing or empty".to_owned())?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "client_name is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("client_name contains control characters".to_owned());
    }
    Ok(name.to_owned())
}

/// CIMD-15, CIMD-18: a non-empty list, each URI registrable under SEC-3.
fn redirect_uris(
    members: &Map<String, Value>,
    policy: RedirectPolicy,
) -> Result<Vec<RedirectUri>, String> {
    let uris = string_list(members, "redirect_uris")?
        .filter(|uris| !uris.is_empty())
        .ok_or_else(|| "redirect_uris is missing or empty".to_owned())?;
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "redirect_uris lists more than {MAX_REDIRECT_URIS} URIs"
        ));
    }
    uris.iter()
        .enumerate()
        .map(|(index, uri)| {
            RedirectUri::parse(uri, policy).map_err(|e| format!("redirect_uris[{index}] {e}"))
        })
        .collect()
}

/// CIMD-16: no shared secrets in a public document.
fn refuse_secrets(members: &Map<String, Value>) -> Result<(), String> {
    for member in ["client_secret", "client_secret_expires_at"] {
        if members.contains_key(member) {
            return Err(format!("the document must not contain {member}"));
        }
    }
    Ok(())
}

/// CIMD-17: `jwks` (public members only) or `jwks_uri` (https), never both.
fn keys(members: &Map<String, Value>) -> Result<ClientKeys, String> {
    let jwks = members.get("jwks").filter(|v| !v.is_null());
    let jwks_uri = optional_https_url(members, "jwks_uri")?;
    match (jwks, jwks_uri) {
        (Some(_), Some(_)) => Err("jwks and jwks_uri must not both be given".to_owned()),
        (Some(set), None) => {
            check_public_jwks(set).map_err(|e| format!("jwks {e}"))?;
            Ok(ClientKeys::Jwks(set.clone()))
        }
        (None, Some(uri)) => Ok(ClientKeys::JwksUri(uri)),
        (None, None) => Ok(ClientKeys::None),
    }
}

/// CIMD-16, CIMD-20: `none` or `private_key_jwt` (with keys). Absent means `none`,
/// unless the OpenID "RP Metadata Choices" list `token_endpoint_auth_methods_supported`
/// is given, in which case the strongest usable method in it is taken.
fn auth_method(members: &Map<String, Value>, keys: &ClientKeys) -> Result<AuthMethod, String> {
    let has_keys = !matches!(keys, ClientKeys::None);
    let method = match optional_str(members, "token_endpoint_auth_method")? {
        Some(one) => one,
        None => match string_list(members, "token_endpoint_auth_methods_supported")? {
            None => "none",
            Some(offered) if has_keys && offered.contains(&"private_key_jwt") => "private_key_jwt",
            Some(offered) if offered.contains(&"none") => "none",
            Some(_) => {
                return Err(
                    "token_endpoint_auth_methods_supported offers neither none nor private_key_jwt (with keys)"
                        .to_owned(),
                );
            }
        },
    };
    match method {
        "none" => Ok(AuthMethod::None),
        "private_key_jwt" if has_keys => Ok(AuthMethod::PrivateKeyJwt),
        "private_key_jwt" => Err("private_key_jwt needs jwks or jwks_uri".to_owned()),
        "client_secret_basic" | "client_secret_post" | "client_secret_jwt" => Err(format!(
            "token_endpoint_auth_method {method} needs a shared secret, which a public document cannot hold"
        )),
        other => Err(format!(
            "token_endpoint_auth_method {other:?} is not supported"
        )),
    }
}

/// CIMD-19: `authorization_code` unless listed otherwise; `client_credentials` only
/// for a client that authenticates with its keys.
fn grant_types(members: &Map<String, Value>, method: AuthMethod) -> Result<Vec<GrantType>, String> {
    let Some(listed) = string_list(members, "grant_types")? else {
        return Ok(vec![GrantType::AuthorizationCode]);
    };
    let mut grants = Vec::new();
    for raw in listed {
        let grant: GrantType = raw.parse().map_err(|e| format!("grant_types: {e}"))?;
        if grant == GrantType::ClientCredentials && method != AuthMethod::PrivateKeyJwt {
            return Err("client_credentials needs private_key_jwt".to_owned());
        }
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.is_empty() {
        return Err("grant_types is empty".to_owned());
    }
    Ok(grants)
}

fn check_response_types(members: &Map<String, Value>) -> Result<(), String> {
    match string_list(members, "response_types")? {
        None => Ok(()),
        Some(types) if !types.is_empty() && types.iter().all(|t| *t == "code") => Ok(()),
        Some(_) => Err("response_types may only list \"code\"".to_owned()),
    }
}

fn check_application_type(members: &Map<String, Value>) -> Result<(), String> {
    match optional_str(members, "application_type")? {
        None | Some("web" | "native") => Ok(()),
        Some(other) => Err(format!(
            "application_type {other:?} is neither web nor native"
        )),
    }
}

/// An optional member that must be an absolute https URL without user information.
fn optional_https_url(members: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    let Some(raw) = optional_str(members, name)? else {
        return Ok(None);
    };
    let url = url::Url::parse(raw).map_err(|_| format!("{name} is not a URL"))?;
    if url.scheme() != "https" || url.host().is_none() || !url.username().is_empty() {
        return Err(format!("{name} must be an https URL"));
    }
    Ok(Some(raw.to_owned()))
}

/// CIMD-23: a hash over what decides where codes go, how the client proves itself,
/// what it may ask for and what the user is shown.
fn fingerprint(client: &Client, logo_uri: Option<&str>) -> String {
    let keys = match &client.keys {
        ClientKeys::None => Value::Null,
        ClientKeys::Jwks(set) => set.clone(),
        ClientKeys::JwksUri(uri) => Value::from(uri.as_str()),
    };
    let material = json!([
        client.name,
        client
            .redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect::<Vec<_>>(),
        client.auth_method.as_str(),
        keys,
        client
            .grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>(),
        client.scope.as_ref().map(ToString::to_string),
        logo_uri,
    ]);
    let hash = digest::digest(&digest::SHA256, material.to_string().as_bytes());
    URL_SAFE_NO_PAD.encode(hash.as_ref())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{ValidDocument, validate};
    use crate::cimd::url::ClientIdUrl;
    use crate::domain::client::{AuthMethod, GrantType};
    use crate::domain::redirect_uri::RedirectPolicy;

    const ID: &str = "https://toolkit.example/oauth/desktop-client.json";

    fn desktop() -> Value {
        json!({
            "client_id": ID,
            "client_name": "Toolkit Desktop",
            "client_uri": "https://toolkit.example",
            "logo_uri": "https://toolkit.example/static/logo-128.png",
            "redirect_uris": ["http://127.0.0.1/callback", "http://[::1]/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native"
        })
    }

    fn check(document: &Value) -> Result<ValidDocument, String> {
        check_typed(document, Some("application/json"))
    }

    fn check_typed(document: &Value, content_type: Option<&str>) -> Result<ValidDocument, String> {
        let id = ClientIdUrl::parse(ID).unwrap();
        validate(
            &id,
            content_type,
            document.to_string().as_bytes(),
            RedirectPolicy::default(),
            1_788_253_200,
        )
    }

    fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut document = desktop();
        change(document.as_object_mut().unwrap());
        document
    }

    #[test]
    fn cimd_15_the_example_desktop_document_is_valid() {
        let valid = check(&desktop()).unwrap();
        assert_eq!(valid.client.name, "Toolkit Desktop");
        assert_eq!(valid.client.auth_method, AuthMethod::None);
        assert_eq!(valid.client.redirect_uris.len(), 2);
        assert!(valid.client.allows_grant(GrantType::RefreshToken));
        assert_eq!(
            valid.logo_uri.as_deref(),
            Some("https://toolkit.example/static/logo-128.png")
        );
    }

    #[test]
    fn cimd_13_content_type_must_be_json_in_utf_8() {
        for good in [
            "application/json",
            "application/cimd+json",
            "Application/JSON; charset=utf-8",
        ] {
            assert!(check_typed(&desktop(), Some(good)).is_ok(), "{good}");
        }
        for bad in [
            None,
            Some("text/html"),
            Some("application/+json"),
            Some("application/json; charset=latin1"),
        ] {
            assert!(check_typed(&desktop(), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cimd_13_body_must_be_an_object_without_duplicates() {
        let id = ClientIdUrl::parse(ID).unwrap();
        let run = |body: &[u8]| {
            validate(
                &id,
                Some("application/json"),
                body,
                RedirectPolicy::default(),
                0,
            )
        };
        assert!(run(b"[1]").unwrap_err().contains("not a JSON object"));
        assert!(
            run(b"{\"client_id\": 1, \"client_id\": 2}")
                .unwrap_err()
                .contains("duplicate")
        );
        assert!(run(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn cimd_14_client_id_must_equal_the_url_exactly() {
        let slash = with(|d| {
            d.insert("client_id".into(), json!(format!("{ID}/")));
        });
        assert!(check(&slash).unwrap_err().contains("differs"));
        let missing = with(|d| {
            d.remove("client_id");
        });
        assert!(check(&missing).is_err());
        let upper = with(|d| {
            d.insert("client_id".into(), json!(ID.to_uppercase()));
        });
        assert!(check(&upper).is_err());
    }

    #[test]
    fn cimd_15_name_and_redirect_uris_are_required() {
        assert!(
            check(&with(|d| {
                d.remove("client_name");
            }))
            .is_err()
        );
        assert!(
            check(&with(|d| {
                d.insert("client_name".into(), json!("  "));
            }))
            .is_err()
        );
        assert!(
            check(&with(|d| {
                d.insert("client_name".into(), json!("a\u{7}b"));
            }))
            .is_err()
        );
        assert!(
            check(&with(|d| {
                d.remove("redirect_uris");
            }))
            .is_err()
        );
        assert!(
            check(&with(|d| {
                d.insert("redirect_uris".into(), json!([]));
            }))
            .is_err()
        );
    }

    #[test]
    fn cimd_16_shared_secrets_are_refused() {
        for method in [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
        ] {
            let doc = with(|d| {
                d.insert("token_endpoint_auth_method".into(), json!(method));
            });
            assert!(
                check(&doc).unwrap_err().contains("shared secret"),
                "{method}"
            );
        }
        assert!(
            check(&with(|d| {
                d.insert("client_secret".into(), json!("s"));
            }))
            .is_err()
        );
        assert!(
            check(&with(|d| {
                d.insert("client_secret_expires_at".into(), json!(0));
            }))
            .is_err()
        );
        let absent = check(&with(|d| {
            d.remove("token_endpoint_auth_method");
        }))
        .unwrap();
        assert_eq!(absent.client.auth_method, AuthMethod::None);
    }

    #[test]
    fn cimd_16_rp_metadata_choices_list_is_accepted() {
        let none = with(|d| {
            d.remove("token_endpoint_auth_method");
            d.insert(
                "token_endpoint_auth_methods_supported".into(),
                json!(["client_secret_basic", "none"]),
            );
        });
        assert_eq!(check(&none).unwrap().client.auth_method, AuthMethod::None);
        let keys = with(|d| {
            d.remove("token_endpoint_auth_method");
            d.insert(
                "token_endpoint_auth_methods_supported".into(),
                json!(["none", "private_key_jwt"]),
            );
            d.insert(
                "jwks_uri".into(),
                json!("https://toolkit.example/jwks.json"),
            );
        });
        assert_eq!(
            check(&keys).unwrap().client.auth_method,
            AuthMethod::PrivateKeyJwt
        );
        let secrets_only = with(|d| {
            d.remove("token_endpoint_auth_method");
            d.insert(
                "token_endpoint_auth_methods_supported".into(),
                json!(["client_secret_post"]),
            );
        });
        assert!(check(&secrets_only).is_err());
    }

    #[test]
    fn cimd_17_private_keys_and_double_key_sources_are_refused() {
        let key = json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"});
        let mut private = key.clone();
        private["d"] = json!("secret");
        let doc = |jwks: Value| {
            with(|d| {
                d.insert(
                    "token_endpoint_auth_method".into(),
                    json!("private_key_jwt"),
                );
                d.insert("jwks".into(), jwks);
            })
        };
        assert!(check(&doc(json!({"keys": [key]}))).is_ok());
        assert!(
            check(&doc(json!({"keys": [private]})))
                .unwrap_err()
                .contains("private member")
        );
        let both = with(|d| {
            d.insert(
                "token_endpoint_auth_method".into(),
                json!("private_key_jwt"),
            );
            d.insert("jwks".into(), json!({"keys": [key]}));
            d.insert(
                "jwks_uri".into(),
                json!("https://toolkit.example/jwks.json"),
            );
        });
        assert!(check(&both).unwrap_err().contains("both"));
        let keyless = with(|d| {
            d.insert(
                "token_endpoint_auth_method".into(),
                json!("private_key_jwt"),
            );
        });
        assert!(check(&keyless).is_err());
    }

    #[test]
    fn cimd_18_redirect_uris_follow_sec_3() {
        for bad in [
            "http://toolkit.example/cb",
            "javascript:alert(1)",
            "https://toolkit.example/cb#x",
            "com.toolkit.app:/cb",
        ] {
            let doc = with(|d| {
                d.insert("redirect_uris".into(), json!([bad]));
            });
            assert!(
                check(&doc).unwrap_err().starts_with("redirect_uris[0]"),
                "{bad}"
            );
        }
    }

    #[test]
    fn cimd_19_grants_default_to_code_and_client_credentials_needs_keys() {
        let default = check(&with(|d| {
            d.remove("grant_types");
        }))
        .unwrap();
        assert_eq!(
            default.client.grant_types,
            vec![GrantType::AuthorizationCode]
        );
        for bad in [
            json!(["implicit"]),
            json!(["password"]),
            json!(["client_credentials"]),
            json!(["magic"]),
            json!([]),
        ] {
            let doc = with(|d| {
                d.insert("grant_types".into(), bad.clone());
            });
            assert!(check(&doc).is_err(), "{bad}");
        }
        assert!(
            check(&with(|d| {
                d.insert("response_types".into(), json!(["token"]));
            }))
            .is_err()
        );
    }

    #[test]
    fn cimd_23_fingerprint_follows_security_relevant_members_only() {
        let base = check(&desktop()).unwrap().fingerprint;
        let renamed = check(&with(|d| {
            d.insert("client_name".into(), json!("Other"));
        }))
        .unwrap();
        assert_ne!(renamed.fingerprint, base);
        let redirect = check(&with(|d| {
            d.insert("redirect_uris".into(), json!(["http://127.0.0.1/other"]));
        }))
        .unwrap();
        assert_ne!(redirect.fingerprint, base);
        let cosmetic = check(&with(|d| {
            d.insert("tos_uri".into(), json!("https://toolkit.example/tos2"));
        }))
        .unwrap();
        assert_eq!(cosmetic.fingerprint, base);
    }
}
