-- Indexes for the queries whose cost grew with the data (issue 16, "Scale";
-- test/db/query-plans.test.ts checks every hot-path query's plan).

-- Ending a user's or a client's sessions, grants and tokens
-- (revokeByAccount, revokeByClient, the back-channel logout outbox, the
-- account page's session list) looked rows up by a payload key: a scan of
-- the whole table. Partial: rows without the key (ReplayDetection, ...) are
-- not indexed.
CREATE INDEX IF NOT EXISTS "oidc_payloads_account_id_idx" ON "oidc_payloads" (("payload"->>'accountId')) WHERE ("payload"->>'accountId') IS NOT NULL;
CREATE INDEX IF NOT EXISTS "oidc_payloads_client_id_idx" ON "oidc_payloads" (("payload"->>'clientId')) WHERE ("payload"->>'clientId') IS NOT NULL;

-- The admin API's audit log filtered by type is newest first (ORDER BY id
-- DESC): walk the type's ids backwards and stop after a page, instead of
-- sorting every event of that type.
CREATE INDEX IF NOT EXISTS "events_type_id_idx" ON "events" ("type", "id");

-- The admin API's user search (GET /admin/users?search=): part of the email
-- or the name in any letter case (ILIKE '%...%'), which a btree cannot serve.
-- pg_trgm ships with Postgres (contrib; embedded-postgres has it) and is a
-- trusted extension: a database owner may create it without superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS "users_email_trgm_idx" ON "users" USING GIN ("email" gin_trgm_ops);
CREATE INDEX IF NOT EXISTS "users_name_trgm_idx" ON "users" USING GIN ("name" gin_trgm_ops);

-- IF NOT EXISTS: on a large installation, an operator can build these
-- beforehand with CREATE INDEX CONCURRENTLY under the same names (see
-- docs/operations.md, "Upgrades"); this migration then only records them.
