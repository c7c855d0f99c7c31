//! Sign-in of local users: argon2 on the blocking pool, rate limits per username and
//! per client address, and one answer for unknown users and wrong passwords (SEC-12).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use secrecy::SecretString;
use tokio::sync::OnceCell;

use super::password::{PasswordError, hash_password, verify_password};
use crate::crypto::random_token;
use crate::domain::ids::UserId;
use crate::domain::user::Username;
use crate::storage::{Store, StoreError};

/// The result of a sign-in attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Correct credentials of an enabled user.
    Success(UserId),
    /// Wrong password, unknown or disabled user: deliberately indistinguishable.
    Invalid,
    /// Too many attempts for this username or address; try again later.
    Throttled,
}

/// Why sign-in could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// Attempt limits, shared by every request of this instance.
pub struct LoginGuard {
    by_username: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    /// A hash verified for unknown users, so they cost what known users cost.
    decoy_hash: OnceCell<String>,
}

impl std::fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginGuard").finish_non_exhaustive()
    }
}

fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_minute(burst))
        .allow_burst(burst)
}

impl LoginGuard {
    /// Allows `per_username` attempts in a burst per username (then one per 12 s) and
    /// `per_address` per client address (then one per 3 s).
    pub fn new(per_username: u32, per_address: u32) -> Self {
        Self {
            by_username: RateLimiter::keyed(quota(per_username, Duration::from_secs(12))),
            by_address: RateLimiter::keyed(quota(per_address, Duration::from_secs(3))),
            decoy_hash: OnceCell::new(),
        }
    }

    /// Checks `username` and `password` from `address`.
    pub async fn attempt(
        &self,
        store: &Store,
        username: &str,
        password: SecretString,
        address: IpAddr,
    ) -> Result<LoginOutcome, LoginError> {
        let key = username.trim().to_ascii_lowercase();
        let address_ok = self.by_address.check_key(&address).is_ok();
        let username_ok = self.by_username.check_key(&key).is_ok();
        if !address_ok || !username_ok {
            return Ok(LoginOutcome::Throttled);
        }
        let record = match Username::parse(&key) {
            Ok(name) => store.find_user_by_username(&name).await?,
            Err(_) => None,
        };
        let candidate = record
            .filter(|r| r.user.is_enabled)
            .and_then(|r| r.password_hash.map(|hash| (r.user.id, hash)));
        match candidate {
            Some((id, hash)) => Ok(if verify_password(password, hash).await? {
                LoginOutcome::Success(id)
            } else {
                LoginOutcome::Invalid
            }),
            None => {
                let decoy = self.decoy().await?;
                let _ = verify_password(password, decoy).await?;
                Ok(LoginOutcome::Invalid)
            }
        }
    }

    async fn decoy(&self) -> Result<String, PasswordError> {
        self.decoy_hash
            .get_or_try_init(|| async {
                let secret = random_token().map_err(|_| PasswordError)?;
                hash_password(SecretString::from(secret)).await
            })
            .await
            .cloned()
    }
}
