-- Single-use links sent by email (password reset, email verification). Only a
-- SHA-256 of the token is stored; `email` is the address it was sent to, so a
-- link stops working when the address changes.
CREATE TABLE "account_tokens" (
    "token_hash" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "interaction_uid" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),

    CONSTRAINT "account_tokens_pkey" PRIMARY KEY ("token_hash"),
    CONSTRAINT "account_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "account_tokens_user_id_idx" ON "account_tokens"("user_id");
CREATE INDEX "account_tokens_expires_at_idx" ON "account_tokens"("expires_at");
