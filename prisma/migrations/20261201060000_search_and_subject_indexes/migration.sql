-- Two admin lookups that read a whole growing table (issue 16, "Scale";
-- test/db/query-plans.test.ts checks their plans).

-- The admin API's client search (GET /admin/clients?search=, `clients list
-- --search`, the console): part of the client id or name in any letter case
-- (ILIKE '%...%'), as the users' search (20261201040000_scale_indexes). The
-- name lives in the metadata JSON, hence an expression index; the query
-- matches `metadata->>'client_name'` exactly as written here. pg_trgm was
-- created by 20261201040000_scale_indexes.
CREATE INDEX IF NOT EXISTS "clients_id_trgm_idx" ON "clients" USING GIN ("id" gin_trgm_ops);
CREATE INDEX IF NOT EXISTS "clients_name_trgm_idx" ON "clients" USING GIN (("metadata"->>'client_name') gin_trgm_ops);

-- Audit events about one subject, newest first: the per-user sign-in state
-- (recent second-factor failures: GET /admin/users/:id/sign-in, `users
-- sign-in`, the console's user page) and GET /admin/events?subject=, paged
-- by id. Walks the subject's ids backwards and stops after a page.
CREATE INDEX IF NOT EXISTS "events_subject_id_idx" ON "events" ("subject", "id");

-- IF NOT EXISTS: on a large installation, an operator can build these
-- beforehand with CREATE INDEX CONCURRENTLY under the same names (see
-- docs/operations.md, "Upgrades"); this migration then only records them.
