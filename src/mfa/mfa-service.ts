import { createHmac, randomInt, randomUUID, type KeyObject } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import { judged, type LoginThrottle } from '../accounts/login-throttle.js';
import type { AuditContext, AuditLog } from '../audit/events.js';
import { isUuid } from '../db/prisma.js';
import { AppError } from '../http/errors.js';
import { seal, unseal } from '../keys/encryption.js';
import type { FactorSummary, MfaStore } from './mfa-store.js';

/** RFC 6238 §5.2: 30-second steps; one step either side absorbs clock skew. */
const PERIOD = 30;
const RECOVERY_CODE_COUNT = 10;
// No 0/o, 1/l/i: codes are read off paper.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export interface MfaServiceDependencies {
  readonly store: MfaStore;
  /** AES-256-GCM key for TOTP secrets (derived from the master secret). */
  readonly sealKey: KeyObject;
  /** HMAC key for recovery codes at rest. */
  readonly codeKey: KeyObject;
  /** Shown in authenticator apps next to the account. */
  readonly issuerName: string;
  /** Wrong codes, counted per account and IP apart from passwords (namespace `mfa:`). */
  readonly throttle: LoginThrottle;
  readonly audit: AuditLog;
}

/** What enrolment shows: the QR code, and the secret for typing in by hand. */
export interface TotpEnrolment {
  readonly secret: string;
  readonly uri: string;
  /** `data:image/svg+xml;base64,…`, rendered here (no external service). */
  readonly qrDataUrl: string;
}

/** The outcome of a second-factor code at sign-in. */
export type SecondFactorOutcome =
  | { readonly ok: true; readonly method: 'totp' | 'recovery_code'; readonly recoveryCodesLeft?: number }
  | { readonly ok: false; readonly reason: 'wrong_code' }
  | { readonly ok: false; readonly reason: 'throttled'; readonly retryAfterSeconds: number };

const normalizeRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');
/** Six digits: the shape of an authenticator app's code (RFC 6238 with the RFC 4226 default of six digits). */
const isAppCode = (code: string) => /^\d{6}$/.test(code);
const totpAssociatedData = (factorId: string) => `mfa-totp:${factorId}`;

export function createMfaService(deps: MfaServiceDependencies) {
  const { store } = deps;
  const hashCode = (code: string) => createHmac('sha256', deps.codeKey).update(normalizeRecoveryCode(code)).digest('base64url');

  const newRecoveryCodes = () =>
    Array.from({ length: RECOVERY_CODE_COUNT }, () => {
      const chars = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
      return `${chars.slice(0, 5)}-${chars.slice(5)}`;
    });

  /** The time step of `code` for this secret (±1 step), or undefined. */
  const matchingStep = async (secret: string, code: string): Promise<number | undefined> => {
    if (!isAppCode(code)) return undefined;
    const result = await verify({ secret, token: code, period: PERIOD, epochTolerance: PERIOD });
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  };

  /**
   * A sign-in code against the user's factors, using up what matched: a TOTP
   * step (never twice) or a recovery code. Otherwise, which factor it was
   * checked as: a six-digit code without an authenticator app is checked as
   * a recovery code.
   */
  const judgeCode = async (
    userId: string,
    given: string,
    audit: AuditContext,
  ): Promise<Extract<SecondFactorOutcome, { ok: true }> | { readonly ok: false; readonly checkedAs: 'totp' | 'recovery_code' }> => {
    const totp = await store.totpFactor(userId);
    if (totp?.confirmed && isAppCode(given)) {
      const step = await matchingStep(unseal(totp.secret, deps.sealKey, totpAssociatedData(totp.id)), given);
      if (step !== undefined && (await store.useTotpStep(totp.id, step))) return { ok: true, method: 'totp' };
      return { ok: false, checkedAs: 'totp' };
    }
    if (given.length > 0 && given.length <= 64) {
      const left = await store.useRecoveryCode(userId, hashCode(given), audit);
      if (left !== undefined) return { ok: true, method: 'recovery_code', recoveryCodesLeft: left };
    }
    return { ok: false, checkedAs: 'recovery_code' };
  };

  const enrolment = async (secret: string, label: string): Promise<TotpEnrolment> => {
    const uri = generateURI({ issuer: deps.issuerName, label, secret, period: PERIOD });
    const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { secret, uri, qrDataUrl: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
  };

  const service = {
    ...createMfaAdmin(store),

    hasFactor(userId: string): Promise<boolean> {
      return store.hasConfirmedFactor(userId);
    },

    /** Starts TOTP enrolment: a new secret, kept sealed until a code confirms it. */
    async startTotp(userId: string, label: string): Promise<TotpEnrolment> {
      const id = randomUUID();
      const secret = generateSecret({ length: 20 });
      await store.createPendingTotp(userId, id, seal(secret, deps.sealKey, totpAssociatedData(id)));
      return enrolment(secret, label);
    },

    /** The enrolment waiting for its first code, if any (the page shows it again). */
    async pendingTotp(userId: string, label: string): Promise<TotpEnrolment | undefined> {
      const row = await store.totpFactor(userId);
      if (!row || row.confirmed) return undefined;
      return enrolment(unseal(row.secret, deps.sealKey, totpAssociatedData(row.id)), label);
    },

    /** Confirms enrolment with a current code; returns the new recovery codes (shown once). */
    async confirmTotp(userId: string, code: string, audit: AuditContext): Promise<string[]> {
      const row = await store.totpFactor(userId);
      if (!row || row.confirmed)
        throw new AppError(409, 'no_enrolment', 'There is no authenticator app waiting to be confirmed; start again.');
      const step = await matchingStep(unseal(row.secret, deps.sealKey, totpAssociatedData(row.id)), code.trim());
      if (step === undefined)
        throw new AppError(400, 'invalid_code', 'That code is not right. Enter the current 6-digit code from your app.');
      const codes = newRecoveryCodes();
      if (!(await store.confirmTotp(row.id, userId, step, codes.map(hashCode), audit))) {
        throw new AppError(409, 'no_enrolment', 'There is no authenticator app waiting to be confirmed; start again.');
      }
      return codes;
    },

    async regenerateRecoveryCodes(userId: string, audit: AuditContext): Promise<string[]> {
      if (!(await service.hasFactor(userId))) throw new AppError(409, 'no_factor', 'Set up a second factor first.');
      const codes = newRecoveryCodes();
      await store.replaceRecoveryCodes(userId, codes.map(hashCode), audit);
      return codes;
    },

    /**
     * Checks a second-factor code at sign-in: a TOTP code (not used before)
     * or a recovery code (used up). Wrong codes are throttled per account and
     * IP like passwords, on counters of their own, and audited.
     */
    async verifySecondFactor(
      user: { id: string; email: string },
      code: string,
      ip: string,
      audit: AuditContext,
    ): Promise<SecondFactorOutcome> {
      const given = code.trim();
      // Which factor was tried, for the audit log (admins see it in `users sign-in`): six digits are an
      // authenticator app's code, anything else a recovery code (ten letters and digits).
      const factor = isAppCode(given) ? 'totp' : 'recovery_code';
      const attempt = await deps.throttle.attempt(user.email, ip);
      if (!attempt.allowed) {
        await deps.audit.record(audit, {
          type: 'mfa.throttled',
          subject: user.id,
          details: { type: factor, limit: attempt.reason, retry_after: attempt.retryAfterSeconds },
        });
        return { ok: false, reason: 'throttled', retryAfterSeconds: attempt.retryAfterSeconds };
      }
      // A check the database broke off (an outage mid-check) judged nothing: the attempt is given back.
      const judgement = await judged(attempt, () => judgeCode(user.id, given, audit));
      if (judgement.ok) {
        await attempt.succeeded();
        return judgement;
      }
      const outcome = await attempt.failed();
      await deps.audit.record(audit, {
        type: 'mfa.failed',
        subject: user.id,
        details: { type: judgement.checkedAs, failures: outcome.failures },
      });
      return { ok: false, reason: 'wrong_code' };
    },
  };
  return service;
}

export type MfaService = ReturnType<typeof createMfaService>;

/** What admins (API and CLI) do with a user's factors: no keys needed. */
export function createMfaAdmin(store: MfaStore) {
  return {
    /** The user's confirmed factors: type, name, created and last used (never a secret). */
    listFactors(userId: string): Promise<FactorSummary[]> {
      return isUuid(userId) ? store.listFactors(userId) : Promise.resolve([]);
    },

    recoveryCodesLeft(userId: string): Promise<number> {
      return isUuid(userId) ? store.recoveryCodesLeft(userId) : Promise.resolve(0);
    },

    /**
     * Removes one factor, or all (`factorId` undefined), ending the user's
     * sessions when `endSessions` (an admin reset). 404 when there is none.
     */
    async removeFactors(
      userId: string,
      factorId: string | undefined,
      audit: AuditContext,
      options: { endSessions: boolean },
    ): Promise<number> {
      if (!isUuid(userId) || (factorId !== undefined && !isUuid(factorId))) throw new AppError(404, 'not_found', 'no such second factor');
      const removed = await store.removeFactors(userId, factorId, audit, options);
      if (removed === 0) throw new AppError(404, 'not_found', factorId ? `no second factor ${factorId}` : 'the user has no second factor');
      return removed;
    },
  };
}

export type MfaAdmin = ReturnType<typeof createMfaAdmin>;
