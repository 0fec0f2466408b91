import { createHash } from 'node:crypto';
import type pg from 'pg';

/** How many rows a scaled database gets; BENCH_SCALE multiplies the issue's sizes. */
export interface ScaleSizes {
  readonly users: number;
  readonly clients: number;
  readonly apis: number;
  /** Sessions, grants, tokens and codes in oidc_payloads, and audit events. */
  readonly protocolRows: number;
}

export function sizesFor(scale: number): ScaleSizes {
  const at = (full: number) => Math.max(1, Math.round(full * scale));
  return { users: at(1_000_000), clients: at(100_000), apis: at(1_000), protocolRows: at(10_000_000) };
}

/** Share of the protocol rows that are expired past the cleanup's grace: what one cleanup pass deletes. */
export const EXPIRED_SHARE = 0.02;

/**
 * The email of seeded user `i` (1-based), as the seed SQL builds it: varied
 * like real addresses, so a substring search is as selective as it would be.
 */
export function seededEmail(i: number): string {
  const md5 = createHash('md5').update(String(i)).digest('hex');
  return `${md5.slice(0, 10)}.${i}@${DOMAINS[i % DOMAINS.length]}`;
}
const DOMAINS = ['mail.example.test', 'corp.example.test', 'example.org', 'inbox.example.net'];
const DOMAINS_SQL = `ARRAY[${DOMAINS.map((domain) => `'${domain}'`).join(',')}]`;

type Progress = (step: string, ms: number) => void;

/**
 * Fills a migrated Gatehouse database with `sizes` rows, in SQL
 * (generate_series: no row crosses the wire). Secondary indexes of the big
 * tables are dropped first and rebuilt after (their definitions read from
 * the catalog, so they are the migrations' own), which is how bulk loads are
 * done; then VACUUM ANALYZE, as autovacuum would leave the tables.
 *
 * Users all share `passwordHash` (one argon2id hash computed once); clients
 * are copies of the registered client `templateClientId` (same metadata and
 * secret hash), with ids `scale-client-N`.
 */
export async function seedScale(
  client: pg.Client,
  sizes: ScaleSizes,
  fixtures: { passwordHash: string; templateClientId: string },
  progress: Progress,
): Promise<void> {
  const step = async (name: string, sql: string, values: unknown[] = []) => {
    const started = performance.now();
    await client.query(sql, values);
    progress(name, performance.now() - started);
  };
  await client.query(`SET synchronous_commit = off`);
  await client.query(`SET maintenance_work_mem = '256MB'`);

  const tables = ['users', 'clients', 'resources', 'oidc_payloads', 'events'];
  const { rows: indexes } = await client.query<{ name: string; definition: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
    [tables],
  );
  for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);

  const protocol = sizes.protocolRows;
  const events = Math.round(protocol * 0.2);
  const payloads = protocol - events;
  const expiredEvery = Math.round(1 / EXPIRED_SHARE);

  await step(
    `${sizes.users} users`,
    `INSERT INTO users (id, email, password_hash, name, email_verified, created_at, updated_at)
     SELECT gen_random_uuid(), substr(md5(i::text), 1, 10) || '.' || i || '@' || (${DOMAINS_SQL})[1 + i % 4], $2,
            initcap(substr(md5('f' || i), 1, 7)) || ' ' || initcap(substr(md5('l' || i), 1, 9)), true,
            now() - (i % 1000) * interval '1 day', now()
       FROM generate_series(1, $1::int) i`,
    [sizes.users, fixtures.passwordHash],
  );
  await step(
    `${sizes.clients} clients`,
    `INSERT INTO clients (id, metadata, secret_hash, updated_at)
     SELECT 'scale-client-' || i, t.metadata || jsonb_build_object('client_name', 'Scale client ' || i), t.secret_hash, now()
       FROM generate_series(1, $1::int) i, (SELECT metadata, secret_hash FROM clients WHERE id = $2) t`,
    [sizes.clients, fixtures.templateClientId],
  );
  await step(
    `${sizes.apis} APIs`,
    `INSERT INTO resources (id, identifier, name, scopes, access_token_ttl, updated_at)
     SELECT gen_random_uuid(), 'https://api-' || i || '.scale.example.test/', 'Scale API ' || i,
            '[{"name":"read"},{"name":"write"}]', 600, now()
       FROM generate_series(1, $1::int) i`,
    [sizes.apis],
  );
  // Sessions, grants, refresh and access tokens, codes, with the columns and
  // payload keys the adapter writes; 2% expired past the grace.
  await step(
    `${payloads} oidc_payloads rows`,
    `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, expires_at)
     SELECT m.model, encode(sha256(('scale-' || i)::bytea), 'base64'),
            jsonb_build_object('accountId', md5('account-' || (i % $2::int)), 'clientId', 'scale-client-' || (1 + i % $3::int),
                               'kind', m.model, 'iat', 1780000000, 'exp', 1790000000, 'scope', 'openid email offline_access',
                               'grantId', md5('grant-' || (i / 4))),
            CASE WHEN m.model <> 'Session' THEN md5('grant-' || (i / 4)) END,
            CASE WHEN m.model = 'Session' THEN md5('uid-' || i) END,
            CASE WHEN i % $4::int = 0 THEN now() - interval '2 hours' - (i % 1000) * interval '1 minute'
                 ELSE now() + (1 + i % 720) * interval '1 hour' END
       FROM generate_series(1, $1::int) i
       CROSS JOIN LATERAL (SELECT (ARRAY['Session','Grant','RefreshToken','RefreshToken','AccessToken','Grant','Session','RefreshToken'])[1 + i % 8] AS model) m`,
    [payloads, sizes.users, sizes.clients, expiredEvery],
  );
  await step(
    `${events} audit events`,
    `INSERT INTO events (occurred_at, type, actor, subject, client_ip, details)
     SELECT now() - interval '1 hour' - (i::float / $1::int) * interval '88 days',
            (ARRAY['login.succeeded','login.succeeded','login.succeeded','login.failed','user.updated','client.updated','user.created','login.throttled'])[1 + i % 8],
            'user:' || md5('account-' || (i % $2::int)), 'user:' || md5('account-' || (i % $2::int)),
            '10.' || (i % 250) || '.' || (i % 199) || '.' || (i % 97), '{}'
       FROM generate_series(1, $1::int) i`,
    [events, sizes.users],
  );
  for (const index of indexes) await step(`index ${index.name}`, index.definition);
  await step('VACUUM ANALYZE', 'VACUUM ANALYZE');
  // Written out now, not by a checkpoint in the middle of the measurements.
  await step('CHECKPOINT', 'CHECKPOINT');
}
