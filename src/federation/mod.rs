//! Sign-in through upstream OpenID providers (FED-1..4).
//!
//! The login page offers "Sign in with <name>" for each configured provider. Choosing
//! one stores a single-use `state` (bound to the browser session, at most 10 minutes),
//! a `nonce` and a PKCE S256 verifier, and sends the browser to the provider's
//! authorization endpoint (found by discovery; its `issuer` must be exactly the
//! configured one, FED-3). The callback consumes the state, checks any `iss` response
//! parameter, redeems the code with the `oauth2` crate over the one guarded outbound
//! client, and checks the ID token (signature with the provider's published keys,
//! `iss`, `aud`, `exp`, `iat`, `nonce`). The user is the local account of (issuer,
//! `sub`), FED-4; the upstream tokens are dropped at once and never reach an MCP server.
//! FED-1: when the sign-in continues an authorization request, the user approves the
//! client on our consent page *before* being sent upstream; the callback then answers
//! the client at once, and records the consent for the user it turned out to be.
//!
//! The provider's ID token is kept sealed until it expires, only so that it can be
//! exchanged at that provider for ID-JAGs on a client's behalf ([`broker`], XAA-26).

pub mod accounts;
pub mod broker;
mod discovery;
mod id_token;

use std::sync::Arc;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};

use self::accounts::{AccountError, Provisioning};
use self::discovery::{Discovered, Discovery};
use crate::clock::SharedClock;
use crate::config::{UpstreamClientAuth, UpstreamProvider};
use crate::crypto::{CryptoError, KeyEncryptionKey, SecretHasher, random_token};
use crate::domain::ids::UserId;
use crate::jose::{KeyRing, KeySets};
use crate::net::OutboundClient;
use crate::storage::{ExternalIdentity, FederationStateRecord, Store, StoreError};

/// Path of the callback under the issuer.
pub const CALLBACK_PATH: &str = "/login/callback";
/// How long a redirect upstream may take to come back (FED-2: at most 10 minutes).
const STATE_TTL: i64 = 600;
/// Largest token response accepted from a provider.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// Why an upstream sign-in failed. The display text is for the user; details go to
/// the log.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// No such provider is configured.
    #[error("this sign-in option is not available")]
    UnknownProvider,
    /// The state is unknown, used, expired or from another browser session (FED-2).
    #[error("this sign-in attempt expired or was already used; start again")]
    BadState,
    /// The provider answered with an error (e.g. the user cancelled).
    #[error("the sign-in was not completed at the provider")]
    Denied(String),
    /// Discovery, the code exchange or the ID token failed.
    #[error("the provider's answer could not be verified")]
    Upstream(String),
    /// No local account for this identity (and provisioning is off).
    #[error("no account here is linked to this identity; ask an administrator")]
    NotLinked,
    /// The account is disabled.
    #[error("this account is disabled")]
    Disabled,
    /// Randomness failed.
    #[error("internal error")]
    Crypto(#[from] CryptoError),
    /// The database failed.
    #[error("internal error")]
    Store(#[from] StoreError),
}

impl From<AccountError> for FederationError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::NotLinked => Self::NotLinked,
            AccountError::Disabled => Self::Disabled,
            AccountError::Crypto(error) => Self::Crypto(error),
            AccountError::Store(error) => Self::Store(error),
        }
    }
}

/// A finished upstream sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The local user.
    pub user: UserId,
    /// The authorization request to continue, if the sign-in started from one.
    pub request_id: Option<String>,
    /// FED-1: the user approved that request before going upstream.
    pub consented: bool,
    /// Without a request: the sign-in started from the console's sign-in page.
    pub to_console: bool,
}

/// The `id_token` member of an OpenID token response.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type UpstreamClient = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The configured providers and what signing in through them needs.
pub struct Federation {
    providers: Vec<UpstreamProvider>,
    http: OutboundClient,
    key_sets: Arc<KeySets>,
    store: Store,
    state_hasher: SecretHasher,
    clock: SharedClock,
    discovery: Discovery,
    redirect_uri: String,
    kek: KeyEncryptionKey,
    keyring: Arc<KeyRing>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.providers.iter().map(|p| p.id.as_str()).collect();
        f.debug_struct("Federation")
            .field("providers", &ids)
            .finish_non_exhaustive()
    }
}

/// Shared services a [`Federation`] uses.
pub struct FederationServices {
    /// The guarded outbound client.
    pub http: OutboundClient,
    /// Key sets (providers' `jwks_uri`).
    pub key_sets: Arc<KeySets>,
    /// The database.
    pub store: Store,
    /// Keyed hash for `state` values.
    pub state_hasher: SecretHasher,
    /// Time.
    pub clock: SharedClock,
    /// Seals kept upstream ID tokens.
    pub kek: KeyEncryptionKey,
    /// Signs our client assertions at providers (`private_key_jwt`).
    pub keyring: Arc<KeyRing>,
}

impl Federation {
    /// Sign-in through `providers`; the callback is `callback_url`.
    pub fn new(
        providers: Vec<UpstreamProvider>,
        services: FederationServices,
        callback_url: String,
    ) -> Self {
        Self {
            discovery: Discovery::new(services.http.clone()),
            providers,
            http: services.http,
            key_sets: services.key_sets,
            store: services.store,
            state_hasher: services.state_hasher,
            clock: services.clock,
            redirect_uri: callback_url,
            kek: services.kek,
            keyring: services.keyring,
        }
    }

    /// The providers, in configuration order, as (id, name).
    pub fn providers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.providers
            .iter()
            .map(|p| (p.id.as_str(), p.name.as_str()))
    }

    /// The origins the login page's form may be redirected to (its CSP `form-action`):
    /// each provider's authorization endpoint as last discovered, else its issuer's
    /// origin. Never fetches: showing the sign-in page must not wait for, or knock on,
    /// a provider (the button's POST discovers).
    pub async fn authorization_origins(&self) -> Vec<String> {
        let mut origins = Vec::new();
        for provider in &self.providers {
            let endpoint = match self.discovery.cached(&provider.issuer).await {
                Some(found) => found.authorization_endpoint.clone(),
                None => provider.issuer.as_str().to_owned(),
            };
            if let Ok(url) = url::Url::parse(&endpoint) {
                origins.push(url.origin().ascii_serialization());
            }
        }
        origins
    }

    fn provider(&self, id: &str) -> Result<&UpstreamProvider, FederationError> {
        self.providers
            .iter()
            .find(|p| p.id == id)
            .ok_or(FederationError::UnknownProvider)
    }

    fn client(
        &self,
        provider: &UpstreamProvider,
        found: &Discovered,
    ) -> Result<UpstreamClient, FederationError> {
        let bad = |what: &str| FederationError::Upstream(format!("invalid {what} URL"));
        let client = oauth2::Client::new(ClientId::new(provider.client_id.clone()));
        // Without a secret the crate sends `client_id` in the body, beside our assertion.
        let client = match &provider.client_auth {
            UpstreamClientAuth::Secret(secret) => {
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()))
            }
            UpstreamClientAuth::PrivateKeyJwt => client,
        };
        Ok(client
            .set_auth_uri(
                AuthUrl::new(found.authorization_endpoint.clone())
                    .map_err(|_| bad("authorization endpoint"))?,
            )
            .set_token_uri(
                TokenUrl::new(found.token_endpoint.clone()).map_err(|_| bad("token endpoint"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(self.redirect_uri.clone()).map_err(|_| bad("redirect"))?,
            ))
    }

    /// The display name of provider `id`.
    pub fn provider_name(&self, id: &str) -> Option<&str> {
        self.provider(id).ok().map(|p| p.name.as_str())
    }

    /// Starts a sign-in at `provider_id` for the browser session `session_hash`,
    /// continuing `request_id` if given, which the user approved beforehand when
    /// `consented` (FED-1), else the console when `to_console`; returns the URL to send
    /// the browser to.
    pub async fn begin(
        &self,
        provider_id: &str,
        session_hash: &[u8],
        request_id: Option<&str>,
        consented: bool,
        to_console: bool,
    ) -> Result<String, FederationError> {
        let provider = self.provider(provider_id)?;
        let found = self
            .discovery
            .get(&provider.issuer)
            .await
            .map_err(FederationError::Upstream)?;
        let client = self.client(provider, &found)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token()?;
        let nonce = random_token()?;
        let mut request = client
            .authorize_url(|| CsrfToken::new(state.clone()))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.clone());
        for scope in &provider.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _) = request.url();
        let now = self.clock.now();
        self.store
            .insert_federation_state(&FederationStateRecord {
                state_hash: self.state_hasher.hash(&state),
                session_hash: session_hash.to_vec(),
                provider_id: provider.id.clone(),
                request_id: request_id.map(str::to_owned),
                nonce,
                code_verifier: verifier.secret().clone(),
                created_at: now,
                expires_at: now.saturating_add(STATE_TTL),
                consented: consented && request_id.is_some(),
                to_console: to_console && request_id.is_none(),
            })
            .await?;
        Ok(url.to_string())
    }

    /// Completes a sign-in from the callback's parameters.
    pub async fn complete(
        &self,
        callback: &Callback,
        session_hash: &[u8],
    ) -> Result<SignedIn, FederationError> {
        let now = self.clock.now();
        let state = callback.state.as_deref().ok_or(FederationError::BadState)?;
        let record = self
            .store
            .use_federation_state(&self.state_hasher.hash(state), session_hash, now)
            .await?
            .ok_or(FederationError::BadState)?;
        let provider = self.provider(&record.provider_id)?;
        let found = self
            .discovery
            .get(&provider.issuer)
            .await
            .map_err(FederationError::Upstream)?;
        // FED-3 (RFC 9207 section 2.4): an `iss` in the response must be the provider's,
        // and a provider that advertises the parameter must send it.
        match &callback.iss {
            Some(iss) if iss != provider.issuer.as_str() => {
                return Err(FederationError::Upstream(format!(
                    "callback iss {iss:?} is not the provider's issuer"
                )));
            }
            None if found.authorization_response_iss_parameter_supported => {
                return Err(FederationError::Upstream(
                    "callback without the iss the provider advertises".to_owned(),
                ));
            }
            _ => {}
        }
        if let Some(error) = &callback.error {
            return Err(FederationError::Denied(error.clone()));
        }
        let code = callback
            .code
            .as_deref()
            .ok_or_else(|| FederationError::Upstream("callback without a code".to_owned()))?;
        let id_token = self.redeem(provider, &found, code, &record).await?;
        let claims = id_token::verify(
            &self.key_sets,
            &id_token,
            &id_token::Expected {
                issuer: provider.issuer.as_str(),
                client_id: &provider.client_id,
                nonce: &record.nonce,
                jwks_uri: &found.jwks_uri,
            },
            now,
        )
        .await
        .map_err(FederationError::Upstream)?;
        // FED-4: the identity is (issuer, sub); upstream tokens end here.
        let identity = ExternalIdentity {
            issuer: provider.issuer.as_str(),
            tenant: "",
            subject: &claims.sub,
        };
        let preferred = claims
            .preferred_username
            .as_deref()
            .or(claims.email.as_deref());
        let user = accounts::account_for(
            &self.store,
            &identity,
            Provisioning {
                enabled: provider.jit_provisioning,
                preferred_username: preferred,
                linkable_email: claims
                    .verified_email()
                    .filter(|_| provider.link_verified_email),
                source: &provider.id,
            },
            now,
        )
        .await?;
        self.keep_id_token(user.as_str(), &provider.id, &id_token, claims.expires_at())
            .await
            .map_err(|e| match e {
                broker::BrokerError::Store(e) => FederationError::Store(e),
                broker::BrokerError::Crypto(e) => FederationError::Crypto(e),
                other => FederationError::Upstream(other.to_string()),
            })?;
        Ok(SignedIn {
            user,
            request_id: record.request_id,
            consented: record.consented,
            to_console: record.to_console,
        })
    }

    /// Redeems the code (PKCE, client secret) and returns the ID token.
    async fn redeem(
        &self,
        provider: &UpstreamProvider,
        found: &Discovered,
        code: &str,
        record: &FederationStateRecord,
    ) -> Result<String, FederationError> {
        let client = self.client(provider, found)?;
        let http = |request: oauth2::HttpRequest| {
            let outbound = self.http.clone();
            async move { outbound.send(request, MAX_TOKEN_RESPONSE_BYTES).await }
        };
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(record.code_verifier.clone()));
        if let UpstreamClientAuth::PrivateKeyJwt = provider.client_auth {
            let assertion = self
                .client_assertion(provider, self.clock.now())
                .map_err(|e| FederationError::Upstream(e.to_string()))?;
            exchange = exchange
                .add_extra_param("client_assertion_type", broker::JWT_BEARER_ASSERTION)
                .add_extra_param("client_assertion", assertion);
        }
        let response = exchange
            .request_async(&http)
            .await
            .map_err(|e| FederationError::Upstream(format!("code exchange failed: {e}")))?;
        use oauth2::TokenResponse as _;
        let _ = response.access_token(); // never used or passed on (FED-4)
        response
            .extra_fields()
            .id_token
            .clone()
            .ok_or_else(|| FederationError::Upstream("no id_token in the answer".to_owned()))
    }
}

/// The parameters of the callback.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state sent upstream.
    pub state: Option<String>,
    /// RFC 9207 issuer identifier.
    pub iss: Option<String>,
    /// An error instead of a code.
    pub error: Option<String>,
}
