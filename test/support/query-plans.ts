import pg from 'pg';

/** A statement as the application sent it to Postgres: its SQL and its parameters. */
export interface RecordedStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

type QueryArguments = [unknown, ...unknown[]];

/**
 * Records every statement any pg client in this process sends (Prisma's
 * driver adapter included) until `stop()`, calling `onStatement` as each is sent. Nothing is changed: the statements
 * still run as they would. This is how the plan tests find the SQL Prisma
 * really emits instead of guessing it.
 */
export function recordStatements(onStatement: (statement: RecordedStatement) => void = () => {}): {
  readonly statements: RecordedStatement[];
  stop(): void;
} {
  const statements: RecordedStatement[] = [];
  const prototype = pg.Client.prototype as unknown as { query: (...args: QueryArguments) => unknown };
  const original = prototype.query;
  prototype.query = function recorded(this: unknown, ...args: QueryArguments) {
    const [first, second] = args;
    let statement: RecordedStatement | undefined;
    if (typeof first === 'string') statement = { text: first, values: Array.isArray(second) ? second : [] };
    else if (first && typeof first === 'object' && 'text' in first && typeof first.text === 'string') {
      const values = (first as { values?: unknown }).values;
      statement = { text: first.text, values: Array.isArray(values) ? values : Array.isArray(second) ? second : [] };
    }
    if (statement) {
      statements.push(statement);
      onStatement(statement);
    }
    return original.apply(this, args);
  };
  return {
    statements,
    stop() {
      prototype.query = original;
    },
  };
}

interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly Plans?: PlanNode[];
}

/** What a plan reads: every relation it scans whole (Seq Scan), and every index it uses. */
export interface PlanSummary {
  readonly seqScans: string[];
  readonly indexes: string[];
}

/** `EXPLAIN (FORMAT JSON)` of a recorded statement with its own parameters; which tables it scans whole and which indexes it uses. */
export async function explain(client: pg.Client, statement: RecordedStatement): Promise<PlanSummary> {
  const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${statement.text}`, statement.values as unknown[]);
  const plan = (rows[0] as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan;
  const seqScans: string[] = [];
  const indexes: string[] = [];
  const walk = (node: PlanNode | undefined) => {
    if (!node) return;
    if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) seqScans.push(node['Relation Name']);
    if (node['Index Name']) indexes.push(node['Index Name']);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan);
  return { seqScans, indexes };
}

/** Statements worth a plan: reads and writes, not BEGIN, LISTEN, SET and the like. */
export function isPlannable(statement: RecordedStatement): boolean {
  return (
    /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(statement.text) &&
    !/\bpg_(advisory|catalog|class|notify)|\bEXPLAIN\b/i.test(statement.text)
  );
}

/**
 * Tables that stay small whatever the installation's size (a handful of
 * keys, roles and settings; console sessions, one per signed-in admin): a
 * sequential scan of them is the right plan.
 */
export const SMALL_TABLES = new Set([
  'signing_keys',
  'roles',
  'role_permissions',
  'instance_settings',
  'console_sessions',
  '_prisma_migrations',
]);

/**
 * Fills every table that grows with users, clients, APIs or traffic with
 * `rows` rows (clients as copies of the registered client `clientTemplateId`;
 * oidc_payloads and events five times as many), then VACUUM ANALYZEs, so
 * that the planner would scan a table whole if no index served the query.
 * Values are shaped like the real ones (payload keys, expiry spread over
 * past and future) so the statistics are realistic.
 */
export async function seedLargeTables(client: pg.Client, rows: number, clientTemplateId: string): Promise<void> {
  await client.query('BEGIN');
  await client.query(
    `INSERT INTO users (id, email, password_hash, name, updated_at)
     SELECT gen_random_uuid(), 'seed-' || i || '@example.test', '$argon2id$v=19$m=19456,t=2,p=1$c2VlZA$c2VlZA', 'Seed ' || i, now()
       FROM generate_series(1, $1::int) i`,
    [rows],
  );
  await client.query(
    `INSERT INTO clients (id, metadata, updated_at)
     SELECT 'seed-client-' || i, template.metadata || jsonb_build_object('client_name', 'Seed ' || i), now()
       FROM generate_series(1, $1::int) i, (SELECT metadata FROM clients WHERE id = $2) template`,
    [rows, clientTemplateId],
  );
  await client.query(
    `INSERT INTO resources (id, identifier, name, access_token_ttl, updated_at)
     SELECT gen_random_uuid(), 'https://seed-' || i || '.example.test/', 'Seed API ' || i, 600, now()
       FROM generate_series(1, $1::int) i`,
    [rows],
  );
  await client.query(
    `INSERT INTO events (occurred_at, type, actor, subject, client_ip, details)
     SELECT now() - i * interval '1 second',
            (ARRAY['login.succeeded','login.failed','user.created','client.updated','admin.authentication_failed'])[1 + i % 5],
            'user:' || i, 'user:' || i, '10.0.' || (i % 250) || '.' || (i % 200), '{}'
       FROM generate_series(1, $1::int * 5) i`,
    [rows],
  );
  // Every model oidc-provider stores, with the columns and payload keys the adapter writes.
  await client.query(
    `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at)
     SELECT m.model, 'seed-' || i,
            jsonb_build_object('accountId', 'seed-account-' || (i % $1::int), 'clientId', 'seed-client-' || (i % $1::int), 'loginTs', 1700000000),
            CASE WHEN m.model IN ('AccessToken','RefreshToken','AuthorizationCode','DeviceCode') THEN 'seed-grant-' || (i / 4) END,
            CASE WHEN m.model IN ('Session','Interaction') THEN 'seed-uid-' || i END,
            CASE WHEN m.model = 'DeviceCode' THEN 'SEED-' || i END,
            now() + ((i % 100) - 10) * interval '1 hour'
       FROM generate_series(1, $1::int * 5) i
       CROSS JOIN LATERAL (SELECT (ARRAY['Session','Grant','AccessToken','RefreshToken','AuthorizationCode','Interaction','DeviceCode'])[1 + i % 7] AS model) m`,
    [rows],
  );
  await client.query(
    `INSERT INTO refresh_token_successors (model, id, successor_id, sealed_successor, expires_at)
     SELECT 'RefreshToken', id, id || '-next', 'v1.x.y.z', now() + interval '30 seconds'
       FROM oidc_payloads WHERE model = 'RefreshToken' LIMIT $1::int`,
    [rows],
  );
  await client.query(
    `INSERT INTO device_code_polls (model, id, last_polled_at, interval_seconds)
     SELECT 'DeviceCode', id, now(), 5 FROM oidc_payloads WHERE model = 'DeviceCode' LIMIT $1::int`,
    [rows],
  );
  await client.query(
    `INSERT INTO login_counters (key, count, expires_at)
     SELECT 'ip:seed-' || i, 1, now() + ((i % 100) - 10) * interval '1 minute' FROM generate_series(1, $1::int) i`,
    [rows],
  );
  await client.query(
    `INSERT INTO session_activity (session_uid, account_id, last_seen, expires_at)
     SELECT 'seed-uid-' || i, 'seed-account-' || i, now(), now() + ((i % 100) - 10) * interval '1 hour' FROM generate_series(1, $1::int) i`,
    [rows],
  );
  await client.query(
    `INSERT INTO account_tokens (token_hash, purpose, user_id, email, expires_at)
     SELECT 'seed-' || id, 'password_reset', id, email, now() + interval '1 hour' FROM users WHERE email LIKE 'seed-%'`,
  );
  await client.query(
    `INSERT INTO mfa_factors (id, user_id, type, name, confirmed_at)
     SELECT gen_random_uuid(), id, 'totp', 'Phone', now() FROM users WHERE email LIKE 'seed-%'`,
  );
  await client.query(`INSERT INTO mfa_recovery_codes (code_hash, user_id) SELECT 'seed-' || id, id FROM users WHERE email LIKE 'seed-%'`);
  await client.query(
    `INSERT INTO user_roles (user_id, role_id) SELECT users.id, roles.id FROM users CROSS JOIN roles WHERE roles.name = 'admin' AND users.email LIKE 'seed-%'`,
  );
  await client.query(
    `INSERT INTO mfa_pending_logins (key, user_id, amr, expires_at)
     SELECT 'seed-' || id, id, ARRAY['pwd'], now() + interval '5 minutes' FROM users WHERE email LIKE 'seed-%'`,
  );
  await client.query(
    `INSERT INTO webauthn_challenges (key, challenge, expires_at)
     SELECT 'seed-' || i, 'challenge', now() + interval '5 minutes' FROM generate_series(1, $1::int) i`,
    [rows],
  );
  await client.query(
    `INSERT INTO backchannel_logouts (client_id, account_id, next_attempt_at)
     SELECT 'seed-client-' || i, 'seed-account-' || i, now() + interval '1 hour' FROM generate_series(1, $1::int) i`,
    [rows],
  );
  await client.query(
    `INSERT INTO user_code_failures (subject, failed_at)
     SELECT 'ip:seed-' || i, now() - i * interval '1 second' FROM generate_series(1, $1::int) i`,
    [rows],
  );
  await client.query('COMMIT');
  // VACUUM as autovacuum would: it also moves the GIN indexes' pending entries into the index proper.
  await client.query('VACUUM ANALYZE');
}
