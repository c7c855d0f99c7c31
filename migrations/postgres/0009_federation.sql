-- Sign-in through upstream OpenID providers (FED-1..4).

-- FED-2: one row per redirect upstream. The state is stored only as a keyed hash, is
-- single use (used_at), lives at most 10 minutes and belongs to the browser session
-- that started it. The PKCE verifier and nonce wait here for the callback.
CREATE TABLE federation_states (
    state_hash    BYTEA  NOT NULL PRIMARY KEY,
    session_hash  BYTEA  NOT NULL,
    provider_id   TEXT   NOT NULL,
    request_id    TEXT,
    nonce         TEXT   NOT NULL,
    code_verifier TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
CREATE INDEX federation_states_by_expiry ON federation_states (expires_at);
