-- The admin console: who may use it, when a console session was last used, and where
-- an audited change came from.

-- Users with the admin role may sign in to the console (`users create --admin`).
ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT FALSE;

-- The console ends a session unused for `admin.console_idle_timeout`; NULL: not used
-- in the console yet.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;

-- A secret the console shows once on the page after the POST that made it (a new
-- client secret), sealed with the key-encryption key and cleared when shown.
ALTER TABLE sessions ADD COLUMN reveal BLOB;

-- The client address (through the trusted-proxy rule) of the request that made the
-- change, when there was one.
ALTER TABLE audit_events ADD COLUMN client_ip TEXT;
CREATE INDEX audit_events_by_time ON audit_events (occurred_at);
