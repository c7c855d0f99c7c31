//! Where a trusted IdP's signing keys come from (XAA-4, XAA-18): an inline JWK Set, a
//! `jwks_uri`, or, when neither is given, the `jwks_uri` its published metadata names.
//! Discovery goes through the guarded outbound client (SSRF rules, validated TLS, size
//! and time caps), and the document must name exactly the IdP's issuer, so a metadata
//! document of another server can never supply the keys.

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{AdminContext, AdminError};
use crate::config::Issuer;
use crate::domain::client::{ClientKeys, check_public_jwks};

/// Largest metadata document read.
const MAX_METADATA_BYTES: usize = 64 * 1024;

/// The members of an authorization-server or OpenID metadata document used here.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: Option<String>,
}

/// The key source given in a request: `None` when neither member was sent.
pub(super) fn parse(
    ctx: &AdminContext,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
) -> Result<Option<ClientKeys>, AdminError> {
    match (jwks, jwks_uri) {
        (Some(_), Some(_)) => Err(AdminError::invalid(
            "jwks",
            "give jwks or jwks_uri, not both",
        )),
        (Some(set), None) => {
            check_public_jwks(&set).map_err(|e| AdminError::invalid("jwks", e))?;
            Ok(Some(ClientKeys::Jwks(set)))
        }
        (None, Some(uri)) => Ok(Some(ClientKeys::JwksUri(checked_uri(
            ctx, &uri, "jwks_uri",
        )?))),
        (None, None) => Ok(None),
    }
}

/// The `jwks_uri` from the IdP's metadata: RFC 8414 first
/// (`/.well-known/oauth-authorization-server` inserted before the issuer's path), then
/// OpenID Connect Discovery (`/.well-known/openid-configuration` appended).
pub(super) async fn discover(ctx: &AdminContext, issuer: &str) -> Result<ClientKeys, AdminError> {
    let unusable = |why: String| {
        AdminError::invalid(
            "jwks_uri",
            format!("no jwks or jwks_uri given, and the keys could not be discovered: {why}"),
        )
    };
    let Some(http) = &ctx.outbound else {
        return Err(unusable("discovery needs the running server".to_owned()));
    };
    let issuer = Issuer::parse(issuer, ctx.policy.allow_loopback_http)
        .map_err(|e| AdminError::invalid("issuer", e))?;
    let mut failures = Vec::new();
    for url in metadata_urls(&issuer)? {
        let response = match http.get(&url, "application/json", MAX_METADATA_BYTES).await {
            Ok(response) => response,
            Err(error) => {
                failures.push(format!("{url}: {error}"));
                continue;
            }
        };
        let metadata: Metadata = serde_json::from_slice(&response.body)
            .map_err(|e| unusable(format!("{url} is not a metadata document: {e}")))?;
        if metadata.issuer != issuer.as_str() {
            return Err(unusable(format!(
                "{url} names issuer {:?}, not {:?}",
                metadata.issuer,
                issuer.as_str()
            )));
        }
        let uri = metadata
            .jwks_uri
            .ok_or_else(|| unusable(format!("{url} has no jwks_uri")))?;
        return Ok(ClientKeys::JwksUri(checked_uri(ctx, &uri, "jwks_uri")?));
    }
    Err(unusable(failures.join("; ")))
}

fn metadata_urls(issuer: &Issuer) -> Result<[Url; 2], AdminError> {
    let bad = |e: url::ParseError| AdminError::invalid("issuer", e);
    let mut rfc_8414 = Url::parse(issuer.as_str()).map_err(bad)?;
    rfc_8414.set_path(&issuer.well_known_path("oauth-authorization-server"));
    let openid = Url::parse(&issuer.endpoint("/.well-known/openid-configuration")).map_err(bad)?;
    Ok([rfc_8414, openid])
}

/// https (http on loopback in dev), no fragment.
fn checked_uri(ctx: &AdminContext, uri: &str, field: &str) -> Result<String, AdminError> {
    super::servers::parse_resource(ctx, uri)
        .map_err(|_| AdminError::invalid(field, "must be an https URL without a fragment"))?;
    Ok(uri.to_owned())
}
