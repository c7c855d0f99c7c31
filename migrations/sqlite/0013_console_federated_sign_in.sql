-- An administrator may sign in to the console through an upstream provider: the
-- pending sign-in remembers to continue to the console, as the local sign-in form does
-- with `?next=console`.
ALTER TABLE federation_states ADD COLUMN to_console BOOLEAN NOT NULL DEFAULT FALSE;
