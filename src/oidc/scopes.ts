/** Scopes and the claims each releases (OIDC Core §5.4, plus `roles`). */
export const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name'],
  roles: ['roles'],
} as const;

/** oidc-provider's own scopes; API scopes come from the resources table. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set([
  'openid',
  'offline_access',
  ...Object.keys(CLAIMS_BY_SCOPE).filter((scope) => scope !== 'openid'),
]);
