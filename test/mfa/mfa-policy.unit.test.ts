import { describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PASSWORD, asksForMfa, authenticationMethods, secondFactorStep } from '../../src/mfa/mfa-policy.js';

describe('second-factor policy', () => {
  const none = { hasFactor: false, clientRequiresMfa: false, acrRequested: false, roles: [], roleRequiresMfa: false };

  it('asks users with a factor for it unless MFA is off', () => {
    expect(secondFactorStep({ mode: 'optional', admins: 'optional' }, { ...none, hasFactor: true })).toBe('verify');
    expect(secondFactorStep({ mode: 'off', admins: 'required' }, { ...none, hasFactor: true, clientRequiresMfa: true })).toBe('none');
  });

  it('makes users without a factor enrol when the mode, the client, the request, a role or the admin rule requires one', () => {
    expect(secondFactorStep({ mode: 'optional', admins: 'optional' }, none)).toBe('none');
    expect(secondFactorStep({ mode: 'required', admins: 'optional' }, none)).toBe('enrol');
    expect(secondFactorStep({ mode: 'optional', admins: 'optional' }, { ...none, clientRequiresMfa: true })).toBe('enrol');
    expect(secondFactorStep({ mode: 'optional', admins: 'optional' }, { ...none, acrRequested: true })).toBe('enrol');
    expect(secondFactorStep({ mode: 'optional', admins: 'required' }, { ...none, roles: ['admin'] })).toBe('enrol');
    expect(secondFactorStep({ mode: 'optional', admins: 'required' }, { ...none, roles: ['engineer'] })).toBe('none');
    expect(secondFactorStep({ mode: 'optional', admins: 'optional' }, { ...none, roles: ['payroll'], roleRequiresMfa: true })).toBe(
      'enrol',
    );
    expect(secondFactorStep({ mode: 'off', admins: 'optional' }, { ...none, roleRequiresMfa: true })).toBe('none');
  });

  it('reads acr_values as a space-separated list', () => {
    expect(asksForMfa(`${ACR_PASSWORD} ${ACR_MFA}`)).toBe(true);
    expect(asksForMfa(ACR_PASSWORD)).toBe(false);
    expect(asksForMfa(undefined)).toBe(false);
    expect(asksForMfa(`${ACR_MFA}x`)).toBe(false);
  });

  it('adds mfa (RFC 8176 §2) and the mfa acr only when two kinds of factor were used', () => {
    expect(authenticationMethods(['pwd'])).toEqual({ amr: ['pwd'], acr: ACR_PASSWORD });
    expect(authenticationMethods(['pwd', 'otp'])).toEqual({ amr: ['pwd', 'otp', 'mfa'], acr: ACR_MFA });
    expect(authenticationMethods(['pwd', 'otp', 'mfa', 'otp'])).toEqual({ amr: ['pwd', 'otp', 'mfa'], acr: ACR_MFA });
    expect(authenticationMethods(['otp'])).toEqual({ amr: ['otp'], acr: ACR_PASSWORD });
  });
});

describe('GATEHOUSE_WEBAUTHN_RP_ID', () => {
  it("defaults to the issuer's host and must be that host or a domain it is under", async () => {
    const { loadConfig } = await import('../../src/config/config.js');
    const base = { DATABASE_URL: 'postgres://localhost/x', ISSUER: 'https://id.example.com' };
    expect(loadConfig(base).mfa.rpId).toBe('id.example.com');
    expect(loadConfig({ ...base, GATEHOUSE_WEBAUTHN_RP_ID: 'example.com' }).mfa.rpId).toBe('example.com');
    expect(() => loadConfig({ ...base, GATEHOUSE_WEBAUTHN_RP_ID: 'evil.com' })).toThrow(
      /GATEHOUSE_WEBAUTHN_RP_ID must be the issuer's host/,
    );
    expect(() => loadConfig({ ...base, GATEHOUSE_MFA: 'sometimes' })).toThrow(/GATEHOUSE_MFA/);
  });
});
