-- Verified-email account linking (XAA-13) and the OpenID `email` scope.

-- The address the operator recorded for an account; only these addresses can link an
-- external identity to an existing account. Stored lower-cased; at most one account
-- per address.
ALTER TABLE users ADD COLUMN email TEXT;
CREATE UNIQUE INDEX users_email_unique ON users (email) WHERE email IS NOT NULL;

-- XAA-13: per trusted IdP, an unknown (iss, sub) whose `email` equals an account's
-- recorded address is linked to that account (off by default).
ALTER TABLE trusted_idps ADD COLUMN link_verified_email BOOLEAN NOT NULL DEFAULT FALSE;

-- The request asked for `openid email`: the ID token carries the account's address.
ALTER TABLE authorization_requests ADD COLUMN openid_email BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE authorization_codes ADD COLUMN openid_email BOOLEAN NOT NULL DEFAULT FALSE;
