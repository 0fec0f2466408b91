-- oidc_payloads' sparse columns indexed only where set (issue 16,
-- docs/performance.md "Writes (seventh round)").
-- user_code is set on device codes only, uid on sessions only, and grant_id
-- on tokens and codes, not on sessions, interactions or grants; yet every row
-- written added an entry to all three indexes, a NULL where the column was
-- empty, and so did every payload update (the payload's expression indexes
-- make those non-HOT). Each lookup is by value (`user_code = $1`, `uid = $1`,
-- `grant_id = $1`), which implies IS NOT NULL, so the partial indexes serve
-- it (test/db/query-plans.test.ts).

CREATE INDEX IF NOT EXISTS "oidc_payloads_grant_id_set_idx" ON "oidc_payloads" ("grant_id") WHERE "grant_id" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "oidc_payloads_user_code_set_idx" ON "oidc_payloads" ("user_code") WHERE "user_code" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "oidc_payloads_uid_set_idx" ON "oidc_payloads" ("uid") WHERE "uid" IS NOT NULL;

DROP INDEX IF EXISTS "oidc_payloads_grant_id_idx";
DROP INDEX IF EXISTS "oidc_payloads_user_code_idx";
DROP INDEX IF EXISTS "oidc_payloads_uid_idx";

-- IF NOT EXISTS: on a large installation, an operator can build the new
-- indexes beforehand with CREATE INDEX CONCURRENTLY under the same names (see
-- docs/operations.md, "Upgrades"); this migration then only drops the old ones.
