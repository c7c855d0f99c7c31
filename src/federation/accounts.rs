//! Local accounts of external identities (XAA-13, FED-4): an identity is (issuer,
//! tenant, subject) and maps to exactly one local user; it is never merged with
//! another issuer's. An unknown identity is linked to an existing account only through
//! a verified email the operator recorded for that account, and gets a new account only
//! through just-in-time provisioning, each where the operator enabled it for the source.

use serde_json::json;

use crate::audit::{self, Actor};
use crate::clock::UnixTime;
use crate::crypto::{CryptoError, random_bytes};
use crate::domain::ids::UserId;
use crate::domain::user::{Email, User, Username};
use crate::storage::{ExternalIdentity, Store, StoreError};

/// Why no usable account was found.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No account is linked and provisioning is off.
    #[error("no account is linked to this identity")]
    NotLinked,
    /// The linked account is disabled (or was deleted meanwhile).
    #[error("the account is disabled")]
    Disabled,
    /// Randomness failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to do with an identity seen for the first time.
#[derive(Debug, Clone, Copy)]
pub struct Provisioning<'a> {
    /// Create an account (else: refuse).
    pub enabled: bool,
    /// The username to try first (an email or preferred username), if valid and free.
    pub preferred_username: Option<&'a str>,
    /// A verified address to link by, present only when the source's policy allows
    /// verified-email linking and the source vouched for the address.
    pub linkable_email: Option<&'a str>,
    /// For the audit event: which IdP or provider.
    pub source: &'a str,
}

/// The enabled local user of `identity`, provisioned on first sight when allowed.
pub async fn account_for(
    store: &Store,
    identity: &ExternalIdentity<'_>,
    provisioning: Provisioning<'_>,
    now: UnixTime,
) -> Result<UserId, AccountError> {
    match store.find_identity_user(identity, now).await? {
        Some((user, true)) => Ok(user),
        Some((_, false)) => Err(AccountError::Disabled),
        None => {
            if let Some(user) = link_by_email(store, identity, provisioning, now).await? {
                return Ok(user);
            }
            if provisioning.enabled {
                provision(store, identity, provisioning, now).await
            } else {
                Err(AccountError::NotLinked)
            }
        }
    }
}

/// Verified-email linking (XAA-13): the account whose recorded address equals the
/// identity's, if it has no identity from this issuer yet. A disabled match refuses
/// the sign-in rather than falling through to a fresh account.
async fn link_by_email(
    store: &Store,
    identity: &ExternalIdentity<'_>,
    provisioning: Provisioning<'_>,
    now: UnixTime,
) -> Result<Option<UserId>, AccountError> {
    let Some(email) = provisioning
        .linkable_email
        .and_then(|raw| Email::parse(raw).ok())
    else {
        return Ok(None);
    };
    let Some(record) = store.find_user_by_email(&email).await? else {
        return Ok(None);
    };
    if !record.user.is_enabled {
        return Err(AccountError::Disabled);
    }
    let detail = json!({
        "source": provisioning.source,
        "issuer": identity.issuer,
        "email": email.as_str(),
    });
    let event = audit::event(
        &Actor::System,
        "user.identity_linked",
        "user",
        record.user.id.as_str(),
        detail,
    );
    match store
        .link_identity(identity, &record.user.id, &event, now)
        .await
    {
        Ok(true) => Ok(Some(record.user.id)),
        // The account already speaks for another subject of this issuer: not a match.
        Ok(false) => Ok(None),
        // Another request linked this identity first: use what it linked.
        Err(StoreError::Conflict { .. }) => match store.find_identity_user(identity, now).await? {
            Some((user, true)) => Ok(Some(user)),
            Some((_, false)) => Err(AccountError::Disabled),
            None => Ok(None),
        },
        Err(error) => Err(error.into()),
    }
}

async fn provision(
    store: &Store,
    identity: &ExternalIdentity<'_>,
    provisioning: Provisioning<'_>,
    now: UnixTime,
) -> Result<UserId, AccountError> {
    let preferred = provisioning.preferred_username.unwrap_or(identity.subject);
    let candidates = [Username::parse(preferred).ok(), None];
    for username in candidates {
        let username = match username {
            Some(name) => name,
            None => generated_username()?,
        };
        let user = User {
            id: UserId::generate()?,
            username,
            email: None,
            is_enabled: true,
            is_admin: false,
            created_at: now,
            updated_at: now,
        };
        let detail = json!({
            "source": provisioning.source,
            "issuer": identity.issuer,
            "username": user.username.as_str(),
        });
        let event = audit::event(
            &Actor::System,
            "user.provisioned",
            "user",
            user.id.as_str(),
            detail,
        );
        match store.insert_provisioned_user(&user, identity, &event).await {
            Ok(()) => return Ok(user.id),
            // The username is taken by someone else: try a generated one.
            Err(StoreError::Conflict { field: "username" }) => {}
            // Another request provisioned this identity first: use its account.
            Err(StoreError::Conflict { .. }) => {
                match store.find_identity_user(identity, now).await? {
                    Some((existing, true)) => return Ok(existing),
                    Some((_, false)) => return Err(AccountError::Disabled),
                    None => {}
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(AccountError::NotLinked)
}

fn generated_username() -> Result<Username, AccountError> {
    let random = random_bytes::<8>()?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    // "ext-" and 16 hex digits always form a valid username.
    Username::parse(&format!("ext-{hex}")).map_err(|_| AccountError::NotLinked)
}
