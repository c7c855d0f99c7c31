-- The authorization-code flow: browser sessions, pending authorization requests,
-- remembered consent, grants (one per code redemption: the token family), codes and
-- refresh tokens. Secrets (session ids, codes, refresh tokens) are stored hashed.

CREATE TABLE sessions (
    session_hash BLOB   NOT NULL PRIMARY KEY,
    user_id      TEXT   REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time    BIGINT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- A validated request waiting for sign-in and consent. An error that must not be
-- redirected before the user signed in (SEC-9) waits here too, in error_code.
CREATE TABLE authorization_requests (
    request_id         TEXT    NOT NULL PRIMARY KEY,
    client_id          TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    redirect_uri       TEXT    NOT NULL,
    redirect_uri_sent  BOOLEAN NOT NULL,
    state              TEXT,
    code_challenge     TEXT,
    server_id          TEXT    REFERENCES servers (server_id) ON DELETE CASCADE,
    scope              TEXT,
    offline_access     BOOLEAN NOT NULL,
    error_code         TEXT,
    error_description  TEXT,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL,
    completed_at       BIGINT
);
CREATE INDEX authorization_requests_by_expiry ON authorization_requests (expires_at);

CREATE TABLE consents (
    user_id    TEXT   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    server_id  TEXT   NOT NULL REFERENCES servers (server_id) ON DELETE CASCADE,
    scope      TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id, server_id)
);

CREATE TABLE grants (
    grant_id   TEXT   NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id    TEXT   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    server_id  TEXT   NOT NULL REFERENCES servers (server_id) ON DELETE CASCADE,
    scope      TEXT   NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_by_user ON grants (user_id);

CREATE TABLE authorization_codes (
    code_hash      BLOB   NOT NULL PRIMARY KEY,
    grant_id       TEXT   NOT NULL CONSTRAINT authorization_codes_grant_unique UNIQUE,
    client_id      TEXT   NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id        TEXT   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    server_id      TEXT   NOT NULL REFERENCES servers (server_id) ON DELETE CASCADE,
    redirect_uri      TEXT    NOT NULL,
    redirect_uri_sent BOOLEAN NOT NULL,
    code_challenge    TEXT    NOT NULL,
    scope             TEXT    NOT NULL,
    offline_access    BOOLEAN NOT NULL,
    auth_time         BIGINT  NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    consumed_at    BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash  BLOB   NOT NULL PRIMARY KEY,
    grant_id    TEXT   NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    scope       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    rotated_at  BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);

-- JWT access tokens revoked before they expire (REVOKE-4); read by introspection.
CREATE TABLE revoked_access_tokens (
    jti        TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- MCP servers registered as confidential clients may introspect tokens (INTRO-1, INTRO-4).
ALTER TABLE clients ADD COLUMN may_introspect BOOLEAN NOT NULL DEFAULT FALSE;
