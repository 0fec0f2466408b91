/**
 * Gatehouse's `acr` convention (OIDC Core §2): two values, advertised in
 * discovery as `acr_values_supported`.
 * - `urn:gatehouse:acr:pwd`: one factor (a password);
 * - `urn:gatehouse:acr:mfa`: two factors (a password and a second factor).
 * A client asking `acr_values=urn:gatehouse:acr:mfa` gets a second factor
 * (step-up), even inside an existing session.
 */
export const ACR_PASSWORD = 'urn:gatehouse:acr:pwd';
export const ACR_MFA = 'urn:gatehouse:acr:mfa';
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA] as const;

/** `off`: nobody is asked; `optional`: users who enrolled are asked; `required`: everyone, enrolling at next sign-in. */
export type MfaMode = 'off' | 'optional' | 'required';

export interface MfaPolicy {
  readonly mode: MfaMode;
  /** GATEHOUSE_ADMIN_MFA: `required` makes users with the `admin` role enrol. */
  readonly admins: 'required' | 'optional';
}

/** What a sign-in must still do after the first factor. */
export type SecondFactorStep = 'none' | 'verify' | 'enrol';

export function secondFactorStep(
  policy: MfaPolicy,
  input: {
    readonly hasFactor: boolean;
    readonly clientRequiresMfa: boolean;
    readonly acrRequested: boolean;
    readonly roles: readonly string[];
    /** The user holds a role with `require_mfa` (src/accounts/roles.ts). */
    readonly roleRequiresMfa: boolean;
  },
): SecondFactorStep {
  if (policy.mode === 'off') return 'none';
  if (input.hasFactor) return 'verify';
  const required =
    policy.mode === 'required' ||
    input.clientRequiresMfa ||
    input.acrRequested ||
    input.roleRequiresMfa ||
    (policy.admins === 'required' && input.roles.includes('admin'));
  return required ? 'enrol' : 'none';
}

/** Whether the `acr_values` request parameter asks for two factors. */
export function asksForMfa(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').includes(ACR_MFA);
}

/**
 * RFC 8176 methods of a sign-in, and its `acr`: `mfa` is added when two
 * different kinds of factor were used (something known and something had).
 */
export function authenticationMethods(methods: readonly string[]): { amr: string[]; acr: string } {
  const amr = [...new Set(methods.filter((method) => method !== 'mfa'))];
  const secondFactor = amr.some((method) => method === 'otp' || method === 'hwk' || method === 'swk');
  const firstFactor = amr.includes('pwd') || amr.includes('user');
  if (secondFactor && firstFactor) return { amr: [...amr, 'mfa'], acr: ACR_MFA };
  return { amr, acr: ACR_PASSWORD };
}
