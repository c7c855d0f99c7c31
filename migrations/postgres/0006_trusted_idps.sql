-- Cross App Access: enterprise IdPs whose Identity Assertion JWT Authorization Grants
-- (ID-JAGs) this server redeems (XAA-1..18).

-- XAA-18: one row per trusted IdP; `issuer` is matched exactly against the ID-JAG `iss`.
-- Keys come from `jwks` (inline JWK Set) or `jwks_uri`; `algorithms` is the allow-list
-- (space-separated JWS names). `scope` narrows what any ID-JAG from it may grant (NULL:
-- no narrowing); `tenant`, when set, must equal the ID-JAG `tenant` claim.
CREATE TABLE trusted_idps (
    idp_id               TEXT    NOT NULL PRIMARY KEY,
    issuer               TEXT    NOT NULL CONSTRAINT trusted_idps_issuer_unique UNIQUE,
    name                 TEXT    NOT NULL,
    jwks                 TEXT,
    jwks_uri             TEXT,
    algorithms           TEXT    NOT NULL,
    tenant               TEXT,
    scope                TEXT,
    allows_all_servers   BOOLEAN NOT NULL,
    allow_public_clients BOOLEAN NOT NULL,
    jit_provisioning     BOOLEAN NOT NULL,
    is_enabled           BOOLEAN NOT NULL,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);

-- The local clients an IdP may speak for; `idp_client_id` is the value its ID-JAGs put
-- in `client_id` for that client (the local id itself when the IdP knows it).
CREATE TABLE trusted_idp_clients (
    idp_id        TEXT NOT NULL REFERENCES trusted_idps (idp_id) ON DELETE CASCADE,
    idp_client_id TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    PRIMARY KEY (idp_id, idp_client_id)
);

-- The MCP servers an IdP's ID-JAGs may reach when `allows_all_servers` is false.
CREATE TABLE trusted_idp_servers (
    idp_id    TEXT NOT NULL REFERENCES trusted_idps (idp_id) ON DELETE CASCADE,
    server_id TEXT NOT NULL REFERENCES servers (server_id) ON DELETE CASCADE,
    PRIMARY KEY (idp_id, server_id)
);

-- XAA-13, FED-4: an external identity is (issuer, tenant, subject); never merged across
-- issuers. `tenant` is '' when the IdP has none.
CREATE TABLE user_identities (
    issuer       TEXT   NOT NULL,
    tenant       TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    user_id      TEXT   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, tenant, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

-- XAA-12: an ID-JAG's jti is single-use per issuer until it expires, across instances.
CREATE TABLE id_jag_jtis (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX id_jag_jtis_by_expiry ON id_jag_jtis (expires_at);
