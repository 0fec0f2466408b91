import { createLoginThrottle, SECOND_FACTOR_THROTTLE } from '../accounts/login-throttle.js';
import { rolesRequireMfa } from '../accounts/roles.js';
import type { UserService } from '../accounts/users.js';
import type { AuditLog } from '../audit/events.js';
import type { Config } from '../config/config.js';
import type { DerivedSecrets } from '../config/master-secret.js';
import type { PrismaClient } from '../db/prisma.js';
import type { PageRenderer } from '../http/pages.js';
import type { ProviderRef } from '../oidc/interaction-steps.js';
import { MFA_ACCOUNT_PATHS, mfaAccountSection } from './mfa-account-section.js';
import { secondFactorHooks } from './mfa-interaction.js';
import { createMfaService } from './mfa-service.js';
import { createMfaStore } from './mfa-store.js';
import { createPasskeys } from './passkeys.js';

/** Second factors wired together: the service (admin API, CLI), the login hooks and the account page's section. */
export function createMfa(deps: {
  readonly prisma: PrismaClient;
  readonly config: Config;
  readonly secrets: DerivedSecrets;
  readonly audit: AuditLog;
  readonly users: UserService;
  readonly pages: PageRenderer;
  readonly provider: ProviderRef;
}) {
  const { config } = deps;
  const store = createMfaStore(deps.prisma);
  const issuerName = new URL(config.issuer).host;
  const service = createMfaService({
    store,
    sealKey: deps.secrets.mfaKeys.sealKey,
    codeKey: deps.secrets.mfaKeys.codeKey,
    issuerName,
    // Wrong codes wait like wrong passwords, on counters of their own.
    throttle: createLoginThrottle(deps.prisma, config.loginThrottle, SECOND_FACTOR_THROTTLE),
    audit: deps.audit,
  });
  const enabled = config.mfa.mode !== 'off';
  const passkeys = createPasskeys(store, { rpId: config.mfa.rpId, origin: new URL(config.issuer).origin, rpName: issuerName }, deps.audit);
  return {
    service,
    hooks: enabled
      ? secondFactorHooks({
          provider: deps.provider,
          users: deps.users,
          mfa: service,
          store,
          policy: config.mfa,
          pages: deps.pages,
          csrfKey: deps.secrets.csrfKey,
          interactionTtl: config.ttl.interaction,
          issuerName,
          passkeys,
          roleRequiresMfa: (userId) => rolesRequireMfa(deps.prisma, userId),
        })
      : undefined,
    accountSection: mfaAccountSection({ mfa: service, users: deps.users, passkeys, enabled }),
    accountPaths: enabled ? MFA_ACCOUNT_PATHS : [],
  };
}
