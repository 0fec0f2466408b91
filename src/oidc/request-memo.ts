import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { User } from '../accounts/users.js';
import { currentRequest, type RequestContext } from '../log.js';

/**
 * The Interaction, Session and Grant rows one request has read or written, by
 * request. A login's requests each load the same interaction and session
 * two or three times (the page handler's `interactionDetails`, then
 * `interactionResult`, then the engine's resume), each a round trip; within
 * one request the later reads get what the first read (or the request's own
 * write) saw. A refresh token's, a code's or a device code's grant is read
 * in the token's own statement and remembered here (`rememberRead`) for the engine's find
 * that follows, and so is its account (`rememberAccount`) for the engine's
 * `findAccount`, as are the accounts of a session and of a resumed
 * interaction, read with them.
 * Nothing outlives the request: another request always reads the database.
 */
const memos = new WeakMap<RequestContext, Map<string, AdapterPayload | undefined>>();

const idKeyOf = (model: string, id: string) => `${model}\u0000id\u0000${id}`;

/** This request's map in `maps`, made on first use; none outside a request. */
function mapOfThisRequest<Value>(maps: WeakMap<RequestContext, Map<string, Value>>): Map<string, Value> | undefined {
  const request = currentRequest();
  if (!request) return undefined;
  let map = maps.get(request);
  if (!map) {
    map = new Map();
    maps.set(request, map);
  }
  return map;
}

const memoOfThisRequest = () => mapOfThisRequest(memos);

// A copy in and a copy out: the engine mutates the objects it is handed and
// keeps the ones it saves, and a database round trip would give it fresh ones.
const copy = (payload: AdapterPayload | undefined): AdapterPayload | undefined =>
  payload === undefined ? undefined : (JSON.parse(JSON.stringify(payload)) as AdapterPayload);

/**
 * A row of `model` read together with another (a refresh token's grant, in
 * the token's own statement), remembered as if `model`'s adapter had read it:
 * the engine's next find of it in this request is answered from here.
 * `undefined` remembers that there was no such row.
 */
export function rememberRead(model: string, id: string, payload: AdapterPayload | undefined): void {
  memoOfThisRequest()?.set(idKeyOf(model, id), copy(payload));
}

/** `adapter` with reads by id (and by uid, for Session) remembered for the rest of the request. */
export function rememberedWithinRequest(model: string, adapter: Adapter): Adapter {
  const idKey = (id: string) => idKeyOf(model, id);
  const uidKey = (uid: string) => `${model}\u0000uid\u0000${uid}`;
  const forgetModel = (memo: Map<string, AdapterPayload | undefined>) => {
    for (const key of memo.keys()) if (key.startsWith(`${model}\u0000`)) memo.delete(key);
  };

  return {
    ...adapter,
    async find(id) {
      const memo = memoOfThisRequest();
      if (memo?.has(idKey(id))) return copy(memo.get(idKey(id)));
      const payload = (await adapter.find(id)) ?? undefined;
      memo?.set(idKey(id), copy(payload));
      return payload;
    },

    async findByUid(uid) {
      const memo = memoOfThisRequest();
      if (memo?.has(uidKey(uid))) return copy(memo.get(uidKey(uid)));
      const payload = (await adapter.findByUid(uid)) ?? undefined;
      memo?.set(uidKey(uid), copy(payload));
      if (payload?.jti) memo?.set(idKey(payload.jti), copy(payload));
      return payload;
    },

    async upsert(id, payload, expiresIn) {
      const memo = memoOfThisRequest();
      // Forgotten first: a failed write must not leave an old read behind.
      if (memo) forgetModel(memo);
      await adapter.upsert(id, payload, expiresIn);
      if (!memo) return;
      const written = copy({ ...payload, jti: id });
      memo.set(idKey(id), written);
      if (typeof payload.uid === 'string') memo.set(uidKey(payload.uid), written);
    },

    async destroy(id) {
      const memo = memoOfThisRequest();
      if (memo) forgetModel(memo);
      await adapter.destroy(id);
    },

    async consume(id) {
      const memo = memoOfThisRequest();
      if (memo) forgetModel(memo);
      await adapter.consume(id);
    },

    async revokeByGrantId(grantId) {
      const memo = memoOfThisRequest();
      if (memo) forgetModel(memo);
      await adapter.revokeByGrantId(grantId);
    },
  };
}

/** Accounts read with another row (a refresh token's, a code's, a device code's, a session's, an interaction's), by request: `null` remembers that there was no such user. */
const accounts = new WeakMap<RequestContext, Map<string, User | null>>();

/** The user `accountId` names, read in the same statement as another row (src/oidc/prisma-adapter.ts). */
export function rememberAccount(accountId: string, user: User | null): void {
  mapOfThisRequest(accounts)?.set(accountId, user);
}

/** What this request read of `accountId` with another row: a user, `null` (none), or `undefined` (not read: ask the users module). */
function rememberedAccount(accountId: string): User | null | undefined {
  const request = currentRequest();
  return request ? accounts.get(request)?.get(accountId) : undefined;
}

/**
 * The user `accountId` names: as this request read it with another row (no
 * round trip), or else from `lookUp`.
 */
export async function accountOfThisRequest(accountId: string, lookUp: (accountId: string) => Promise<User | null>): Promise<User | null> {
  const remembered = rememberedAccount(accountId);
  return remembered === undefined ? lookUp(accountId) : remembered;
}
