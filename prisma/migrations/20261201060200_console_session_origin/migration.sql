-- The console's sign-out ends the Gatehouse browser session the console was signed in from:
-- its oidc-provider Session uid, recorded at the console's sign-in (NULL for sessions started before).
ALTER TABLE "console_sessions" ADD COLUMN "session_uid" TEXT;
