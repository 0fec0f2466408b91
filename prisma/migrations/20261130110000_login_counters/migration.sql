-- Sign-in throttling counters, shared by every instance: per account (the
-- hash of an email), per client IP (a hash) and per login form (one token per
-- attempt). A row past expires_at counts as absent; the cleanup job deletes it.
CREATE TABLE "login_counters" (
    "key" TEXT NOT NULL,
    "count" INTEGER NOT NULL,
    "blocked_until" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "login_counters_pkey" PRIMARY KEY ("key")
);

CREATE INDEX "login_counters_expires_at_idx" ON "login_counters"("expires_at");
