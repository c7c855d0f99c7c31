-- OpenID ID tokens in the authorization-code flow (issue: Cross App Access needs them as
-- token-exchange subjects). `openid`: the request asked for the `openid` scope; `nonce`:
-- its nonce, echoed in the ID token.
ALTER TABLE authorization_requests ADD COLUMN openid BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE authorization_requests ADD COLUMN nonce TEXT;
ALTER TABLE authorization_codes ADD COLUMN openid BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
