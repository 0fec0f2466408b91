import type Router from '@koa/router';
import type { AdminRoute } from '../admin/admin-route.js';
import type { AuditLog } from '../audit/events.js';
import type { ClientService } from '../clients/clients.js';
import type { ResourceService } from '../clients/resources.js';
import type { PrismaClient } from '../db/prisma.js';
import type { KeyService } from '../keys/signing-keys.js';
import type { Logger } from '../log.js';
import { applicationPages } from './applications-pages.js';
import { type ConsoleAuthDependencies, createConsoleAuth } from './console-auth.js';
import { createConsoleOperations } from './console-operations.js';
import { consoleRoutes } from './console-routes.js';
import { createConsoleSessionStore } from './console-session.js';
import { createConsoleSignOut } from './console-sign-out.js';
import { createConsoleViews } from './console-views.js';
import { keyPages } from './keys-pages.js';
import { createOverviewStore } from './overview-store.js';
import { overviewPage } from './overview-page.js';
import { userPages } from './users-pages.js';
import { apiPages } from './apis-pages.js';
import { rolePages } from './roles-pages.js';
import { eventPages } from './events-pages.js';
import type { AccountRecovery } from '../accounts/account-recovery.js';
import type { SessionActivityStore } from '../account/session-activity.js';
import type { ProviderRef } from '../oidc/interaction-steps.js';

/** What the sign-in needs (issuer, key, own URL, keys, users, roles, admin resource, sign-in TTL), and what the pages need besides. */
export interface ConsoleDependencies extends Omit<ConsoleAuthDependencies, 'sessions'> {
  readonly prisma: PrismaClient;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly keys: KeyService;
  /** Users' browser sessions (to see and end them) and password reset links. */
  readonly sessionActivity: SessionActivityStore;
  readonly recovery: AccountRecovery;
  /** The engine, to read the browser's Gatehouse session at the console's sign-in (its sign-out ends that one). */
  readonly provider: ProviderRef;
  readonly keySettings: { readonly rotationInterval: number; readonly publishLead: number };
  /** The admin API's operations: the console calls the same ones. */
  readonly adminRoutes: readonly AdminRoute[];
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly idleSeconds: number;
  /** Facts for the overview's warnings. */
  readonly warnings: { readonly smtp: boolean; readonly embeddedDatabase: boolean };
}

/** The admin console (/console): its sessions, its sign-in as a client of this server, and its pages. */
export function createConsole(deps: ConsoleDependencies): Router {
  const sessions = createConsoleSessionStore(deps.prisma, deps.idleSeconds);
  const auth = createConsoleAuth({ ...deps, sessions });
  const operations = createConsoleOperations(deps.adminRoutes);
  return consoleRoutes({
    auth,
    sessions,
    signOut: createConsoleSignOut({ sessions, browserSessions: deps.sessionActivity, provider: deps.provider }),
    views: createConsoleViews(),
    csrfKey: deps.key,
    issuer: deps.issuer,
    https: deps.https,
    audit: deps.audit,
    log: deps.log,
    areas: [
      overviewPage({ operations, overview: createOverviewStore(deps.prisma), keySettings: deps.keySettings, warnings: deps.warnings }),
      applicationPages({ operations, resources: deps.resources }),
      keyPages({ operations, keySettings: deps.keySettings }),
      userPages({ operations, sessions: deps.sessionActivity, recovery: deps.recovery }),
      apiPages({ operations, adminResource: deps.adminResource }),
      rolePages({ operations }),
      eventPages({ operations }),
    ],
  });
}
