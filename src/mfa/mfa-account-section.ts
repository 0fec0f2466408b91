import type { AccountSection } from '../account/account-routes.js';
import type { UserService } from '../accounts/users.js';
import { AppError } from '../http/errors.js';
import type { MfaService } from './mfa-service.js';
import type { Passkeys } from './passkeys.js';

/** The account page's forms for two-step verification (POST /account/<path>). */
export const MFA_ACCOUNT_PATHS = [
  '/account/mfa/totp',
  '/account/mfa/totp/confirm',
  '/account/mfa/remove',
  '/account/mfa/recovery-codes',
  '/account/passkeys/register',
] as const;

const text = (value: unknown) => (typeof value === 'string' ? value : '');
const day = (date: Date | null) => (date ? date.toISOString().slice(0, 10) : 'never');

/**
 * Two-step verification on /account: set up an authenticator app (QR code and
 * the key as text, confirmed by a current code), see and remove factors, see
 * how many recovery codes are left and make new ones.
 */
export function mfaAccountSection(deps: {
  readonly mfa: MfaService;
  readonly users: UserService;
  readonly passkeys: Passkeys;
  readonly enabled: boolean;
}): AccountSection {
  const requirePassword = async (email: string, password: string) => {
    if (!(await deps.users.authenticate(email, password)))
      throw new AppError(400, 'invalid_password', 'Your current password is not right.');
  };
  return {
    view: async ({ user, session }) => {
      if (!deps.enabled) return {};
      const factors = await deps.mfa.listFactors(user.id);
      const hasTotp = factors.some((factor) => factor.type === 'totp');
      const enrolment = hasTotp ? undefined : await deps.mfa.pendingTotp(user.id, user.email);
      return {
        mfa: {
          factors: factors.map((factor) => ({
            id: factor.id,
            name: factor.name,
            created: day(factor.createdAt),
            lastUsed: day(factor.lastUsedAt),
          })),
          enrolled: factors.length > 0,
          hasTotp,
          passkeyOptions: JSON.stringify(await deps.passkeys.registrationOptions(user, session.uid)),
          recoveryCodesLeft: factors.length ? await deps.mfa.recoveryCodesLeft(user.id) : 0,
          enrolment,
        },
      };
    },
    actions: deps.enabled
      ? {
          'mfa/totp': async ({ user }) => {
            if ((await deps.mfa.listFactors(user.id)).some((factor) => factor.type === 'totp')) {
              throw new AppError(409, 'already_enrolled', 'An authenticator app is already set up; remove it first.');
            }
            await deps.mfa.startTotp(user.id, user.email);
            return 'Scan the QR code with your authenticator app, then enter the code it shows.';
          },
          'mfa/totp/confirm': async ({ user, audit }, body) => {
            const recoveryCodes = await deps.mfa.confirmTotp(user.id, text(body.code), audit);
            return {
              notice: 'Two-step verification is on. Save your recovery codes now: they are not shown again.',
              view: { recoveryCodes },
            };
          },
          'passkeys/register': async ({ user, session, audit }, body) => {
            await deps.passkeys.register(user, session.uid, text(body.response), text(body.name), audit);
            const added = 'Your passkey was added. You can sign in with it, with or without your password.';
            // The first factor comes with recovery codes, whichever kind it is.
            if ((await deps.mfa.recoveryCodesLeft(user.id)) > 0) return added;
            const recoveryCodes = await deps.mfa.regenerateRecoveryCodes(user.id, audit);
            return { notice: `${added} Save your recovery codes now: they are not shown again.`, view: { recoveryCodes } };
          },
          'mfa/remove': async ({ user, audit }, body) => {
            await requirePassword(user.email, text(body.password));
            await deps.mfa.removeFactors(user.id, text(body.factor), audit, { endSessions: false });
            return (await deps.mfa.hasFactor(user.id)) ? 'That factor was removed.' : 'Two-step verification is off.';
          },
          'mfa/recovery-codes': async ({ user, audit }, body) => {
            await requirePassword(user.email, text(body.password));
            const recoveryCodes = await deps.mfa.regenerateRecoveryCodes(user.id, audit);
            return {
              notice: 'Your new recovery codes replace the old ones. Save them now: they are not shown again.',
              view: { recoveryCodes },
            };
          },
        }
      : {},
  };
}
