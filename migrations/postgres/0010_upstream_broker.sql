-- Consent before going upstream (FED-1) and ID-JAGs obtained from an upstream IdP on a
-- client's behalf (XAA-26).

-- FED-1: the user approved the pending request on our consent page before being sent
-- to the provider; the callback then answers the client without asking again.
ALTER TABLE federation_states ADD COLUMN consented BOOLEAN NOT NULL DEFAULT FALSE;

-- XAA-26: the ID token a provider issued at the user's latest sign-in through it, kept
-- only to be exchanged at that provider for ID-JAGs; sealed with the key-encryption key
-- (AES-256-GCM) and deleted once expired.
CREATE TABLE upstream_id_tokens (
    user_id     TEXT   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    provider_id TEXT   NOT NULL,
    sealed      BYTEA  NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, provider_id)
);
CREATE INDEX upstream_id_tokens_by_expiry ON upstream_id_tokens (expires_at);

-- XAA-26: an audience served through an upstream provider: its ID-JAGs are obtained
-- there by token exchange instead of being signed here. NULL: signed here.
ALTER TABLE id_jag_audiences ADD COLUMN via_provider TEXT;
