//! Pending authorization requests, remembered consent and authorization codes.

use sqlx::FromRow;

use super::{Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;

/// A validated authorization request waiting for sign-in and consent, or an error that
/// waits for sign-in before it may be redirected (SEC-9).
#[derive(Debug, Clone, FromRow)]
pub struct AuthorizationRequestRecord {
    /// Random handle carried by the login and consent pages.
    pub request_id: String,
    /// The client.
    pub client_id: String,
    /// Where the answer goes (the matched registered or sent URI).
    pub redirect_uri: String,
    /// Whether the client sent `redirect_uri` (then the token request must repeat it, CORE-18).
    pub redirect_uri_sent: bool,
    /// Echoed unchanged (CORE-17).
    pub state: Option<String>,
    /// S256 challenge (PKCE-4).
    pub code_challenge: Option<String>,
    /// The MCP server the token will be for.
    pub server_id: Option<String>,
    /// The scopes to grant (space-delimited).
    pub scope: Option<String>,
    /// Whether a refresh token will be issued.
    pub offline_access: bool,
    /// A deferred error code.
    pub error_code: Option<String>,
    /// Its description.
    pub error_description: Option<String>,
    /// When created.
    pub created_at: i64,
    /// When it lapses.
    pub expires_at: i64,
    /// When a code or error was issued for it.
    pub completed_at: Option<i64>,
    /// The client's name when the request was validated, shown on the login and consent
    /// pages (CIMD-22: a later document cannot change the displayed client).
    pub client_name: Option<String>,
    /// Fingerprint of the CIMD document the request was validated against (CIMD-22).
    pub client_fingerprint: Option<String>,
    /// The request asked for the `openid` scope: an ID token comes with the tokens.
    pub openid: bool,
    /// The OpenID `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// The request asked for `openid email`: the ID token carries the address.
    pub openid_email: bool,
}

/// An authorization code as stored (the code itself only as a keyed hash, TOK-8).
#[derive(Debug, Clone, FromRow)]
pub struct CodeRecord {
    /// Keyed hash of the code.
    pub code_hash: Vec<u8>,
    /// The grant a redemption creates; known in advance so a replay can revoke it (CORE-14).
    pub grant_id: String,
    /// Bound client (CORE-12).
    pub client_id: String,
    /// Bound user.
    pub user_id: String,
    /// Bound MCP server (RES-4).
    pub server_id: String,
    /// Bound redirect URI.
    pub redirect_uri: String,
    /// Whether the authorization request carried it.
    pub redirect_uri_sent: bool,
    /// Bound PKCE challenge.
    pub code_challenge: String,
    /// Granted scopes.
    pub scope: String,
    /// Whether a refresh token is issued on redemption.
    pub offline_access: bool,
    /// When the user authenticated.
    pub auth_time: i64,
    /// When issued.
    pub created_at: i64,
    /// When it lapses (60 s, CORE-12).
    pub expires_at: i64,
    /// When redeemed.
    pub consumed_at: Option<i64>,
    /// Fingerprint of the CIMD document consent was given to (CIMD-22).
    pub client_fingerprint: Option<String>,
    /// Whether an ID token is issued on redemption.
    pub openid: bool,
    /// The OpenID `nonce` to echo.
    pub nonce: Option<String>,
    /// Whether the ID token carries the account's address.
    pub openid_email: bool,
}

/// Consent to remember with an approval.
#[derive(Debug, Clone)]
pub struct ConsentRecord {
    /// Who consented.
    pub user_id: String,
    /// To which client.
    pub client_id: String,
    /// For which MCP server.
    pub server_id: String,
    /// The union of everything consented so far (SCOPE-5).
    pub scope: String,
    /// Fingerprint of the CIMD document consented to; a changed document invalidates the
    /// consent (CIMD-23). `None` for other clients.
    pub client_fingerprint: Option<String>,
}

/// Consent remembered for a user, client and server.
#[derive(Debug, Clone, FromRow)]
pub struct StoredConsent {
    /// Scopes consented so far.
    pub scope: String,
    /// The CIMD document fingerprint at the time (CIMD-23).
    pub client_fingerprint: Option<String>,
}

const REQUEST_COLUMNS: &str = "request_id, client_id, redirect_uri, redirect_uri_sent, state, \
    code_challenge, server_id, scope, offline_access, error_code, error_description, created_at, \
    expires_at, completed_at, client_name, client_fingerprint, openid, nonce, openid_email";
const INSERT_REQUEST: &str = "\
INSERT INTO authorization_requests (request_id, client_id, redirect_uri, redirect_uri_sent, \
    state, code_challenge, server_id, scope, offline_access, error_code, error_description, \
    created_at, expires_at, client_name, client_fingerprint, openid, nonce, openid_email) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";
const COMPLETE_REQUEST: &str = "\
UPDATE authorization_requests SET completed_at = $2 \
 WHERE request_id = $1 AND completed_at IS NULL AND expires_at > $2";
const UPSERT_CONSENT: &str = "\
INSERT INTO consents (user_id, client_id, server_id, scope, granted_at, updated_at, \
    client_fingerprint) VALUES ($1, $2, $3, $4, $5, $5, $6) \
ON CONFLICT (user_id, client_id, server_id) \
DO UPDATE SET scope = $4, updated_at = $5, client_fingerprint = $6";
const FIND_CONSENT: &str = "SELECT scope, client_fingerprint FROM consents \
 WHERE user_id = $1 AND client_id = $2 AND server_id = $3";
const CODE_COLUMNS: &str = "code_hash, grant_id, client_id, user_id, server_id, redirect_uri, \
    redirect_uri_sent, code_challenge, scope, offline_access, auth_time, created_at, expires_at, \
    consumed_at, client_fingerprint, openid, nonce, openid_email";
const INSERT_CODE: &str = "\
INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, server_id, \
    redirect_uri, redirect_uri_sent, code_challenge, scope, offline_access, auth_time, \
    created_at, expires_at, client_fingerprint, openid, nonce, openid_email) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

impl Store {
    /// Stores a pending authorization request.
    pub async fn insert_authorization_request(
        &self,
        r: &AuthorizationRequestRecord,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(INSERT_REQUEST)
                .bind(&r.request_id)
                .bind(&r.client_id)
                .bind(&r.redirect_uri)
                .bind(r.redirect_uri_sent)
                .bind(&r.state)
                .bind(&r.code_challenge)
                .bind(&r.server_id)
                .bind(&r.scope)
                .bind(r.offline_access)
                .bind(&r.error_code)
                .bind(&r.error_description)
                .bind(r.created_at)
                .bind(r.expires_at)
                .bind(&r.client_name)
                .bind(&r.client_fingerprint)
                .bind(r.openid)
                .bind(&r.nonce)
                .bind(r.openid_email)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The request with this id if it is neither completed nor expired.
    pub async fn find_open_authorization_request(
        &self,
        request_id: &str,
        now: UnixTime,
    ) -> Result<Option<AuthorizationRequestRecord>, StoreError> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM authorization_requests \
             WHERE request_id = $1 AND completed_at IS NULL AND expires_at > $2"
        );
        let row = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(request_id)
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// Marks a request completed without a code (denial, deferred error). `false` when it
    /// was already completed or expired: exactly one answer per request.
    pub async fn complete_authorization_request(
        &self,
        request_id: &str,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let done = with_pool!(self, |pool| {
            sqlx::query(COMPLETE_REQUEST)
                .bind(request_id)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Approves a request: completes it (guarded), remembers the consent and stores the
    /// code, all or nothing. `false` when the request was already answered.
    pub async fn approve_authorization_request(
        &self,
        request_id: &str,
        consent: &ConsentRecord,
        code: &CodeRecord,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let approved = with_tx!(self, |tx| {
            let completed = sqlx::query(COMPLETE_REQUEST)
                .bind(request_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if completed.rows_affected() != 1 {
                return Ok(false);
            }
            sqlx::query(UPSERT_CONSENT)
                .bind(&consent.user_id)
                .bind(&consent.client_id)
                .bind(&consent.server_id)
                .bind(&consent.scope)
                .bind(now)
                .bind(&consent.client_fingerprint)
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_CODE)
                .bind(&code.code_hash)
                .bind(&code.grant_id)
                .bind(&code.client_id)
                .bind(&code.user_id)
                .bind(&code.server_id)
                .bind(&code.redirect_uri)
                .bind(code.redirect_uri_sent)
                .bind(&code.code_challenge)
                .bind(&code.scope)
                .bind(code.offline_access)
                .bind(code.auth_time)
                .bind(code.created_at)
                .bind(code.expires_at)
                .bind(&code.client_fingerprint)
                .bind(code.openid)
                .bind(&code.nonce)
                .bind(code.openid_email)
                .execute(&mut *tx)
                .await?;
            true
        });
        Ok(approved)
    }

    /// The scopes `user` consented to for `client` at `server`.
    pub async fn find_consent(
        &self,
        user_id: &str,
        client_id: &str,
        server_id: &str,
    ) -> Result<Option<StoredConsent>, StoreError> {
        let consent: Option<StoredConsent> = with_pool!(self, |pool| {
            sqlx::query_as(FIND_CONSENT)
                .bind(user_id)
                .bind(client_id)
                .bind(server_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(consent)
    }

    /// Redeems a code and creates its grant in one transaction. The guarded UPDATE lets
    /// exactly one of many concurrent redemptions get the row (CORE-12..14); creating the
    /// grant in the same transaction means a replay that loses the race always finds the
    /// grant to revoke. `None`: unknown, expired or already used.
    pub async fn redeem_code(
        &self,
        hash: &[u8],
        now: UnixTime,
        grant_expires_at: UnixTime,
    ) -> Result<Option<CodeRecord>, StoreError> {
        let consume = format!(
            "UPDATE authorization_codes SET consumed_at = $2 \
             WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
             RETURNING {CODE_COLUMNS}"
        );
        let record = with_tx!(self, |tx| {
            let record: Option<CodeRecord> = sqlx::query_as(&consume)
                .bind(hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(code) = &record {
                sqlx::query(super::grants::INSERT_GRANT)
                    .bind(&code.grant_id)
                    .bind(&code.client_id)
                    .bind(&code.user_id)
                    .bind(&code.server_id)
                    .bind(&code.scope)
                    .bind(code.auth_time)
                    .bind(now)
                    .bind(grant_expires_at)
                    .execute(&mut *tx)
                    .await?;
            }
            record
        });
        Ok(record)
    }

    /// A code that was already redeemed (for replay handling, CORE-14).
    pub async fn find_consumed_code(&self, hash: &[u8]) -> Result<Option<CodeRecord>, StoreError> {
        let sql = format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes \
             WHERE code_hash = $1 AND consumed_at IS NOT NULL"
        );
        let row = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(hash)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }
}
