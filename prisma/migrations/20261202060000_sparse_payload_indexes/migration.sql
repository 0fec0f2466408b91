-- oidc_payloads' sparse columns indexed only where set (issue 16,
-- docs/performance.md "Writes (seventh round)").
-- user_code is set on device codes only, uid on sessions only, and grant_id
-- on tokens, codes and some interactions, not on sessions or grants; yet
-- every row written added an entry to all three indexes, a NULL where the
-- column was empty, and so did every payload update (the payload's
-- expression indexes make those non-HOT). Each lookup is by value
-- (`user_code = $1`, `uid = $1`, `grant_id = $1`), which implies IS NOT
-- NULL, so the partial indexes serve it (test/db/query-plans.test.ts).

-- On a large installation an operator builds the new indexes beforehand with
-- CREATE INDEX CONCURRENTLY under the same names (docs/operations.md,
-- "Upgrading"); this migration then finds them. A concurrent build that
-- failed leaves an INVALID index under its name, which IF NOT EXISTS would
-- take as built: refuse it rather than drop the old indexes for it.
DO $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname IN ('oidc_payloads_grant_id_set_idx', 'oidc_payloads_user_code_set_idx', 'oidc_payloads_uid_set_idx')
       AND NOT i.indisvalid
  ) THEN
    RAISE EXCEPTION 'an index of oidc_payloads built beforehand is INVALID (a CREATE INDEX CONCURRENTLY that did not finish): drop it and build it again';
  END IF;
END $$;

-- The drops first: the table's exclusive lock is taken once, at the start,
-- rather than after the builds' share lock (an upgrade of a held lock, which
-- can deadlock with a request's transaction writing to the table).
DROP INDEX IF EXISTS "oidc_payloads_grant_id_idx";
DROP INDEX IF EXISTS "oidc_payloads_user_code_idx";
DROP INDEX IF EXISTS "oidc_payloads_uid_idx";

CREATE INDEX IF NOT EXISTS "oidc_payloads_grant_id_set_idx" ON "oidc_payloads" ("grant_id") WHERE "grant_id" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "oidc_payloads_user_code_set_idx" ON "oidc_payloads" ("user_code") WHERE "user_code" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "oidc_payloads_uid_set_idx" ON "oidc_payloads" ("uid") WHERE "uid" IS NOT NULL;
