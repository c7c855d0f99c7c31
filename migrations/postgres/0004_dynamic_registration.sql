-- Dynamic Client Registration (RFC 7591, DCR-*): initial access tokens, and what a
-- dynamic registration adds to a client. Instants are Unix seconds (BIGINT); hashes BYTEA.

-- Tokens an operator hands out so that a client may register in dcr.mode = "token"
-- (DCR-9). Only the keyed hash is stored (SEC-13). `registrations` counts uses and is
-- raised by one guarded UPDATE in the transaction that inserts the client, so
-- max_registrations holds under concurrency.
CREATE TABLE initial_access_tokens (
    token_id          TEXT   NOT NULL PRIMARY KEY,
    token_hash        BYTEA  NOT NULL CONSTRAINT initial_access_tokens_hash_unique UNIQUE,
    description       TEXT   NOT NULL,
    max_registrations BIGINT,
    registrations     BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    revoked_at        BIGINT
);

-- One row per dynamically registered client, deleted with it. A table of its own rather
-- than columns on `clients`: these facts exist only for DCR clients (pre-registered and
-- CIMD clients would carry NULLs), the cleanup of unused registrations reads this table
-- alone, and the shared `clients` table keeps its shape.
CREATE TABLE dcr_registrations (
    client_id               TEXT   NOT NULL PRIMARY KEY
                                   REFERENCES clients (client_id) ON DELETE CASCADE,
    application_type        TEXT   NOT NULL,
    initial_access_token_id TEXT   REFERENCES initial_access_tokens (token_id) ON DELETE SET NULL,
    registered_at           BIGINT NOT NULL,
    registration_address    TEXT,
    client_uri              TEXT,
    logo_uri                TEXT,
    tos_uri                 TEXT,
    policy_uri              TEXT
);
CREATE INDEX dcr_registrations_by_time ON dcr_registrations (registered_at);
CREATE INDEX grants_by_client ON grants (client_id);
