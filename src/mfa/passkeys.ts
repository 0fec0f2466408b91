import { createHash, randomUUID } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { recordEvent, type AuditContext, type AuditLog } from '../audit/events.js';
import type { PrismaClient } from '../db/prisma.js';
import { AppError } from '../http/errors.js';

const CHALLENGE_TTL_SECONDS = 300;
const challengeKey = (purpose: string, owner: string) => createHash('sha256').update(`webauthn:${purpose}:${owner}`).digest('base64url');

/** A passkey that signed a sign-in: whose it is, and whether the user was verified (PIN, biometrics). */
export interface PasskeyAssertion {
  readonly userId: string;
  readonly userVerified: boolean;
  /** Synced (backed up) passkeys are software keys (RFC 8176 `swk`); others hardware-bound (`hwk`). */
  readonly backedUp: boolean;
}

export interface PasskeySettings {
  /** The WebAuthn relying party id: the issuer's host, or GATEHOUSE_WEBAUTHN_RP_ID. */
  readonly rpId: string;
  /** The origin browsers report: the issuer's. */
  readonly origin: string;
  readonly rpName: string;
}

const parseJson = <T>(text: string): T => {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new AppError(400, 'invalid_passkey', 'The passkey answer could not be read; please try again.');
  }
};

/**
 * Passkeys (WebAuthn Level 3) on @simplewebauthn/server: registration on the
 * account page, and sign-in as a second factor or alone (discoverable
 * credentials, user verification required). Challenges are single-use rows;
 * origin and RP ID are checked by the library, the signature counter by the
 * library and again by a conditional update (§6.1.1: a counter that does not
 * grow means a cloned authenticator).
 */
export function createPasskeys(prisma: PrismaClient, settings: PasskeySettings, audit: AuditLog) {
  const saveChallenge = async (key: string, challenge: string) => {
    const expiresAt = new Date(Date.now() + CHALLENGE_TTL_SECONDS * 1000);
    await prisma.webauthnChallenge.upsert({ where: { key }, create: { key, challenge, expiresAt }, update: { challenge, expiresAt } });
  };
  /** The challenge, used up: a response can be checked against it once. */
  const takeChallenge = async (key: string): Promise<string> => {
    const rows = await prisma.$queryRaw<{ challenge: string }[]>`DELETE FROM webauthn_challenges WHERE key = ${key} AND expires_at > now() RETURNING challenge`;
    const challenge = rows[0]?.challenge;
    if (!challenge) throw new AppError(400, 'invalid_passkey', 'The passkey request expired; please try again.');
    return challenge;
  };
  const credentialsOf = (userId: string) =>
    prisma.mfaFactor.findMany({ where: { userId, type: 'passkey', confirmedAt: { not: null } }, select: { credentialId: true, transports: true } });

  return {
    async registrationOptions(user: { id: string; email: string }, sessionUid: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await credentialsOf(user.id);
      const options = await generateRegistrationOptions({
        rpName: settings.rpName,
        rpID: settings.rpId,
        userName: user.email,
        userID: new TextEncoder().encode(user.id),
        attestationType: 'none',
        excludeCredentials: existing.map((credential) => ({ id: credential.credentialId as string })),
        // Discoverable, so it also signs in without a password.
        authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      });
      await saveChallenge(challengeKey('register', sessionUid), options.challenge);
      return options;
    },

    async register(user: { id: string }, sessionUid: string, responseJson: string, name: string, context: AuditContext): Promise<void> {
      const response = parseJson<RegistrationResponseJSON>(responseJson);
      const expectedChallenge = await takeChallenge(challengeKey('register', sessionUid));
      let verified;
      try {
        verified = await verifyRegistrationResponse({ response, expectedChallenge, expectedOrigin: settings.origin, expectedRPID: settings.rpId, requireUserVerification: false });
      } catch (error) {
        throw new AppError(400, 'invalid_passkey', `The passkey was not accepted: ${(error as Error).message}`);
      }
      if (!verified.verified) throw new AppError(400, 'invalid_passkey', 'The passkey was not accepted.');
      const { credential } = verified.registrationInfo;
      const id = randomUUID();
      await prisma.$transaction(async (tx) => {
        await tx.mfaFactor.create({
          data: {
            id, userId: user.id, type: 'passkey', name: name.trim().slice(0, 100) || 'Passkey', confirmedAt: new Date(),
            credentialId: credential.id, publicKey: Buffer.from(credential.publicKey).toString('base64url'), counter: BigInt(credential.counter), transports: credential.transports ?? [],
          },
        });
        await recordEvent(tx, context, { type: 'mfa.enrolled', subject: user.id, details: { factor_id: id, type: 'passkey' } });
      }).catch((error: unknown) => {
        if ((error as { code?: string }).code === 'P2002') throw new AppError(409, 'passkey_exists', 'That passkey is already registered.');
        throw error;
      });
    },

    /** Options for a sign-in: the user's passkeys (second factor), or any discoverable one (`userId` undefined: passwordless). */
    async authenticationOptions(interactionUid: string, userId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = userId ? await credentialsOf(userId) : [];
      const options = await generateAuthenticationOptions({
        rpID: settings.rpId,
        allowCredentials: allow.map((credential) => ({ id: credential.credentialId as string })),
        userVerification: userId ? 'preferred' : 'required',
      });
      await saveChallenge(challengeKey('sign-in', interactionUid), options.challenge);
      return options;
    },

    /** Checks a sign-in's assertion; undefined (audited) when it is not good. */
    async authenticate(interactionUid: string, responseJson: string, options: { userId?: string; context: AuditContext }): Promise<PasskeyAssertion | undefined> {
      const response = parseJson<AuthenticationResponseJSON>(responseJson);
      const expectedChallenge = await takeChallenge(challengeKey('sign-in', interactionUid));
      const row = typeof response?.id === 'string' && response.id.length <= 1024
        ? await prisma.mfaFactor.findFirst({ where: { credentialId: response.id, type: 'passkey', confirmedAt: { not: null } } })
        : null;
      const refuse = async (reason: string) => {
        await audit.record(options.context, { type: 'mfa.failed', subject: row?.userId ?? options.userId, details: { type: 'passkey', reason } });
        return undefined;
      };
      if (!row?.publicKey || !row.credentialId) return refuse('unknown_credential');
      if (options.userId && row.userId !== options.userId) return refuse('other_user');
      const passwordless = options.userId === undefined;
      let result;
      try {
        result = await verifyAuthenticationResponse({
          response, expectedChallenge, expectedOrigin: settings.origin, expectedRPID: settings.rpId,
          credential: { id: row.credentialId, publicKey: Buffer.from(row.publicKey, 'base64url'), counter: Number(row.counter ?? 0n), transports: row.transports },
          // Alone, a passkey must be two factors in one: possession and verification.
          requireUserVerification: passwordless,
        });
      } catch (error) {
        return refuse((error as Error).message.slice(0, 200));
      }
      if (!result.verified) return refuse('not_verified');
      const next = BigInt(result.authenticationInfo.newCounter);
      const updated = await prisma.$executeRaw`
        UPDATE mfa_factors SET counter = ${next}, last_used_at = now()
        WHERE id = ${row.id}::uuid AND (counter < ${next} OR (counter = 0 AND ${next} = 0))`;
      if (updated !== 1) return refuse('counter_replayed');
      return { userId: row.userId, userVerified: result.authenticationInfo.userVerified, backedUp: result.authenticationInfo.credentialBackedUp };
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;

/** RFC 8176 methods a passkey assertion proves. */
export function passkeyMethods(assertion: PasskeyAssertion): string[] {
  return [assertion.backedUp ? 'swk' : 'hwk', ...(assertion.userVerified ? ['user'] : [])];
}

/** Deletes challenges nobody answered; returns how many. */
export async function deleteExpiredChallenges(prisma: PrismaClient): Promise<number> {
  const { count } = await prisma.webauthnChallenge.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  return count;
}
