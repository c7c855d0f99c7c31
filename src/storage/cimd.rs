//! CIMD clients seen (their last valid document, fetch state and approval) and the host
//! rules administrators add at run time (CIMD-21..23, CIMD-28).

use sqlx::FromRow;

use super::audit::insert_audit;
use super::clients::{ClientColumns, source_name};
use super::{AuditEvent, Page, PageRequest, Store, StoreError, with_pool, with_tx};
use crate::clock::UnixTime;
use crate::domain::client::Client;
use crate::domain::ids::ClientId;

/// A freshly fetched, valid document to remember.
#[derive(Debug, Clone, Copy)]
pub struct CimdDocumentRecord<'a> {
    /// The client the document describes (source CIMD).
    pub client: &'a Client,
    /// The document as JSON text.
    pub document: &'a str,
    /// Hash of its security-relevant members (CIMD-23).
    pub fingerprint: &'a str,
    /// When it was fetched.
    pub fetched_at: UnixTime,
    /// When the cache stops trusting it (CIMD-21).
    pub cache_expires_at: UnixTime,
    /// Approve a client seen for the first time (`cimd.require_approval` off).
    pub approve_new: bool,
    /// `cimd.require_approval` on: a changed document waits for approval again (CIMD-23).
    pub reapprove_changes: bool,
}

/// What recording a document found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CimdRecordOutcome {
    /// First time this client was seen.
    New,
    /// Seen before with the same security-relevant members.
    Unchanged,
    /// Seen before with a different fingerprint (CIMD-23).
    Changed {
        /// The fingerprint remembered until now.
        previous: String,
    },
}

/// A CIMD client as the admin API lists it.
#[derive(Debug, Clone, FromRow)]
pub struct CimdClientRecord {
    /// The document URL.
    pub client_id: String,
    /// Display name from the last valid document.
    pub client_name: String,
    /// The last valid document (JSON text).
    pub document: String,
    /// Its fingerprint (CIMD-23).
    pub fingerprint: String,
    /// First successful fetch.
    pub first_seen_at: i64,
    /// Last successful fetch.
    pub fetched_at: i64,
    /// When that fetch's cache lifetime ends.
    pub cache_expires_at: i64,
    /// Last fetch attempt.
    pub last_checked_at: i64,
    /// `valid` or `failing`.
    pub status: String,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When an administrator (or the policy) approved it; `None` while pending.
    pub approved_at: Option<i64>,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// The client's enabled switch (an administrator may block a CIMD client).
    pub is_enabled: bool,
}

/// A host rule added through the admin API (CIMD-28).
#[derive(Debug, Clone, FromRow)]
pub struct CimdHostRuleRecord {
    /// Id.
    pub rule_id: String,
    /// `example.com` or `*.example.com`, lower-case.
    pub pattern: String,
    /// `allow` or `deny`.
    pub action: String,
    /// Why it was added.
    pub note: Option<String>,
    /// When added.
    pub created_at: i64,
}

const UPSERT_CLIENT: &str = "\
INSERT INTO clients (client_id, client_name, token_endpoint_auth_method, redirect_uris, \
    grant_types, scope, jwks, jwks_uri, allows_all_servers, source, may_introspect, is_enabled, \
    created_at, updated_at) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, FALSE, TRUE, $10, $10) \
ON CONFLICT (client_id) DO UPDATE SET client_name = $2, token_endpoint_auth_method = $3, \
    redirect_uris = $4, grant_types = $5, scope = $6, jwks = $7, jwks_uri = $8, updated_at = $10 \
 WHERE clients.source = $9";
const FINGERPRINT_OF: &str = "SELECT fingerprint FROM cimd_clients WHERE client_id = $1";
const UPSERT_DOCUMENT: &str = "\
INSERT INTO cimd_clients (client_id, document, fingerprint, first_seen_at, fetched_at, \
    cache_expires_at, last_checked_at, status, last_error, approved_at, approved_by) \
VALUES ($1, $2, $3, $4, $4, $5, $4, 'valid', NULL, $6, $7) \
ON CONFLICT (client_id) DO UPDATE SET document = $2, fingerprint = $3, fetched_at = $4, \
    cache_expires_at = $5, last_checked_at = $4, status = 'valid', last_error = NULL, \
    approved_at = CASE WHEN $8 AND cimd_clients.fingerprint <> $3 THEN NULL \
                       ELSE cimd_clients.approved_at END, \
    approved_by = CASE WHEN $8 AND cimd_clients.fingerprint <> $3 THEN NULL \
                       ELSE cimd_clients.approved_by END";
const RECORD_FAILURE: &str = "\
UPDATE cimd_clients SET status = 'failing', last_error = $2, last_checked_at = $3 \
 WHERE client_id = $1";
const CIMD_COLUMNS: &str = "c.client_id, k.client_name, c.document, c.fingerprint, \
    c.first_seen_at, c.fetched_at, c.cache_expires_at, c.last_checked_at, c.status, \
    c.last_error, c.approved_at, c.approved_by, k.is_enabled";
const APPROVE: &str = "\
UPDATE cimd_clients SET approved_at = $2, approved_by = $3 WHERE client_id = $1";
const SET_ENABLED: &str = "\
UPDATE clients SET is_enabled = $2, updated_at = $3 WHERE client_id = $1 AND source = 'cimd'";
const LIST_RULES: &str = "\
SELECT rule_id, pattern, action, note, created_at FROM cimd_host_rules \
 ORDER BY pattern, action";
const INSERT_RULE: &str = "\
INSERT INTO cimd_host_rules (rule_id, pattern, action, note, created_at) \
VALUES ($1, $2, $3, $4, $5)";
const DELETE_RULE: &str = "DELETE FROM cimd_host_rules WHERE rule_id = $1";

impl Store {
    /// Remembers a valid document: the client row (keeping its enabled switch), the
    /// document and fingerprint, and `seen` or `changed` in the audit log, in one
    /// transaction. A client id already used by a non-CIMD client is a conflict.
    pub async fn record_cimd_document(
        &self,
        record: &CimdDocumentRecord<'_>,
        seen: &AuditEvent,
        changed: &AuditEvent,
    ) -> Result<CimdRecordOutcome, StoreError> {
        let client = record.client;
        let columns = ClientColumns::of(client);
        let now = record.fetched_at;
        let (approved_at, approved_by) = if record.approve_new {
            (Some(now), Some("policy"))
        } else {
            (None, None)
        };
        let outcome = with_tx!(self, |tx| {
            let previous: Option<(String,)> = sqlx::query_as(FINGERPRINT_OF)
                .bind(client.id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let upserted = sqlx::query(UPSERT_CLIENT)
                .bind(client.id.as_str())
                .bind(&client.name)
                .bind(client.auth_method.as_str())
                .bind(&columns.redirect_uris)
                .bind(&columns.grant_types)
                .bind(&columns.scope)
                .bind(&columns.jwks)
                .bind(&columns.jwks_uri)
                .bind(source_name(client.source))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if upserted.rows_affected() != 1 {
                return Err(StoreError::Conflict { field: "client_id" });
            }
            sqlx::query(UPSERT_DOCUMENT)
                .bind(client.id.as_str())
                .bind(record.document)
                .bind(record.fingerprint)
                .bind(now)
                .bind(record.cache_expires_at)
                .bind(approved_at)
                .bind(approved_by)
                .bind(record.reapprove_changes)
                .execute(&mut *tx)
                .await?;
            let outcome = match previous {
                None => CimdRecordOutcome::New,
                Some((previous,)) if previous == record.fingerprint => CimdRecordOutcome::Unchanged,
                Some((previous,)) => CimdRecordOutcome::Changed { previous },
            };
            match outcome {
                CimdRecordOutcome::New => insert_audit!(tx, seen, now),
                CimdRecordOutcome::Changed { .. } => insert_audit!(tx, changed, now),
                CimdRecordOutcome::Unchanged => {}
            }
            outcome
        });
        self.cache.forget_client(client.id.as_str());
        Ok(outcome)
    }

    /// Marks a known CIMD client's last fetch as failed; unknown ids are left alone, so
    /// arbitrary URLs never grow the table.
    pub async fn record_cimd_failure(
        &self,
        id: &ClientId,
        error: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(RECORD_FAILURE)
                .bind(id.as_str())
                .bind(error)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The CIMD client with this id.
    pub async fn find_cimd_client(
        &self,
        id: &ClientId,
    ) -> Result<Option<CimdClientRecord>, StoreError> {
        let sql = format!(
            "SELECT {CIMD_COLUMNS} FROM cimd_clients c JOIN clients k ON k.client_id = c.client_id \
             WHERE c.client_id = $1"
        );
        let row = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// A page of CIMD clients ordered by id.
    pub async fn list_cimd_clients(
        &self,
        page: &PageRequest,
        search: Option<&str>,
    ) -> Result<Page<CimdClientRecord>, StoreError> {
        let sql = format!(
            "SELECT {CIMD_COLUMNS} FROM cimd_clients c JOIN clients k ON k.client_id = c.client_id \
             WHERE c.client_id > $1 AND ($3 IS NULL OR LOWER(k.client_name) LIKE $3 ESCAPE '\\' OR LOWER(c.client_id) LIKE $3 ESCAPE '\\') \
             ORDER BY c.client_id LIMIT $2"
        );
        let pattern = search.map(super::contains_pattern);
        let rows: Vec<CimdClientRecord> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(page.after_key())
                .bind(page.fetch_limit())
                .bind(&pattern)
                .fetch_all(pool)
                .await
        })?;
        Ok(page.page(rows, |r| r.client_id.clone()))
    }

    /// Approves a CIMD client (CIMD-28), with its audit event.
    pub async fn approve_cimd_client(
        &self,
        id: &ClientId,
        approved_by: &str,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            let updated = sqlx::query(APPROVE)
                .bind(id.as_str())
                .bind(now)
                .bind(approved_by)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(tx, event, now);
        });
        self.cache.forget_client(id.as_str());
        Ok(())
    }

    /// Enables or blocks a CIMD client, with its audit event.
    pub async fn set_cimd_client_enabled(
        &self,
        id: &ClientId,
        enabled: bool,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            let updated = sqlx::query(SET_ENABLED)
                .bind(id.as_str())
                .bind(enabled)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(tx, event, now);
        });
        self.cache.forget_client(id.as_str());
        Ok(())
    }

    /// Every host rule, by pattern.
    pub async fn list_cimd_host_rules(&self) -> Result<Vec<CimdHostRuleRecord>, StoreError> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as(LIST_RULES).fetch_all(pool).await
        })?;
        Ok(rows)
    }

    /// Adds a host rule, with its audit event.
    pub async fn insert_cimd_host_rule(
        &self,
        rule: &CimdHostRuleRecord,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        with_tx!(self, |tx| {
            sqlx::query(INSERT_RULE)
                .bind(&rule.rule_id)
                .bind(&rule.pattern)
                .bind(&rule.action)
                .bind(&rule.note)
                .bind(rule.created_at)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, event, rule.created_at);
        });
        Ok(())
    }

    /// Removes a host rule, with its audit event.
    pub async fn delete_cimd_host_rule(
        &self,
        rule_id: &str,
        event: &AuditEvent,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.delete_audited(DELETE_RULE, rule_id, event, now).await
    }
}
