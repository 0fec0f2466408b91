-- The audit log filtered by actor, newest first (GET /admin/events?actor=,
-- `events list --actor`, the console's audit log), paged by id: without an
-- index, a sequential scan of every event, or a walk back through all ids
-- for a rare actor (test/db/query-plans.test.ts checks its plan). Walks the
-- actor's ids backwards and stops after a page, as events_subject_id_idx
-- (20261201060000_search_and_subject_indexes) does for a subject.
CREATE INDEX IF NOT EXISTS "events_actor_id_idx" ON "events" ("actor", "id");

-- IF NOT EXISTS: on a large installation, an operator can build it
-- beforehand with CREATE INDEX CONCURRENTLY under the same name (see
-- docs/operations.md, "Upgrading"); this migration then only records it.
