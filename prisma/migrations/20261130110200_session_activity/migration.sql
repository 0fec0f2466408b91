-- Where and when each signed-in browser session was last used, for the
-- account page's list of sessions. Keyed by the session's uid (not its cookie).
CREATE TABLE "session_activity" (
    "session_uid" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "ip" TEXT,
    "user_agent" TEXT,
    "last_seen" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "session_activity_pkey" PRIMARY KEY ("session_uid")
);

CREATE INDEX "session_activity_account_id_idx" ON "session_activity"("account_id");
CREATE INDEX "session_activity_expires_at_idx" ON "session_activity"("expires_at");
