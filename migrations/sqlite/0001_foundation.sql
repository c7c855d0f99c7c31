-- Foundation schema: MCP servers and their scopes, clients, users, signing keys,
-- admin tokens and the audit log. Instants are Unix seconds (BIGINT); hashes are BLOB.

CREATE TABLE servers (
    server_id        TEXT    NOT NULL PRIMARY KEY,
    resource         TEXT    NOT NULL CONSTRAINT servers_resource_unique UNIQUE,
    name             TEXT    NOT NULL,
    access_token_ttl BIGINT,
    is_enabled       BOOLEAN NOT NULL,
    is_default       BOOLEAN NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
-- RES-6: at most one default resource.
CREATE UNIQUE INDEX servers_single_default ON servers (is_default) WHERE is_default;

CREATE TABLE server_scopes (
    server_id   TEXT    NOT NULL REFERENCES servers (server_id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    is_default  BOOLEAN NOT NULL,
    position    BIGINT  NOT NULL,
    PRIMARY KEY (server_id, name)
);

CREATE TABLE clients (
    client_id                  TEXT    NOT NULL PRIMARY KEY,
    client_name                TEXT    NOT NULL,
    token_endpoint_auth_method TEXT    NOT NULL,
    redirect_uris              TEXT    NOT NULL,
    grant_types                TEXT    NOT NULL,
    scope                      TEXT,
    jwks                       TEXT,
    jwks_uri                   TEXT,
    allows_all_servers         BOOLEAN NOT NULL,
    source                     TEXT    NOT NULL,
    is_enabled                 BOOLEAN NOT NULL,
    created_at                 BIGINT  NOT NULL,
    updated_at                 BIGINT  NOT NULL
);

CREATE TABLE client_servers (
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    server_id TEXT NOT NULL REFERENCES servers (server_id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, server_id)
);
CREATE INDEX client_servers_by_server ON client_servers (server_id);

CREATE TABLE client_secrets (
    secret_id   TEXT   NOT NULL PRIMARY KEY,
    client_id   TEXT   NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    secret_hash BLOB   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id);

CREATE TABLE users (
    user_id       TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL CONSTRAINT users_username_unique UNIQUE,
    password_hash TEXT,
    is_enabled    BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- generation: 1 for the first key, +1 per successor; UNIQUE makes concurrent
-- instances that both try to add the next key agree on one winner (META-10).
CREATE TABLE signing_keys (
    kid             TEXT   NOT NULL PRIMARY KEY,
    generation      BIGINT NOT NULL CONSTRAINT signing_keys_generation_unique UNIQUE,
    algorithm       TEXT   NOT NULL,
    private_key     BLOB   NOT NULL,
    public_jwk      TEXT   NOT NULL,
    publish_at      BIGINT NOT NULL,
    activate_at     BIGINT NOT NULL,
    retire_at       BIGINT,
    expire_at       BIGINT,
    created_at      BIGINT NOT NULL
);

CREATE TABLE admin_tokens (
    token_id     TEXT   NOT NULL PRIMARY KEY,
    name         TEXT   NOT NULL,
    token_hash   BLOB   NOT NULL CONSTRAINT admin_tokens_hash_unique UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE audit_events (
    event_id    INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    occurred_at BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX audit_events_by_target ON audit_events (target_type, target_id);
