import type Router from '@koa/router';
import type { AccountRecovery } from '../accounts/account-recovery.js';
import type { LoginThrottle } from '../accounts/login-throttle.js';
import { createSignInLockout } from '../accounts/sign-in-lockout.js';
import type { UserService } from '../accounts/users.js';
import type { RoleService } from '../accounts/roles.js';
import { listSubjectEvents, type AuditLog } from '../audit/events.js';
import type { ClientService } from '../clients/clients.js';
import type { ResourceService } from '../clients/resources.js';
import type { PrismaClient } from '../db/prisma.js';
import type { KeyService, SigningKeySet } from '../keys/signing-keys.js';
import type { Logger } from '../log.js';
import { createAccessTokenLiveness } from '../oidc/access-token-jwts.js';
import type { AdapterFactory } from '../oidc/provider.js';
import { createRequestCounters } from '../http/request-counters.js';
import { createAdminAuthFailures } from './admin-auth-failures.js';
import { createAdminAuthenticator } from './admin-auth.js';
import { adminRouter } from './admin-router.js';
import type { AdminRoute } from './admin-route.js';
import { clientRoutes } from './clients/routes.js';
import { eventRoutes } from './events/routes.js';
import { resourceRoutes } from './resources/routes.js';
import { keyRoutes } from './keys/routes.js';
import { userRoutes } from './users/routes.js';
import { signInRoutes } from './users/sign-in-routes.js';
import { mfaRoutes } from './users/mfa-routes.js';
import { createMfaAdmin } from '../mfa/mfa-service.js';
import { createMfaStore } from '../mfa/mfa-store.js';
import { roleRoutes } from './roles/routes.js';

export interface AdminApiDependencies {
  readonly issuer: string;
  readonly prisma: PrismaClient;
  readonly users: UserService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly roles: RoleService;
  readonly keys: KeyService;
  readonly currentKeys: () => SigningKeySet;
  /** oidc-provider's storage, for the revocation and grant checks of admin tokens. */
  readonly adapterFor: AdapterFactory;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly loginThrottle: LoginThrottle;
  /** Failed admin authentications looked at per client IP per minute. */
  readonly authFailuresPerMinute: number;
  /** Sends verification emails (send_verification_email). */
  readonly recovery: AccountRecovery;
  /** Check responses against their schemas exactly (development, tests) rather than strip them (production). */
  readonly strictResponses: boolean;
}

/** The admin API's resource indicator (RFC 8707): the `aud` of its tokens. */
export const adminAudience = (issuer: string) => `${issuer}/admin`;

/** What the admin routes run on: the services (the HTTP API, the console and the CLI's in-process API build them alike). */
export type AdminRoutesDependencies = Pick<
  AdminApiDependencies,
  'issuer' | 'prisma' | 'users' | 'clients' | 'resources' | 'roles' | 'keys' | 'audit' | 'loginThrottle'
> & { readonly recovery?: AdminApiDependencies['recovery'] };

/**
 * Every admin operation, declared once: served at /admin, called by the
 * console (src/console/) and run in process by `gatehouse --local` (src/cli/).
 */
export function adminRoutes(deps: AdminRoutesDependencies): AdminRoute[] {
  return [
    ...clientRoutes(deps.clients, adminAudience(deps.issuer)),
    ...resourceRoutes(deps.resources, adminAudience(deps.issuer)),
    ...userRoutes(deps.users, deps.recovery),
    ...signInRoutes(createSignInLockout(deps.users, deps.loginThrottle, deps.audit, (filter) => listSubjectEvents(deps.prisma, filter))),
    ...mfaRoutes(deps.users, createMfaAdmin(createMfaStore(deps.prisma))),
    ...roleRoutes(deps.roles, deps.users),
    ...keyRoutes(deps.keys),
    ...eventRoutes(deps.prisma),
  ];
}

export function createAdminApi(deps: AdminApiDependencies, routes: AdminRoute[] = adminRoutes(deps)): Router {
  const failures = createAdminAuthFailures(createRequestCounters(deps.prisma), deps.audit, deps.authFailuresPerMinute);
  return adminRouter({
    issuer: deps.issuer,
    log: deps.log,
    strictResponses: deps.strictResponses,
    routes,
    authenticate: createAdminAuthenticator({
      issuer: deps.issuer,
      audience: adminAudience(deps.issuer),
      currentKeys: deps.currentKeys,
      users: deps.users,
      clients: deps.clients,
      liveness: createAccessTokenLiveness(deps.adapterFor),
    }),
    recordAuthenticationFailure: (context, reason) => failures.record(context, reason),
    authenticationRetryAfter: (ip) => failures.retryAfter(ip),
  });
}

const ADMIN_SCOPES = [
  { name: 'admin', description: 'Manage everything in Gatehouse' },
  ...['clients', 'users', 'resources', 'keys'].flatMap((area) => [
    { name: `admin:${area}:read`, description: `Read ${area}` },
    { name: `admin:${area}:write`, description: `Change ${area}` },
  ]),
  { name: 'admin:events:read', description: 'Read the audit log' },
];

/** The admin API is itself a registered API (RFC 8707): its tokens name it as audience. */
export function ensureAdminApiResource(resources: ResourceService, issuer: string) {
  // RBAC on: a user gets admin scopes only through the built-in admin role.
  return resources.ensureResource({
    identifier: adminAudience(issuer),
    name: 'Gatehouse admin API',
    scopes: ADMIN_SCOPES,
    accessTokenTtl: 600,
    rbac: true,
  });
}

/** The admin client's metadata: a service that may get admin tokens with client credentials (RFC 6749 §4.4). */
const adminClientMetadata = (issuer: string) => ({
  client_name: 'Gatehouse admin',
  grant_types: ['client_credentials' as const],
  token_endpoint_auth_method: 'client_secret_basic' as const,
  api_access: [{ resource: adminAudience(issuer), scopes: ['admin'] }],
  default_resource: adminAudience(issuer),
});

export const BOOTSTRAP_ADMIN_CLIENT_ID = 'gatehouse-admin';

/**
 * With GATEHOUSE_ADMIN_CLIENT_ID/SECRET: that client, exactly, at every start
 * (a changed secret replaces the old). Without them, on the installation's
 * first start only: a generated one whose credentials are announced once.
 */
export async function ensureAdminClient(
  clients: ClientService,
  issuer: string,
  configured: { clientId: string; secret: string } | undefined,
  firstStart: boolean,
  announce: (text: string) => void,
): Promise<void> {
  if (configured) {
    await clients.ensureClient(configured.clientId, adminClientMetadata(issuer), configured.secret);
    return;
  }
  if (!firstStart || (await clients.getClient(BOOTSTRAP_ADMIN_CLIENT_ID))) return;
  const created = await clients.registerClient({ client_id: BOOTSTRAP_ADMIN_CLIENT_ID, ...adminClientMetadata(issuer) });
  announce(
    [
      'Admin API client created. Its secret is shown only this once:',
      `  client_id:     ${created.client_id}`,
      `  client_secret: ${created.client_secret}`,
      `Get an admin token: curl -u '${created.client_id}:<client_secret>' -d grant_type=client_credentials ${issuer}/token`,
    ].join('\n'),
  );
}
