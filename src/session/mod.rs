//! People in browsers: sessions, CSRF tokens, sign-in with rate limits, passwords.
//!
//! A session id is a 256-bit random cookie value; the database keeps only its keyed
//! hash. CSRF tokens are derived from the session id with a separate key, so they are
//! bound to the session without being stored (SEC-6). The id changes at sign-in (SEC-18).

pub mod login;
pub mod password;

use std::time::Duration;

use crate::clock::{SharedClock, seconds};
use crate::crypto::{CryptoError, KeyEncryptionKey, SecretHasher, constant_time_eq, random_token};
use crate::domain::ids::UserId;
use crate::storage::{SessionRecord, Store, StoreError};

/// Name of the session cookie; `__Host-` pins it to our origin, path `/`, Secure (SEC-18).
pub const SESSION_COOKIE: &str = "__Host-mcp-authz-session";

/// A session found from its cookie value.
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie value (the secret).
    pub id: String,
    /// The stored record.
    pub record: SessionRecord,
}

impl Session {
    /// The signed-in user, if any.
    pub fn user(&self) -> Option<UserId> {
        self.record.user()
    }
}

/// Creates, finds, rotates and ends sessions; issues and checks CSRF tokens.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    id_hasher: SecretHasher,
    csrf_hasher: SecretHasher,
    clock: SharedClock,
    ttl: Duration,
    sealer: KeyEncryptionKey,
}

/// The seal purpose of a secret kept for its one showing.
const REVEAL_PURPOSE: &str = "console reveal";

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Randomness failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl Sessions {
    /// Sessions stored in `store`, lasting `ttl`.
    pub fn new(
        store: Store,
        id_hasher: SecretHasher,
        csrf_hasher: SecretHasher,
        clock: SharedClock,
        ttl: Duration,
        sealer: KeyEncryptionKey,
    ) -> Self {
        Self {
            store,
            id_hasher,
            csrf_hasher,
            clock,
            ttl,
            sealer,
        }
    }

    /// Keeps `secret` (sealed) for the session's next page, where [`Sessions::take_reveal`]
    /// shows it once: a POST can answer 303 without putting a secret in a URL.
    pub async fn keep_reveal(&self, session: &Session, secret: &str) -> Result<(), SessionError> {
        let sealed = self.sealer.seal(REVEAL_PURPOSE, secret.as_bytes())?;
        self.store
            .set_reveal(&session.record.session_hash, &sealed)
            .await?;
        Ok(())
    }

    /// The kept secret, removed as it is read.
    pub async fn take_reveal(&self, session: &Session) -> Result<Option<String>, SessionError> {
        let Some(sealed) = self.store.take_reveal(&session.record.session_hash).await? else {
            return Ok(None);
        };
        let plain = self.sealer.open(REVEAL_PURPOSE, &sealed)?;
        Ok(String::from_utf8(plain).ok())
    }

    /// The live session for a cookie value.
    pub async fn find(&self, cookie: &str) -> Result<Option<Session>, SessionError> {
        let hash = self.id_hasher.hash(cookie);
        let record = self.store.find_session(&hash, self.clock.now()).await?;
        Ok(record.map(|record| Session {
            id: cookie.to_owned(),
            record,
        }))
    }

    /// Starts an anonymous session (it carries the CSRF binding of the sign-in form).
    pub async fn start_anonymous(&self) -> Result<Session, SessionError> {
        let (session, record) = self.new_session(None)?;
        self.store.insert_session(&record).await?;
        Ok(session)
    }

    /// Replaces `previous` by a new session for `user`: the id rotates at sign-in (SEC-18).
    pub async fn sign_in(
        &self,
        previous: Option<&Session>,
        user: &UserId,
    ) -> Result<Session, SessionError> {
        let (session, record) = self.new_session(Some(user))?;
        let old_hash = previous.map(|p| p.record.session_hash.clone());
        self.store
            .rotate_session(old_hash.as_deref(), &record)
            .await?;
        Ok(session)
    }

    /// Ends a session.
    pub async fn sign_out(&self, session: &Session) -> Result<(), SessionError> {
        self.store
            .delete_session(&session.record.session_hash)
            .await?;
        Ok(())
    }

    /// Whether the admin console may still serve `session` at `now`: used there within
    /// `idle` (or signed in within `idle`, on its first console request).
    pub fn console_active(&self, session: &Session, idle: Duration) -> bool {
        let record = &session.record;
        let last = record
            .last_seen_at
            .or(record.auth_time)
            .unwrap_or(record.created_at);
        self.clock.now().saturating_sub(last) <= seconds(idle)
    }

    /// Notes console use of `session` (written at most once a minute).
    pub async fn touch_console(&self, session: &Session) -> Result<(), SessionError> {
        let now = self.clock.now();
        if session
            .record
            .last_seen_at
            .is_none_or(|seen| now.saturating_sub(seen) >= 60)
        {
            self.store
                .touch_session(&session.record.session_hash, now)
                .await?;
        }
        Ok(())
    }

    /// The CSRF token for forms shown in `session` (SEC-6).
    pub fn csrf_token(&self, session: &Session) -> String {
        self.csrf_hasher.hash_encoded(&session.id)
    }

    /// Whether `token` is the CSRF token of `session`, compared in constant time.
    pub fn csrf_matches(&self, session: &Session, token: &str) -> bool {
        constant_time_eq(self.csrf_token(session).as_bytes(), token.as_bytes())
    }

    /// Cookie lifetime in seconds.
    pub fn max_age(&self) -> i64 {
        seconds(self.ttl)
    }

    fn new_session(&self, user: Option<&UserId>) -> Result<(Session, SessionRecord), SessionError> {
        let now = self.clock.now();
        let id = random_token()?;
        let record = SessionRecord {
            session_hash: self.id_hasher.hash(&id),
            user_id: user.map(ToString::to_string),
            auth_time: user.map(|_| now),
            created_at: now,
            expires_at: now.saturating_add(seconds(self.ttl)),
            last_seen_at: None,
        };
        Ok((
            Session {
                id,
                record: record.clone(),
            },
            record,
        ))
    }
}
