import { createHash } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { AuditContext, AuditLog } from '../audit/events.js';
import { AppError } from '../http/errors.js';
import { loadOnce } from '../load-once.js';
import type { MfaStore } from './mfa-store.js';

const CHALLENGE_TTL_SECONDS = 300;

/**
 * @simplewebauthn/server and its ASN.1 and CBOR parsers load with the first
 * passkey request, not at start: ~4 MB of heap that most processes never use
 * and the collector would otherwise mark on every full collection
 * (docs/performance.md). A failed load is retried by the next request.
 */
const webauthn = loadOnce(() => import('@simplewebauthn/server'));
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
export function createPasskeys(store: MfaStore, settings: PasskeySettings, audit: AuditLog) {
  const takeChallenge = async (key: string): Promise<string> => {
    const challenge = await store.takeChallenge(key);
    if (!challenge) throw new AppError(400, 'invalid_passkey', 'The passkey request expired; please try again.');
    return challenge;
  };

  return {
    async registrationOptions(user: { id: string; email: string }, sessionUid: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await store.passkeyIds(user.id);
      const options = await (await webauthn()).generateRegistrationOptions({
        rpName: settings.rpName,
        rpID: settings.rpId,
        userName: user.email,
        userID: new TextEncoder().encode(user.id),
        attestationType: 'none',
        excludeCredentials: existing.map((id) => ({ id })),
        // Discoverable, so it also signs in without a password.
        authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      });
      await store.saveChallenge(challengeKey('register', sessionUid), options.challenge, CHALLENGE_TTL_SECONDS);
      return options;
    },

    async register(user: { id: string }, sessionUid: string, responseJson: string, name: string, context: AuditContext): Promise<void> {
      const response = parseJson<RegistrationResponseJSON>(responseJson);
      const expectedChallenge = await takeChallenge(challengeKey('register', sessionUid));
      let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verified = await (await webauthn()).verifyRegistrationResponse({
          response,
          expectedChallenge,
          expectedOrigin: settings.origin,
          expectedRPID: settings.rpId,
          requireUserVerification: false,
        });
      } catch (error) {
        throw new AppError(400, 'invalid_passkey', `The passkey was not accepted: ${(error as Error).message}`);
      }
      if (!verified.verified) throw new AppError(400, 'invalid_passkey', 'The passkey was not accepted.');
      const { credential } = verified.registrationInfo;
      const added = await store.addPasskey(
        user.id,
        {
          name: name.trim().slice(0, 100) || 'Passkey',
          credentialId: credential.id,
          publicKey: Buffer.from(credential.publicKey).toString('base64url'),
          counter: credential.counter,
          transports: credential.transports ?? [],
        },
        context,
      );
      if (!added) throw new AppError(409, 'passkey_exists', 'That passkey is already registered.');
    },

    /** Options for a sign-in: the user's passkeys (second factor), or any discoverable one (`userId` undefined: passwordless). */
    async authenticationOptions(interactionUid: string, userId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = userId ? await store.passkeyIds(userId) : [];
      const options = await (await webauthn()).generateAuthenticationOptions({
        rpID: settings.rpId,
        allowCredentials: allow.map((id) => ({ id })),
        userVerification: userId ? 'preferred' : 'required',
      });
      await store.saveChallenge(challengeKey('sign-in', interactionUid), options.challenge, CHALLENGE_TTL_SECONDS);
      return options;
    },

    /** Checks a sign-in's assertion; undefined (audited) when it is not good. */
    async authenticate(
      interactionUid: string,
      responseJson: string,
      options: { userId?: string; context: AuditContext },
    ): Promise<PasskeyAssertion | undefined> {
      const response = parseJson<AuthenticationResponseJSON>(responseJson);
      const expectedChallenge = await takeChallenge(challengeKey('sign-in', interactionUid));
      const passkey = typeof response?.id === 'string' && response.id.length <= 1024 ? await store.findPasskey(response.id) : undefined;
      const refuse = async (reason: string) => {
        await audit.record(options.context, {
          type: 'mfa.failed',
          subject: passkey?.userId ?? options.userId,
          details: { type: 'passkey', reason },
        });
        return undefined;
      };
      if (!passkey) return refuse('unknown_credential');
      if (options.userId && passkey.userId !== options.userId) return refuse('other_user');
      const passwordless = options.userId === undefined;
      let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
      try {
        result = await (await webauthn()).verifyAuthenticationResponse({
          response,
          expectedChallenge,
          expectedOrigin: settings.origin,
          expectedRPID: settings.rpId,
          credential: {
            id: passkey.credentialId,
            publicKey: Buffer.from(passkey.publicKey, 'base64url'),
            counter: passkey.counter,
            transports: passkey.transports,
          },
          // Alone, a passkey must be two factors in one: possession and verification.
          requireUserVerification: passwordless,
        });
      } catch (error) {
        return refuse((error as Error).message.slice(0, 200));
      }
      if (!result.verified) return refuse('not_verified');
      if (!(await store.usePasskeyCounter(passkey.factorId, result.authenticationInfo.newCounter))) return refuse('counter_replayed');
      return {
        userId: passkey.userId,
        userVerified: result.authenticationInfo.userVerified,
        backedUp: result.authenticationInfo.credentialBackedUp,
      };
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;

/** RFC 8176 methods a passkey assertion proves. */
export function passkeyMethods(assertion: PasskeyAssertion): string[] {
  return [assertion.backedUp ? 'swk' : 'hwk', ...(assertion.userVerified ? ['user'] : [])];
}
