import { createHash } from 'node:crypto';
import { type PrismaClient, plainQuery } from '../db/prisma.js';
import { normalizeEmail } from './users.js';

export interface LoginThrottleSettings {
  /** Consecutive failures per account before each attempt must wait. */
  readonly freeFailures: number;
  /** Seconds of the first wait; each further failure doubles it. */
  readonly firstDelay: number;
  /** Seconds: the longest wait. */
  readonly maxDelay: number;
  /** Failures per client IP per hour, across any accounts. */
  readonly ipFailures: number;
}

/** What a sign-in attempt may do: go ahead (and report how it went), or wait. */
export type LoginAttempt =
  | { readonly allowed: false; readonly reason: 'account' | 'ip'; readonly retryAfterSeconds: number }
  | {
      readonly allowed: true;
      /** The password was right: the account's counter starts over. */
      succeeded(): Promise<void>;
      /** The password was wrong (or the account unknown): `delayed` when the account now has to wait. */
      failed(): Promise<{ readonly delayed: boolean; readonly failures: number }>;
      /**
       * The password was never judged (the server refused first: the argon2
       * queue's 503, an outage): the attempt is given back to the IP and the
       * account, as if it had not been made.
       */
      withdrawn(): Promise<void>;
    };

/**
 * Runs `check`, the password's judgement, for an allowed attempt. If it
 * throws instead of answering (the server refused first: the argon2 queue's
 * 503, a database error), the attempt is given back before the error goes
 * on: a refusal of the server's is not a wrong password.
 */
export async function judged<T>(attempt: Extract<LoginAttempt, { allowed: true }>, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    await attempt.withdrawn().catch(() => {}); // the error that matters is the first one
    throw error;
  }
}

export interface AccountThrottleState {
  readonly failures: number;
  readonly delayedUntil: Date | null;
}

// Keycloak's "failure reset time": consecutive failures are forgotten this long after the last one.
const ACCOUNT_COUNTER_LIFETIME = '12 hours';
const IP_WINDOW = '1 hour';

/** The namespace of second-factor code counters (src/mfa/mfa-module.ts). */
export const SECOND_FACTOR_THROTTLE = 'mfa:';

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
const formKey = (interactionUid: string) => `form:${digest(interactionUid)}`;

/** The page's answer while an account or IP has to wait: whole minutes, rounded up. */
export function tooManyAttempts(retryAfterSeconds: number): string {
  const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
  return `Too many attempts, try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}

/** Seconds an account waits after its `failures`-th consecutive failure (0: none yet). */
export function loginDelaySeconds(
  failures: number,
  settings: Pick<LoginThrottleSettings, 'freeFailures' | 'firstDelay' | 'maxDelay'>,
): number {
  if (failures < settings.freeFailures) return 0;
  const doublings = Math.min(failures - settings.freeFailures, 40);
  return Math.min(settings.firstDelay * 2 ** doublings, settings.maxDelay);
}

/**
 * Sign-in throttling shared by every instance through Postgres (Keycloak's
 * brute-force detection with a "wait increment", not a lockout):
 *
 * - per account: after `freeFailures` consecutive failures each attempt waits
 *   an exponentially growing delay, even with the right password; unknown
 *   emails are counted the same way, so the answer does not say which exist;
 * - per client IP: more than `ipFailures` failures in an hour refuses the IP
 *   (one password sprayed over many accounts).
 *
 * An attempt is counted as a failure before the password is checked, in one
 * conditional upsert, so parallel guesses cannot slip past the limit; a right
 * password gives it back.
 */
export function createLoginThrottle(prisma: PrismaClient, settings: LoginThrottleSettings, namespace = '') {
  // Every sign-in sends these: straight through pg (plainQuery), not Prisma's client.
  const query = plainQuery(prisma);
  // A namespace (e.g. `mfa:` for second-factor codes) keeps separate counters
  // that a right password does not reset.
  const accountKey = (email: string) => `${namespace}account:${digest(normalizeEmail(email))}`;
  // An admin's unlock through the password counters (no namespace) clears the
  // account's second-factor counters as well: one action frees the account.
  const unlockKeys = (email: string) =>
    namespace === '' ? [accountKey(email), `${SECOND_FACTOR_THROTTLE}${accountKey(email)}`] : [accountKey(email)];
  const ipKey = (ip: string) => `${namespace}ip:${digest(ip)}`;
  /** A live counter's count and wait, by key: an account's, or a login form's (its count is the forms submitted). */
  const stateOf = async (key: string): Promise<AccountThrottleState> => {
    const [row] = await query<{ count: number; blocked_until: Date | null }>(
      'SELECT count, blocked_until FROM login_counters WHERE key = $1 AND expires_at > $2',
      [key, new Date()],
    );
    const delayedUntil = row?.blocked_until && row.blocked_until > new Date() ? row.blocked_until : null;
    return { failures: row?.count ?? 0, delayedUntil };
  };
  // $4 free failures, $5 first delay, $6 max delay.
  const delayOf = (count: string) =>
    `CASE WHEN ${count} >= $4 THEN now() + least($5::float8 * power(2, least(${count} - $4, 40)), $6::float8) * interval '1 second' END`;
  const newAccountCount = 'CASE WHEN login_counters.expires_at <= now() THEN 1 ELSE login_counters.count + 1 END';
  // Both counters in one round trip: $1 IP key, $2 IP limit, $3 account key.
  // The account is counted only when the IP was (`WHERE EXISTS`); the two
  // rows differ, so the data-modifying CTEs cannot see each other's writes
  // and need not.
  const reserveSql = `
    WITH by_ip AS (
      INSERT INTO login_counters (key, count, expires_at) VALUES ($1, 1, now() + interval '${IP_WINDOW}')
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN login_counters.expires_at <= now() THEN 1 ELSE login_counters.count + 1 END,
        expires_at = CASE WHEN login_counters.expires_at <= now() THEN now() + interval '${IP_WINDOW}' ELSE login_counters.expires_at END
      WHERE login_counters.expires_at <= now() OR login_counters.count < $2
      RETURNING count
    ), by_account AS (
      INSERT INTO login_counters (key, count, blocked_until, expires_at)
      SELECT $3, 1, ${delayOf('1')}, now() + interval '${ACCOUNT_COUNTER_LIFETIME}' WHERE EXISTS (SELECT 1 FROM by_ip)
      ON CONFLICT (key) DO UPDATE SET
        count = ${newAccountCount},
        blocked_until = ${delayOf(newAccountCount)},
        expires_at = now() + interval '${ACCOUNT_COUNTER_LIFETIME}'
      WHERE login_counters.expires_at <= now() OR login_counters.blocked_until IS NULL OR login_counters.blocked_until <= now()
      RETURNING count, blocked_until
    )
    SELECT (SELECT count FROM by_ip) AS ip, (SELECT count FROM by_account) AS account,
           (SELECT blocked_until::text FROM by_account) AS account_blocked_until`;

  const secondsUntil = async (key: string, column: 'blocked_until' | 'expires_at'): Promise<number> => {
    const rows = await query<{ seconds: number | null }>(
      `SELECT ceil(extract(epoch FROM ${column} - now()))::int AS seconds FROM login_counters WHERE key = $1`,
      [key],
    );
    return Math.max(1, rows[0]?.seconds ?? 1);
  };
  /** One attempt given back to the live counter whose key is the statement's parameter `placeholder` (`$1`, `$2`…). */
  const giveBackOneSql = (placeholder: string) =>
    `UPDATE login_counters SET count = greatest(count - 1, 0) WHERE key = ${placeholder} AND expires_at > now()`;
  const giveBackIp = (key: string) => query(giveBackOneSql('$1'), [key]);

  return {
    /** Counts an attempt for `email` from `ip` as a failure, unless either has to wait. */
    async attempt(email: string, ip: string): Promise<LoginAttempt> {
      const byIp = ipKey(ip);
      const byAccount = accountKey(email);
      const [reserved] = await query<{ ip: number | null; account: number | null; account_blocked_until: string | null }>(reserveSql, [
        byIp,
        settings.ipFailures,
        byAccount,
        settings.freeFailures,
        settings.firstDelay,
        settings.maxDelay,
      ]);
      if (reserved?.ip == null) return { allowed: false, reason: 'ip', retryAfterSeconds: await secondsUntil(byIp, 'expires_at') };
      const failures = reserved.account ?? undefined;
      if (failures === undefined) {
        await giveBackIp(byIp);
        return { allowed: false, reason: 'account', retryAfterSeconds: await secondsUntil(byAccount, 'blocked_until') };
      }
      return {
        allowed: true,
        async succeeded() {
          // The account's failures forgotten and the IP's attempt given back, in one round trip.
          await query(`WITH forgotten AS (DELETE FROM login_counters WHERE key = $1) ${giveBackOneSql('$2')}`, [byAccount, byIp]);
        },
        async failed() {
          const delay = loginDelaySeconds(failures, settings);
          // The wait starts when the failure is answered, not when the attempt began.
          if (delay > 0) {
            await query(
              `UPDATE login_counters SET blocked_until = greatest(blocked_until, now() + $2::float8 * interval '1 second') WHERE key = $1`,
              [byAccount, delay],
            );
          }
          return { delayed: delay > 0 && failures === settings.freeFailures, failures };
        },
        async withdrawn() {
          // The reservation only passed an account that was not waiting, so
          // it goes back to not waiting, unless another attempt has set a
          // wait since (the reservation's own is compared to the microsecond,
          // as text).
          await query(
            `WITH ip AS (${giveBackOneSql('$2')})
             UPDATE login_counters
                SET count = greatest(count - 1, 0),
                    blocked_until = CASE WHEN blocked_until IS NOT DISTINCT FROM $3::timestamptz THEN NULL ELSE blocked_until END
              WHERE key = $1 AND expires_at > now()`,
            [byAccount, byIp, reserved.account_blocked_until],
          );
        },
      };
    },

    /** An account's consecutive failures and how long it must wait (for the admin API and CLI). */
    async accountState(email: string): Promise<AccountThrottleState> {
      return stateOf(accountKey(email));
    },

    /**
     * The same for the account's second-factor code counters (TOTP and
     * recovery codes), read through the password throttle as unlock clears both.
     */
    async secondFactorState(email: string): Promise<AccountThrottleState> {
      return stateOf(`${SECOND_FACTOR_THROTTLE}account:${digest(normalizeEmail(email))}`);
    },

    /**
     * Clears an account's failures and wait (with the password counters, the
     * second-factor ones too); whether there was anything to clear.
     */
    async unlockAccount(email: string): Promise<boolean> {
      const { count } = await prisma.loginCounter.deleteMany({ where: { key: { in: unlockKeys(email) }, expiresAt: { gt: new Date() } } });
      return count > 0;
    },

    /** How many login forms of this interaction have been submitted (the next form token's number). */
    async formAttempts(interactionUid: string): Promise<number> {
      return (await stateOf(formKey(interactionUid))).failures;
    },

    /**
     * Uses up login form token number `attempt` of an interaction: true once,
     * false for a token already used (or not yet issued).
     */
    async useFormToken(interactionUid: string, attempt: number, lifetimeSeconds: number): Promise<boolean> {
      const key = formKey(interactionUid);
      const rows =
        attempt === 0
          ? await query<{ count: number }>(
              `INSERT INTO login_counters (key, count, expires_at) VALUES ($1, 1, now() + $2::int * interval '1 second')
           ON CONFLICT (key) DO NOTHING RETURNING count`,
              [key, lifetimeSeconds],
            )
          : await query<{ count: number }>(
              `UPDATE login_counters SET count = count + 1 WHERE key = $1 AND count = $2::int AND expires_at > now() RETURNING count`,
              [key, attempt],
            );
      return rows.length === 1;
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
