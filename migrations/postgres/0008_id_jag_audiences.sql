-- Issuing ID-JAGs by token exchange, as the enterprise IdP (XAA-19..25): the resource
-- authorization servers ("audiences") this server may issue ID-JAGs for, and per client
-- how it is named there.

-- `aliases`, `resources`: space-separated; `scope`: the most any ID-JAG for it carries
-- (NULL: no limit); `subject_claim`: how users are named there (`user_id` or `username`).
CREATE TABLE id_jag_audiences (
    audience_id   TEXT    NOT NULL PRIMARY KEY,
    issuer        TEXT    NOT NULL CONSTRAINT id_jag_audiences_issuer_unique UNIQUE,
    name          TEXT    NOT NULL,
    aliases       TEXT    NOT NULL,
    resources     TEXT    NOT NULL,
    scope         TEXT,
    subject_claim TEXT    NOT NULL,
    is_enabled    BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- XAA-21: which local clients may obtain ID-JAGs for an audience, and the client_id the
-- ID-JAG names them by there (XAA-22).
CREATE TABLE id_jag_audience_clients (
    audience_id           TEXT NOT NULL REFERENCES id_jag_audiences (audience_id) ON DELETE CASCADE,
    client_id             TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    client_id_at_audience TEXT NOT NULL,
    PRIMARY KEY (audience_id, client_id)
);
