-- A console session no longer keeps the ID token of the admin's sign-in:
-- sign-out ends the sessions server-side and the 403 page uses the token of
-- the sign-in response, so nothing read it. Personal data at rest that
-- nothing needs. (console_sessions is not in a release yet, 0.1.0 has no
-- console: no instance of a previous release writes this column.)
ALTER TABLE console_sessions DROP COLUMN id_token;
