import { createHash, type KeyObject } from 'node:crypto';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { USER_COLUMNS, type UserColumns, userFromColumns } from '../accounts/user-columns.js';
import { plainQuery, type Prisma, type PrismaClient, UUID_PATTERN } from '../db/prisma.js';
import { seal, unseal } from '../keys/encryption.js';
import { DEFAULT_CLIENT_SCOPE } from '../clients/client-metadata.js';
import { engineRequestContext, isDpopProofOnlyRequest } from './provider-internals.js';
import { rememberAccount, rememberRead, rememberedWithinRequest } from './request-memo.js';
import type { RefreshTokenSuccessors } from './refresh-token-successors.js';
import type { TokenRequests } from './token-requests.js';

// Models whose stored rows are single-use; a second consume is a replay.
const CONSUMABLE_LABEL: Record<string, string> = {
  AuthorizationCode: 'authorization code',
  RefreshToken: 'refresh token',
  DeviceCode: 'device code',
};

/**
 * Storage key of an oidc-provider id. Ids are bearer values (tokens, codes,
 * session cookies), so only their SHA-256 is stored: a database dump does not
 * hand out live tokens.
 */
export function storageId(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

type StoredClient = { readonly metadata: Record<string, unknown>; readonly secretHash: string | null };

/** Where the adapter reads clients from: Gatehouse's own clients table (ClientService, maybe cached). */
export interface StoredClients {
  findStoredClient(clientId: string): Promise<StoredClient | null>;
}

/** Where and when a signed-in session was used: the request that saves it. */
export interface SessionUse {
  readonly uid: string;
  readonly accountId: string;
  readonly expiresAt: Date;
  readonly ip: string;
  readonly userAgent: string;
}

/** A data-modifying CTE (`name AS (...)`) to run in the session's own save, and its parameters' values. */
export interface SessionUseStatement {
  readonly cte: string;
  readonly values: readonly unknown[];
}

/** Builds the session-use CTE with its parameters numbered from `$first` (account/session-activity.ts). */
export type SessionUseRecorder = (use: SessionUse, first: number) => SessionUseStatement;

/**
 * oidc-provider's adapter for every model it stores, on one Postgres table.
 * `Client` reads Gatehouse's own clients table (read-only). With
 * `recordSessionUse`, a signed-in Session saved within a request records that
 * request's IP and browser in the same statement.
 */
export function createAdapterFactory(
  prisma: PrismaClient,
  clients: StoredClients,
  sealKey: KeyObject,
  requests?: TokenRequests,
  recordSessionUse?: SessionUseRecorder,
) {
  return function adapterFor(model: string): Adapter {
    if (model === 'Client') return clientAdapter(clients);
    const stored = payloadAdapter(prisma, model, sealKey, requests, model === 'Session' ? recordSessionUse : undefined);
    // A login's requests read their interaction and session several times
    // each; a refresh token's, a code's or a device code's grant is read with it (TOKEN_WITH_GRANT_AND_ACCOUNT).
    const adapter = MEMOIZED_MODELS.has(model) ? rememberedWithinRequest(model, stored) : stored;
    const successors = requests?.successors;
    return model === 'RefreshToken' && requests && successors
      ? retryingRefreshTokenAdapter(prisma, adapter, requests, successors)
      : adapter;
  };
}

const MEMOIZED_MODELS = new Set(['Interaction', 'Session', 'Grant']);

/** `storageId` in SQL (SHA-256, base64url without padding) of a text column. */
export const storageIdOf = (column: string) => `rtrim(translate(encode(sha256(convert_to(${column}, 'UTF8')), 'base64'), '+/', '-_'), '=')`;

/**
 * The account a row's payload names at `accountId` (an expression of alias
 * `t`): the user, with its roles (the users module's own columns), by
 * primary key. User ids are uuids: any other accountId names no user (and
 * must not fail the cast).
 */
const accountOfRow = (accountId: string) => `LEFT JOIN LATERAL (
     SELECT ${USER_COLUMNS}
       FROM users u
      WHERE u.id = CASE WHEN ${accountId} ~* '${UUID_PATTERN}' THEN (${accountId})::uuid END
   ) a ON true`;

/**
 * A refresh token's, an authorization code's or a device code's lookup reads
 * its grant and its account in the same statement: the engine validates the
 * grant right after finding the token (refresh, code and device grants;
 * introspection and revocation of refresh tokens), then the grant looks the
 * account up. The grant's own find is then answered from the request's memo,
 * and so is `findAccount` (provider.ts), instead of two more round trips
 * (`WITH_GRANT_AND_ACCOUNT`). A device code still pending approval names
 * neither: its polls read no grant and no user.
 */
const TOKEN_WITH_GRANT_AND_ACCOUNT = `SELECT t.payload, g.payload AS grant_payload, a.*
   FROM oidc_payloads t
   LEFT JOIN oidc_payloads g ON g.model = 'Grant' AND g.id = ${storageIdOf('t.grant_id')}
   ${accountOfRow("t.payload->>'accountId'")}
  WHERE t.model = $1 AND t.id = $2`;
const WITH_GRANT_AND_ACCOUNT = new Set(['RefreshToken', 'AuthorizationCode', 'DeviceCode']);

/** A row by its key with the account its payload names at `accountId`. */
const rowWithAccount = (accountId: string) => `SELECT t.payload, a.*
   FROM oidc_payloads t
   ${accountOfRow(accountId)}
  WHERE t.model = $1 AND t.id = $2`;

/**
 * Rows whose lookup reads an account too, and where their payload names it.
 * - A session's (by the browser's session cookie): every authorization
 *   request of a signed-in browser (single sign-on, and the `prompt=none`
 *   renewals of single-page apps) finds its session, then the engine looks
 *   its account up, which the request's memo then answers.
 * - An interaction's, for the account its login result names: the resume
 *   that ends a sign-in finds its interaction, signs that account in and
 *   then looks it up. Before the login there is none (no user read).
 */
const WITH_ACCOUNT = new Map<string, { readonly sql: string; accountIdOf(payload: AdapterPayload | undefined): unknown }>([
  ['Session', { sql: rowWithAccount("t.payload->>'accountId'"), accountIdOf: (payload) => payload?.accountId }],
  [
    'Interaction',
    {
      sql: rowWithAccount("t.payload->'result'->'login'->>'accountId'"),
      accountIdOf: (payload) => (payload?.result as { login?: { accountId?: unknown } } | undefined)?.login?.accountId,
    },
  ],
]);

type WithAccount = { [column in keyof UserColumns]: null } | UserColumns;

/** Remembers, for this request's `findAccount`, the account `accountId` read with a row that names one. */
function rememberAccountOf(accountId: unknown, row: WithAccount | undefined): void {
  if (row && typeof accountId === 'string') rememberAccount(accountId, row.id === null ? null : userFromColumns(row));
}

type TokenWithGrantAndAccount = { payload: unknown; grant_payload: unknown } & WithAccount;

// Rows found by uid (Session) or user code (DeviceCode) must give back their
// id, which is not recoverable from its hash: those keep it AES-GCM sealed.
// An Interaction carries its session's id (the session cookie value) in
// `session.cookie`: sealed too.
const SEALED_ID = '_sealedJti';
const SEALED_COOKIE = '_sealedCookie';

type SessionReference = { cookie?: string; [SEALED_COOKIE]?: string; [key: string]: unknown };

function sealSessionCookie(payload: AdapterPayload, sealKey: KeyObject): AdapterPayload {
  const session = payload.session as SessionReference | undefined;
  if (typeof session?.cookie !== 'string') return payload;
  const { cookie, ...rest } = session;
  return { ...payload, session: { ...rest, [SEALED_COOKIE]: seal(cookie, sealKey, 'session-cookie') } } as AdapterPayload;
}

function unsealSessionCookie(payload: AdapterPayload, sealKey: KeyObject): AdapterPayload {
  const session = payload.session as SessionReference | undefined;
  const sealed = session?.[SEALED_COOKIE];
  if (typeof sealed !== 'string') return payload;
  const { [SEALED_COOKIE]: _sealed, ...rest } = session as SessionReference;
  return { ...payload, session: { ...rest, cookie: unseal(sealed, sealKey, 'session-cookie') } } as AdapterPayload;
}

/** The upsert of every stored model: $1-$7. */
const UPSERT_PAYLOAD = `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
   VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7)
   ON CONFLICT (model, id) DO UPDATE SET
     payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code,
     uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`;

/**
 * A signed-in session saved within a request (a sign-in, and each later
 * request that saves it): where and when it was used. oidc-provider saves a
 * session inside the request, so the engine's request context is that
 * request's (seam `engineRequestContext`).
 */
function sessionUseOf(payload: AdapterPayload): SessionUse | undefined {
  const ctx = engineRequestContext();
  if (!ctx || typeof payload.uid !== 'string' || typeof payload.accountId !== 'string' || typeof payload.exp !== 'number') return undefined;
  return {
    uid: payload.uid,
    accountId: payload.accountId,
    expiresAt: new Date(payload.exp * 1000),
    ip: ctx.ip,
    userAgent: ctx.get('user-agent'),
  };
}

function payloadAdapter(
  prisma: PrismaClient,
  model: string,
  sealKey: KeyObject,
  requests: TokenRequests | undefined,
  recordSessionUse: SessionUseRecorder | undefined,
): Adapter {
  const rows = prisma.oidcPayload;
  const query = plainQuery(prisma);
  const toPayload = (id: string, row: { payload: unknown } | null): AdapterPayload | undefined => {
    if (!row) return undefined;
    const { [SEALED_ID]: _sealed, ...payload } = row.payload as AdapterPayload;
    return { ...unsealSessionCookie(payload, sealKey), jti: id };
  };
  const toPayloadWithSealedId = (row: { payload: unknown } | null): AdapterPayload | undefined => {
    const sealed = (row?.payload as AdapterPayload | undefined)?.[SEALED_ID];
    return typeof sealed === 'string' ? toPayload(unseal(sealed, sealKey, model), row) : undefined;
  };

  return {
    async upsert(id, payload, expiresIn) {
      if (model === 'ReplayDetection') return recordOnce(prisma, id, payload, expiresIn);
      const { jti: _jti, ...rest } = sealSessionCookie(payload, sealKey);
      const needsSealedId = payload.uid !== undefined || payload.userCode !== undefined;
      const stored = needsSealedId ? { ...rest, [SEALED_ID]: seal(id, sealKey, model) } : rest;
      const values = [
        model,
        storageId(id),
        JSON.stringify(stored),
        payload.grantId ?? null,
        payload.userCode ?? null,
        payload.uid ?? null,
        expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      ];
      const use = recordSessionUse && sessionUseOf(payload);
      // Through pg (a login saves its interaction, session, grant and code this way); a signed-in
      // session's use goes in the same statement, not a second round trip. Postgres runs a
      // data-modifying CTE whether or not the statement reads it, in an order it does not promise:
      // a concurrent end of this session (account page, console: the Session, then its activity)
      // could meet it the other way round, which Postgres settles by failing one of the two.
      const withUse = use && recordSessionUse(use, values.length + 1);
      await (withUse ? query(`WITH ${withUse.cte} ${UPSERT_PAYLOAD}`, [...values, ...withUse.values]) : query(UPSERT_PAYLOAD, values));
    },

    // Expired rows are still returned: oidc-provider checks `exp` itself and
    // answers `expired_token` / `invalid_grant` instead of "not found".
    // Through pg rather than Prisma's findUnique: every token, code, grant and
    // session lookup passes here (one per refresh, per code exchange and per device code's poll:
    // the token with its grant and account).
    async find(id) {
      if (WITH_GRANT_AND_ACCOUNT.has(model)) {
        const [found] = await query<TokenWithGrantAndAccount>(TOKEN_WITH_GRANT_AND_ACCOUNT, [model, storageId(id)]);
        const token = toPayload(id, found ?? null);
        if (typeof token?.grantId === 'string') {
          rememberRead('Grant', token.grantId, toPayload(token.grantId, found?.grant_payload ? { payload: found.grant_payload } : null));
        }
        rememberAccountOf(token?.accountId, found);
        return token;
      }
      const withAccount = WITH_ACCOUNT.get(model);
      if (withAccount) {
        const [found] = await query<{ payload: unknown } & WithAccount>(withAccount.sql, [model, storageId(id)]);
        const payload = toPayload(id, found ?? null);
        rememberAccountOf(withAccount.accountIdOf(payload), found);
        return payload;
      }
      const found = await query<{ payload: unknown }>('SELECT payload FROM oidc_payloads WHERE model = $1 AND id = $2', [
        model,
        storageId(id),
      ]);
      return toPayload(id, found[0] ?? null);
    },

    // User codes are short and not unique over time: an expired row (kept for
    // the cleanup grace) may share its code with a new one. The newest wins.
    async findByUserCode(userCode) {
      return toPayloadWithSealedId(await rows.findFirst({ where: { model, userCode }, orderBy: { expiresAt: 'desc' } }));
    },

    async findByUid(uid) {
      // Every authorization request of a signed-in browser finds its session this way.
      const found = await query<{ payload: unknown }>('SELECT payload FROM oidc_payloads WHERE model = $1 AND uid = $2 LIMIT 1', [
        model,
        uid,
      ]);
      return toPayloadWithSealedId(found[0] ?? null);
    },

    /**
     * Atomic: only one request can consume a code or refresh token. oidc-provider
     * checks `consumed` before calling this, but two concurrent requests can both
     * pass that check; the loser revokes the grant and gets invalid_grant
     * (RFC 6749 §4.1.2 and §10.4, RFC 9700 §4.14.2).
     */
    async consume(id) {
      assertClientStillThere(requests);
      const epoch = Math.floor(Date.now() / 1000);
      // Every authorization code's exchange: straight through pg (plainQuery).
      const consumed = await query<{ grant_id: string | null }>(
        `UPDATE oidc_payloads
            SET consumed_at = now(), payload = payload || jsonb_build_object('consumed', $1::bigint)
          WHERE model = $2 AND id = $3 AND consumed_at IS NULL
         RETURNING grant_id`,
        [epoch, model, storageId(id)],
      );
      if (consumed.length > 0 || !CONSUMABLE_LABEL[model]) return;
      await revokeReplayedGrant(prisma, model, id);
    },

    async destroy(id) {
      await query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, storageId(id)]);
    },

    async revokeByGrantId(grantId) {
      await rows.deleteMany({ where: { model, grantId } });
    },
  };
}

/**
 * A single-use value was used twice: the grant's tokens and the Grant itself
 * go. Tokens the winner saves later are refused (validateGrant: "grant not
 * found"), and JWT access tokens, which are not stored, introspect as inactive
 * once their grant is gone.
 */
async function revokeReplayedGrant(prisma: PrismaClient, model: string, id: string): Promise<never> {
  const row = await prisma.oidcPayload.findUnique({ where: { model_id: { model, id: storageId(id) } } });
  if (row?.grantId)
    await prisma.oidcPayload.deleteMany({ where: { OR: [{ grantId: row.grantId }, { model: 'Grant', id: storageId(row.grantId) }] } });
  throw new errors.InvalidGrant(`${CONSUMABLE_LABEL[model] ?? model} already used`);
}

/**
 * A client that closed its connection (it timed out, on a stalled database)
 * would never receive what a consume pays for, and would retry with the same
 * code or token: nothing single-use is consumed for it. The request is logged
 * as abandoned (app.ts).
 */
function assertClientStillThere(requests: TokenRequests | undefined): void {
  if (requests?.current()?.clientGone()) {
    throw Object.assign(new errors.TemporarilyUnavailable('the client closed the connection before the token was issued'), {
      status: 503,
      statusCode: 503,
    });
  }
}

/**
 * Refresh tokens with the reuse grace window (refresh-grace.ts). Within a
 * token request: a consumed token whose successor can still be handed out
 * reads as unconsumed; `consume` only notes the token; saving the successor
 * consumes it in the same transaction (so a crash leaves either the old token
 * or both, never neither), or finds that a concurrent request won and answers
 * with that request's successor.
 */
function retryingRefreshTokenAdapter(
  prisma: PrismaClient,
  stock: Adapter,
  requests: TokenRequests,
  successors: RefreshTokenSuccessors,
): Adapter {
  return {
    ...stock,
    async find(id) {
      const payload = await stock.find(id);
      if (!payload?.consumed || !requests.current()) return payload;
      if (!(await successors.find(storageId(id)))) return payload;
      const { consumed: _consumed, ...unconsumed } = payload;
      return unconsumed as AdapterPayload;
    },

    async consume(id) {
      const attempt = requests.current();
      if (!attempt) return stock.consume(id);
      attempt.consuming = id;
    },

    async upsert(id, payload, expiresIn) {
      const attempt = requests.current();
      const consuming = attempt?.consuming;
      if (!attempt || consuming === undefined) return stock.upsert(id, payload, expiresIn);
      attempt.consuming = undefined;
      assertClientStillThere(requests);
      const { jti: _jti, ...rest } = payload;
      const row = {
        payload: rest,
        grantId: payload.grantId ?? null,
        userCode: null,
        uid: null,
        expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      };
      const consumedId = storageId(consuming);
      if ((await successors.rotate({ consumedId, successorId: storageId(id), successor: id, row })) === 'rotated') return;
      const successor = await successors.find(consumedId);
      if (successor === undefined) await revokeReplayedGrant(prisma, 'RefreshToken', consuming);
      attempt.successor = successor;
    },
  };
}

/**
 * Ends every session, grant, code and token of an account (the rows whose
 * payload carries its accountId). Run inside the caller's transaction; returns
 * how many rows went.
 */
export function revokeByAccount(db: Prisma.TransactionClient, accountId: string, exceptSessionUid?: string): Promise<number> {
  if (exceptSessionUid) {
    // The account page's own password change keeps the browser session that made it.
    return db.$executeRaw`DELETE FROM oidc_payloads WHERE payload->>'accountId' = ${accountId} AND NOT (model = 'Session' AND uid = ${exceptSessionUid})`;
  }
  return db.$executeRaw`DELETE FROM oidc_payloads WHERE payload->>'accountId' = ${accountId}`;
}

/**
 * Ends every grant, code and token of a client. The record of its revoked JWT
 * access tokens stays until they expire, so a client registered again under
 * the same id does not revive them. Run inside the caller's transaction;
 * returns how many rows went.
 */
export function revokeByClient(db: Prisma.TransactionClient, clientId: string): Promise<number> {
  return db.$executeRaw`DELETE FROM oidc_payloads WHERE payload->>'clientId' = ${clientId} AND model <> 'RevokedAccessToken'`;
}

/**
 * ReplayDetection rows remember a client assertion's `jti` (RFC 7523 §3 item
 * 7: single use). oidc-provider checks `find` then saves, which two concurrent
 * requests (or two instances) could both pass: the insert is conditional, and
 * the loser is refused as the stock check would refuse it. DPoP proofs
 * (RFC 9449 §11.1) are the other user of this model: a request that carries
 * only a DPoP proof is refused as a replayed proof.
 */
async function recordOnce(prisma: PrismaClient, id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
  const { jti: _jti, ...rest } = payload;
  const inserted = await prisma.$executeRaw`
    INSERT INTO oidc_payloads (model, id, payload, expires_at)
    VALUES ('ReplayDetection', ${storageId(id)}, ${JSON.stringify(rest)}::jsonb, now() + make_interval(secs => ${expiresIn ?? 600}))
    ON CONFLICT (model, id) DO NOTHING`;
  if (inserted === 0) throw replayError();
}

/** The error the stock check would give: for a client assertion, or for a request with only a DPoP proof. */
function replayError(): Error {
  return isDpopProofOnlyRequest()
    ? new errors.InvalidDpopProof('DPoP proof JWT Replay detected')
    : new errors.InvalidClientAuth('client assertion tokens must only be used once');
}

/**
 * A client's registered `scope` is the complete list of OpenID scopes it may
 * receive; a client registered without one gets DEFAULT_CLIENT_SCOPE.
 * oidc-provider refuses any other OpenID scope with invalid_scope. API scopes
 * are granted per API in `api_access` (resource-indicators.ts).
 */
function withScopeDefault(metadata: Record<string, unknown>): Record<string, unknown> {
  return { ...metadata, scope: typeof metadata.scope === 'string' ? metadata.scope : DEFAULT_CLIENT_SCOPE };
}

function clientAdapter(clients: StoredClients): Adapter {
  const readOnly = async () => {
    throw new Error('clients are managed by Gatehouse, not through oidc-provider');
  };
  // One payload per stored client, built once while the lookup cache holds
  // that client: oidc-provider reads it (copying what it keeps) on every
  // request that names the client, and never writes to it.
  const payloads = new WeakMap<StoredClient, AdapterPayload>();
  return {
    async find(clientId) {
      const stored = await clients.findStoredClient(clientId);
      if (!stored) return undefined;
      let payload = payloads.get(stored);
      if (!payload) {
        // oidc-provider requires `client_secret` for secret-based auth methods; it
        // gets the keyed hash, and compareClientSecret (provider-internals.ts) hashes what
        // the client presents before comparing.
        payload = {
          ...withScopeDefault(stored.metadata),
          client_id: clientId,
          ...(stored.secretHash ? { client_secret: stored.secretHash } : {}),
        } as AdapterPayload;
        payloads.set(stored, payload);
      }
      return payload;
    },
    upsert: readOnly,
    findByUserCode: readOnly,
    findByUid: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
  };
}
