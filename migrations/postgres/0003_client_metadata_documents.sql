-- Client ID Metadata Documents (CIMD). A CIMD client is a row in `clients` (source
-- 'cimd') so requests, consents, codes and grants reference it like any other client;
-- `cimd_clients` keeps the last valid document, the fetch state and the approval.

CREATE TABLE cimd_clients (
    client_id        TEXT   NOT NULL PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    -- The last valid document, as JSON, and the hash of its security-relevant members
    -- (redirect URIs, auth method, keys, grants, scope, name, logo; CIMD-23).
    document         TEXT   NOT NULL,
    fingerprint      TEXT   NOT NULL,
    first_seen_at    BIGINT NOT NULL,
    fetched_at       BIGINT NOT NULL,
    cache_expires_at BIGINT NOT NULL,
    last_checked_at  BIGINT NOT NULL,
    -- 'valid', or 'failing' after a refetch failed (last_error says why).
    status           TEXT   NOT NULL,
    last_error       TEXT,
    -- NULL while waiting for an administrator (cimd.require_approval, CIMD-28).
    approved_at      BIGINT,
    approved_by      TEXT
);

-- Host rules added through the admin API, beside cimd.allow_hosts / cimd.deny_hosts.
CREATE TABLE cimd_host_rules (
    rule_id    TEXT   NOT NULL PRIMARY KEY,
    pattern    TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    note       TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT cimd_host_rules_unique UNIQUE (pattern, action)
);

-- CIMD-22: the client as validated is pinned to the request, the consent and the code.
ALTER TABLE authorization_requests ADD COLUMN client_name TEXT;
ALTER TABLE authorization_requests ADD COLUMN client_fingerprint TEXT;
ALTER TABLE consents ADD COLUMN client_fingerprint TEXT;
ALTER TABLE authorization_codes ADD COLUMN client_fingerprint TEXT;
