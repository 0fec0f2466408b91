-- Emergency key revocation (issue 17): a revoked key keeps its row (status 'revoked', its private part
-- destroyed) so the audit trail and a second revoke can name it, but it is never published or used again.
ALTER TABLE "signing_keys" ADD COLUMN "revoked_at" TIMESTAMPTZ(3);
