//! Authorization servers we issue ID-JAGs for, and which clients may ask (XAA-21).

use sqlx::FromRow;

use super::audit::insert_audit;
use super::{AuditEvent, Page, PageRequest, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;
use crate::domain::idp::{AudienceClient, IdJagAudience, SubjectClaim};
use crate::domain::ids::{ClientId, IdJagAudienceId};
use crate::domain::scope::ScopeSet;

#[derive(FromRow)]
struct AudienceRow {
    audience_id: String,
    issuer: String,
    name: String,
    aliases: String,
    resources: String,
    scope: Option<String>,
    subject_claim: String,
    is_enabled: bool,
    via_provider: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const AUDIENCE_COLUMNS: &str = "audience_id, issuer, name, aliases, resources, scope, \
    subject_claim, is_enabled, via_provider, created_at, updated_at";
const INSERT_AUDIENCE: &str = "\
INSERT INTO id_jag_audiences (audience_id, issuer, name, aliases, resources, scope, \
    subject_claim, is_enabled, via_provider, created_at, updated_at) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const UPDATE_AUDIENCE: &str = "\
UPDATE id_jag_audiences SET issuer = $2, name = $3, aliases = $4, resources = $5, scope = $6, \
    subject_claim = $7, is_enabled = $8, via_provider = $9, updated_at = $10 \
    WHERE audience_id = $1";
const DELETE_AUDIENCE: &str = "DELETE FROM id_jag_audiences WHERE audience_id = $1";
const INSERT_AUDIENCE_CLIENT: &str = "INSERT INTO id_jag_audience_clients \
    (audience_id, client_id, client_id_at_audience) VALUES ($1, $2, $3)";
const DELETE_AUDIENCE_CLIENTS: &str = "DELETE FROM id_jag_audience_clients WHERE audience_id = $1";
const CLIENTS_OF_AUDIENCE: &str = "SELECT client_id, client_id_at_audience \
    FROM id_jag_audience_clients WHERE audience_id = $1 ORDER BY client_id";

/// Inserts the client list of `$audience` inside transaction `$tx`.
macro_rules! insert_audience_clients {
    ($tx:ident, $audience:expr) => {{
        let audience: &IdJagAudience = $audience;
        for client in &audience.clients {
            sqlx::query(INSERT_AUDIENCE_CLIENT)
                .bind(audience.id.as_str())
                .bind(client.client_id.as_str())
                .bind(&client.client_id_at_audience)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

impl Store {
    /// Inserts an audience with its clients and the audit event, atomically.
    pub async fn insert_audience(
        &self,
        audience: &IdJagAudience,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            sqlx::query(INSERT_AUDIENCE)
                .bind(audience.id.as_str())
                .bind(&audience.issuer)
                .bind(&audience.name)
                .bind(audience.aliases.join(" "))
                .bind(audience.resources.join(" "))
                .bind(audience.scope.as_ref().map(ToString::to_string))
                .bind(audience.subject_claim.as_str())
                .bind(audience.is_enabled)
                .bind(&audience.via_provider)
                .bind(audience.created_at)
                .bind(audience.updated_at)
                .execute(&mut *tx)
                .await?;
            insert_audience_clients!(tx, audience);
            insert_audit!(tx, event, audience.created_at);
        });
        Ok(())
    }

    /// Replaces an audience and its clients, with the audit event.
    pub async fn update_audience(
        &self,
        audience: &IdJagAudience,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            let updated = sqlx::query(UPDATE_AUDIENCE)
                .bind(audience.id.as_str())
                .bind(&audience.issuer)
                .bind(&audience.name)
                .bind(audience.aliases.join(" "))
                .bind(audience.resources.join(" "))
                .bind(audience.scope.as_ref().map(ToString::to_string))
                .bind(audience.subject_claim.as_str())
                .bind(audience.is_enabled)
                .bind(&audience.via_provider)
                .bind(audience.updated_at)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(DELETE_AUDIENCE_CLIENTS)
                .bind(audience.id.as_str())
                .execute(&mut *tx)
                .await?;
            insert_audience_clients!(tx, audience);
            insert_audit!(tx, event, audience.updated_at);
        });
        Ok(())
    }

    /// Deletes an audience (its client list cascades).
    pub async fn delete_audience(
        &self,
        id: &IdJagAudienceId,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.delete_audited(DELETE_AUDIENCE, id.as_str(), event, now)
            .await
    }

    /// The audience with this id.
    pub async fn find_audience(
        &self,
        id: &IdJagAudienceId,
    ) -> Result<Option<IdJagAudience>, StoreError> {
        let sql = format!("SELECT {AUDIENCE_COLUMNS} FROM id_jag_audiences WHERE audience_id = $1");
        let row: Option<AudienceRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
        })?;
        match row {
            Some(row) => Ok(Some(self.with_audience_clients(row).await?)),
            None => Ok(None),
        }
    }

    /// A page of audiences ordered by id.
    pub async fn list_audiences(
        &self,
        page: &PageRequest,
        search: Option<&str>,
    ) -> Result<Page<IdJagAudience>, StoreError> {
        let sql = format!(
            "SELECT {AUDIENCE_COLUMNS} FROM id_jag_audiences WHERE audience_id > $1 \
               AND ($3 IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\' OR LOWER(issuer) LIKE $3 ESCAPE '\\') \
             ORDER BY audience_id LIMIT $2"
        );
        let pattern = search.map(super::contains_pattern);
        let rows: Vec<AudienceRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await
        })?;
        let mut audiences = Vec::with_capacity(rows.len());
        for row in rows {
            audiences.push(self.with_audience_clients(row).await?);
        }
        Ok(page.page(audiences, |a| a.id.to_string()))
    }

    /// Every audience (a token exchange matches `audience` against issuers and aliases;
    /// the list is small).
    pub async fn list_all_audiences(&self) -> Result<Vec<IdJagAudience>, StoreError> {
        let page = PageRequest {
            after: None,
            limit: u32::MAX - 1,
        };
        Ok(self.list_audiences(&page, None).await?.items)
    }

    async fn with_audience_clients(&self, row: AudienceRow) -> Result<IdJagAudience, StoreError> {
        let clients: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as(CLIENTS_OF_AUDIENCE)
                .bind(&row.audience_id)
                .fetch_all(pool)
                .await
        })?;
        let corrupt = |what: &str| {
            StoreError::Corrupt(format!("ID-JAG audience {}: {what}", row.audience_id))
        };
        let scope = row
            .scope
            .as_deref()
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|_| corrupt("scope"))?;
        let subject_claim =
            SubjectClaim::parse(&row.subject_claim).ok_or_else(|| corrupt("subject_claim"))?;
        let words = |raw: &str| raw.split_whitespace().map(str::to_owned).collect();
        Ok(IdJagAudience {
            id: IdJagAudienceId::from_stored(row.audience_id.clone()),
            aliases: words(&row.aliases),
            resources: words(&row.resources),
            issuer: row.issuer,
            name: row.name,
            scope,
            subject_claim,
            clients: clients
                .into_iter()
                .map(|(client_id, client_id_at_audience)| AudienceClient {
                    client_id: ClientId::from_stored(client_id),
                    client_id_at_audience,
                })
                .collect(),
            is_enabled: row.is_enabled,
            via_provider: row.via_provider,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
