-- Client credentials and private_key_jwt (CC-5..9).

-- CC-8: a client assertion's jti is single-use until it expires, across every instance:
-- one guarded insert per assertion, the only write on the private_key_jwt path.
CREATE TABLE client_assertion_jtis (
    client_id  TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_by_expiry ON client_assertion_jtis (expires_at);

-- CC-6: accept the token endpoint URL as an assertion's sole audience (legacy clients).
ALTER TABLE clients ADD COLUMN accept_token_endpoint_audience BOOLEAN NOT NULL DEFAULT FALSE;
