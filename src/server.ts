import { createServer, type RequestListener, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createAccountRecovery } from './accounts/account-recovery.js';
import { createAccountTokenStore } from './accounts/account-tokens.js';
import { createLoginThrottle } from './accounts/login-throttle.js';
import { RECOVERY_PATHS, recoveryRoutes } from './account/recovery-routes.js';
import { registrationRoutes } from './account/registration-routes.js';
import { ACCOUNT_CLIENT_ID, ACCOUNT_PATHS, accountRoutes } from './account/account-routes.js';
import { ensureAccountClient } from './account/account-client.js';
import { createSessionActivityStore } from './account/session-activity.js';
import { createAccountEmails } from './email/account-emails.js';
import { createMailer } from './email/mailer.js';
import { createPasswordHasher } from './accounts/passwords.js';
import { createUserService, type UserService } from './accounts/users.js';
import { adminAudience, createAdminApi, ensureAdminApiResource, ensureAdminClient } from './admin/admin-api.js';
import { createAuditLog } from './audit/events.js';
import { createApp } from './app.js';
import { cacheLookups } from './clients/cached-lookups.js';
import { createClientService, type ClientService } from './clients/clients.js';
import { createResourceService, type ResourceService } from './clients/resources.js';
import type { Config } from './config/config.js';
import { deriveSecrets, resolveMasterSecret } from './config/master-secret.js';
import { listenForChanges } from './db/change-notifications.js';
import { openDatabase } from './db/open-database.js';
import type { PrismaClient } from './db/prisma.js';
import { createPageRenderer } from './http/pages.js';
import { createRequestCounters } from './http/request-counters.js';
import { scheduleExpiredRowCleanup } from './jobs/expired-rows.js';
import { scheduleKeyMaintenance } from './jobs/key-rotation.js';
import { watchSigningKeys } from './keys/key-watcher.js';
import { createKeyService, keySettingsFrom, type KeyService, type SigningKeySet } from './keys/signing-keys.js';
import type { Logger } from './log.js';
import { createDevicePages } from './interactions/device-pages.js';
import { createDeviceFlowStores } from './oidc/device/device-flow.js';
import { createAdapterFactory } from './oidc/prisma-adapter.js';
import { createProvider, type ProviderRef } from './oidc/provider.js';
import { createMfa } from './mfa/mfa-module.js';

export interface RunningGatehouse {
  /** Where the HTTP server listens (the issuer may differ behind a proxy). */
  readonly url: string;
  readonly server: Server;
  readonly databaseUrl: string;
  readonly prisma: PrismaClient;
  readonly users: UserService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly keys: KeyService;
  /** Closes the HTTP server, then the database (and the embedded Postgres). */
  stop(): Promise<void>;
}

/** Start-up in order: secret → database → migrations → admin user → keys → provider → listen. */
export interface StartOptions {
  /** Where a one-time message with a secret goes (the generated admin client): the console, never the log. */
  readonly announce?: (text: string) => void;
}

export async function startGatehouse(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningGatehouse> {
  const masterSecret = await resolveMasterSecret(config.secret, config.dataDir, log.warn);
  const secrets = deriveSecrets(masterSecret);

  const { databaseUrl, prisma, close: closeDatabase } = await openDatabase(config, log);
  // Everything started is stopped in reverse order: on stop(), and when a later step fails.
  const closers: (() => Promise<void>)[] = [closeDatabase];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch((error: unknown) => log.warn(`stop: ${(error as Error).message}`));
  };
  try {
    const users = createUserService(prisma, createPasswordHasher(config.argon2), { minPasswordLength: config.passwordMinLength, minPasswordScore: config.passwordMinScore });
    const clients = createClientService(prisma, secrets.clientSecretKey);
    const resources = createResourceService(prisma);
    // One LISTEN connection per instance serves every cache. It starts before
    // anything is cached or loaded, so no change can be missed.
    const cached = cacheLookups(clients, resources, config.cacheTtlSeconds);
    let reloadKeys = () => {};
    const listener = await listenForChanges(databaseUrl, (topic) => {
      cached.onChange(topic);
      if (topic === 'keys') reloadKeys();
    }, log);
    closers.push(() => listener.close());
    if (config.admin) {
      await users.ensureAdminUser(config.admin.email, config.admin.password);
      log.info(`admin user ${config.admin.email} is ready`);
    }
    await ensureAdminApiResource(resources, config.issuer);
    const audit = createAuditLog(prisma);
    const loginThrottle = createLoginThrottle(prisma, config.loginThrottle);

    const keys = createKeyService(prisma, secrets.keyEncryptionKey, keySettingsFrom(config));
    const firstStart = await keys.ensure();
    await ensureAdminClient(clients, config.issuer, config.adminClient, firstStart, options.announce ?? console.log);
    await keys.maintain(); // catch up on a rotation that fell due while no instance ran
    const initialKeys = await keys.load();

    const pages = createPageRenderer();
    const adapter = createAdapterFactory(prisma, cached.clients, secrets.payloadSealKey);
    const deviceFlowStores = createDeviceFlowStores(prisma, config.deviceFlow);
    const devicePages = createDevicePages(pages, cached.resources);
    const requestCounters = createRequestCounters(prisma);
    const mailer = createMailer({ ...config.email, outboxDir: join(config.dataDir, 'outbox') }, log);
    if (!mailer.available) log.warn('no SMTP configured (GATEHOUSE_SMTP_URL) in production: password reset and email verification are off');
    const recovery = createAccountRecovery({
      issuer: config.issuer,
      users,
      tokens: createAccountTokenStore(prisma),
      emails: createAccountEmails(mailer, config.issuer),
      counters: requestCounters,
      audit,
      log,
      resetTtl: config.email.passwordResetTtl,
      verificationTtl: config.email.verificationTtl,
    });
    const sessionActivity = createSessionActivityStore(prisma);
    await ensureAccountClient(clients, config.issuer, secrets.csrfKey, log);
    const buildProvider = (keySet: SigningKeySet) =>
      createProvider({ config, cookieKeys: secrets.cookieKeys, clientSecretKey: secrets.clientSecretKey, keys: keySet, adapter, users, resources: cached.resources, pages, devicePages, audit, log, deviceFlowStores, requestCounters, onSessionUse: sessionActivity.touch });
    // Swapped whole when the keys change: requests in flight finish on the
    // provider they started with; all state lives in Postgres, so none is lost.
    const provider: ProviderRef = { current: buildProvider(initialKeys) };
    const mfa = createMfa({ prisma, config, secrets, audit, users, pages, provider });
    let currentKeys = initialKeys;
    const keyWatcher = watchSigningKeys({
      initial: initialKeys,
      load: keys.load,
      onChange: (keySet) => {
        provider.current = buildProvider(keySet);
        currentKeys = keySet;
        log.info(`signing keys changed: signing with ${keySet.keys[0]?.kid}, publishing ${keySet.keys.length} keys`);
      },
      intervalSeconds: config.keys.checkInterval,
      log,
    });
    closers.push(() => keyWatcher.close());
    reloadKeys = keyWatcher.reload;
    keyWatcher.reload(); // a change between the load above and now
    const keyMaintenance = scheduleKeyMaintenance(keys, config.keys.checkInterval, log);
    closers.push(() => keyMaintenance.stop());
    const cleanup = scheduleExpiredRowCleanup(prisma, config.cleanupIntervalSeconds, log, { eventRetentionSeconds: config.eventRetention });
    closers.push(() => cleanup.stop());

    const app = createApp({
      https: config.issuer.startsWith('https:'),
      trustProxy: config.trustProxy,
      jwksMaxAge: config.keys.jwksMaxAge,
      prisma,
      provider,
      users,
      resources,
      pages,
      csrfKey: secrets.csrfKey,
      adminResource: adminAudience(config.issuer),
      audit,
      admin: createAdminApi({ issuer: config.issuer, prisma, users, clients, resources, keys, currentKeys: () => currentKeys, adapterFor: adapter, audit, log, strictResponses: !config.production, loginThrottle, authFailuresPerMinute: config.adminAuthFailuresPerMinute, recovery }),
      log,
      loginThrottle,
      secondFactor: mfa.hooks,
      interactionTtl: config.ttl.interaction,
      requestCounters,
      account: {
        routers: [
          recoveryRoutes({ recovery, pages, log, passwordMinLength: config.passwordMinLength }),
          accountRoutes({ provider, users, recovery, sessions: sessionActivity, loginThrottle, pages, csrfKey: secrets.csrfKey, issuer: config.issuer, log, passwordMinLength: config.passwordMinLength, sections: [mfa.accountSection] }),
        ],
        paths: [...RECOVERY_PATHS, ...ACCOUNT_PATHS, ...mfa.accountPaths],
      },
      registration: config.registrationOpen
        ? registrationRoutes({ provider, users, recovery, counters: requestCounters, pages, csrfKey: secrets.csrfKey, audit, log, passwordMinLength: config.passwordMinLength })
        : undefined,
      registrationOpen: config.registrationOpen,
      firstPartyClients: [ACCOUNT_CLIENT_ID],
    });
    const server = await listen(app.callback(), config.port, config.host);
    closers.push(() => closeServer(server));

    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    log.info(`Gatehouse listening on ${url} (issuer ${config.issuer})`);
    return { url, server, databaseUrl, prisma, users, clients, resources, keys, stop: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function listen(handler: RequestListener, port: number, host: string): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Stops accepting, lets requests in flight finish (up to 5 s), then closes. */
async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 5000);
  await closed;
  clearTimeout(force);
}
