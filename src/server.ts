import type { Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createAccountRecovery } from './accounts/account-recovery.js';
import { createAccountTokenStore } from './accounts/account-tokens.js';
import { createLoginThrottle } from './accounts/login-throttle.js';
import { RECOVERY_PATHS, recoveryRoutes } from './account/recovery-routes.js';
import { registrationRoutes } from './account/registration-routes.js';
import { ACCOUNT_CLIENT_ID, ACCOUNT_PATHS, accountRoutes } from './account/account-routes.js';
import { ensureAccountClient } from './account/account-client.js';
import { createSessionActivityStore, recordSessionUse } from './account/session-activity.js';
import { createAccountEmails } from './email/account-emails.js';
import { createMailer } from './email/mailer.js';
import { createPasswordHasher } from './accounts/passwords.js';
import { createUserService, type UserService } from './accounts/users.js';
import { createRoleService, type RoleService } from './accounts/roles.js';
import { adminAudience, adminRoutes, createAdminApi, ensureAdminApiResource, ensureAdminClient } from './admin/admin-api.js';
import { ensureConsoleClient, CONSOLE_CLIENT_ID } from './console/console-client.js';
import { createConsole } from './console/console-module.js';
import { createAuditLog } from './audit/events.js';
import { createRequestHandler } from './app.js';
import { announceCredentials } from './admin/bootstrap-credentials.js';
import { cacheLookups } from './clients/cached-lookups.js';
import { createClientService, type ClientService } from './clients/clients.js';
import { createResourceService, type ResourceService } from './clients/resources.js';
import type { Config } from './config/config.js';
import { deriveSecrets, resolveMasterSecret } from './config/master-secret.js';
import { ConfigError } from './config/config.js';
import { listenForChanges } from './db/change-notifications.js';
import { ensureSameIssuer } from './db/instance-settings.js';
import { openDatabase } from './db/open-database.js';
import type { PrismaClient } from './db/prisma.js';
import { createPageRenderer } from './http/pages.js';
import { createRequestCounters } from './http/request-counters.js';
import { scheduleExpiredRowCleanup } from './jobs/expired-rows.js';
import { scheduleKeyMaintenance } from './jobs/key-rotation.js';
import { applyingChangesHere, watchSigningKeys } from './keys/key-watcher.js';
import { createKeyService, keySettingsFrom, type KeyService, type SigningKeySet } from './keys/signing-keys.js';
import type { Logger } from './log.js';
import { createDevicePages } from './interactions/device-pages.js';
import { createDeviceFlowStores } from './oidc/device/device-flow.js';
import { createAdapterFactory } from './oidc/prisma-adapter.js';
import { createProvider, type ProviderRef } from './oidc/provider.js';
import { createMfa } from './mfa/mfa-module.js';
import { startMetricsServer } from './metrics/metrics-server.js';
import { registerMetricSources } from './metrics/metrics.js';
import { metricSourcesFor } from './metrics/sources.js';
import { createRefreshTokenSuccessors } from './oidc/refresh-token-successors.js';
import { createTokenRequests } from './oidc/token-requests.js';
import { closeInOrder, drainableServer, type Closer } from './shutdown.js';
import { deliverQueuedLogouts } from './oidc/backchannel-logout.js';
import { createLogoutOutbox } from './oidc/backchannel-logout-store.js';

export interface RunningGatehouse {
  /** Where the HTTP server listens (the issuer may differ behind a proxy). */
  readonly url: string;
  readonly server: Server;
  readonly databaseUrl: string;
  readonly prisma: PrismaClient;
  readonly users: UserService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly roles: RoleService;
  readonly keys: KeyService;
  /**
   * Drains the HTTP server, then closes the rest and the database (and the
   * embedded Postgres), within GATEHOUSE_SHUTDOWN_TIMEOUT; rejects with a
   * ShutdownTimeoutError naming what did not close.
   */
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
  // Everything started is stopped in reverse order: on stop(), and when a
  // later step fails; each bounded by GATEHOUSE_SHUTDOWN_TIMEOUT (shutdown.ts).
  const closers: Closer[] = [{ name: 'database', close: closeDatabase }];
  const closeAll = () => closeInOrder(closers.splice(0).reverse(), config.shutdownTimeout * 1000, log);
  try {
    // Back-channel logout tokens are queued in Postgres (by the logout page, and
    // with any change that ends a user's sessions) and delivered by this job.
    const logoutOutbox = createLogoutOutbox(prisma);
    let liveProvider: ProviderRef | undefined;
    const logoutDelivery = deliverQueuedLogouts({
      outbox: logoutOutbox,
      provider: () => liveProvider?.current,
      settings: config.backchannelLogout,
      timeoutSeconds: config.outbound.timeoutSeconds,
      log,
    });
    closers.push({ name: 'back-channel logout delivery', close: () => logoutDelivery.stop() });
    const users = createUserService(
      prisma,
      createPasswordHasher(config.argon2),
      { minPasswordLength: config.passwordMinLength, minPasswordScore: config.passwordMinScore },
      { sessionsEnded: logoutDelivery.kick },
    );
    const clients = createClientService(prisma, secrets.clientSecretKey);
    const resources = createResourceService(prisma);
    const roles = createRoleService(prisma);
    // One LISTEN connection per instance serves every cache. It starts before
    // anything is cached or loaded, so no change can be missed.
    const cached = cacheLookups(clients, resources, config.cacheTtlSeconds);
    let reloadKeys = () => {};
    const listener = await listenForChanges(
      databaseUrl,
      (topic) => {
        cached.onChange(topic);
        if (topic === 'keys') reloadKeys();
      },
      log,
    );
    closers.push({ name: 'change listener (LISTEN connection)', close: () => listener.close() });
    // Before anything is changed: the secret must open the stored keys (a
    // wrong one throws UnsealError), and the database must be this issuer's.
    const keys = createKeyService(prisma, secrets.keyEncryptionKey, keySettingsFrom(config));
    await keys.verifySecret();
    await ensureSameIssuer(prisma, config.issuer);
    // The admin API and its built-in role before the admin user, who is given that role.
    await ensureAdminApiResource(resources, config.issuer);
    await roles.ensureAdminRole(adminAudience(config.issuer));
    if (config.admin) {
      await users.ensureAdminUser(config.admin.email, config.admin.password);
      log.info(`admin user ${config.admin.email} is ready`);
    }
    const audit = createAuditLog(prisma);
    const loginThrottle = createLoginThrottle(prisma, config.loginThrottle);

    const firstStart = await keys.ensure();
    await ensureAdminClient(
      clients,
      config.issuer,
      config.adminClient,
      firstStart,
      options.announce ?? announceCredentials(config.dataDir, log, process.stdout.isTTY === true),
    );
    await keys.maintain(); // catch up on a rotation that fell due while no instance ran
    const initialKeys = await keys.load();

    const pages = createPageRenderer();
    const grace = config.ttl.refreshTokenReuseGrace;
    const tokenRequests = createTokenRequests(grace > 0 ? createRefreshTokenSuccessors(prisma, secrets.payloadSealKey, grace) : undefined);
    const adapter = createAdapterFactory(prisma, cached.clients, secrets.payloadSealKey, tokenRequests, recordSessionUse);
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
    const sessionActivity = createSessionActivityStore(prisma, { sessionsEnded: logoutDelivery.kick });
    await ensureAccountClient(clients, config.issuer, secrets.csrfKey, log);
    await ensureConsoleClient(clients, config.issuer, secrets.csrfKey, log);
    const buildProvider = (keySet: SigningKeySet) =>
      createProvider({
        config,
        cookieKeys: secrets.cookieKeys,
        clientSecretKey: secrets.clientSecretKey,
        keys: keySet,
        adapter,
        users,
        resources: cached.resources,
        roles,
        pages,
        devicePages,
        audit,
        log,
        deviceFlowStores,
        tokenRequests,
        requestCounters,
        adminResource: adminAudience(config.issuer),
        queueLogout: async (logout) => {
          await logoutOutbox.queue(logout);
          logoutDelivery.kick();
        },
      });
    // Swapped whole when the keys change: requests in flight finish on the
    // provider they started with; all state lives in Postgres, so none is lost.
    const provider: ProviderRef = { current: buildProvider(initialKeys) };
    liveProvider = provider;
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
    closers.push({ name: 'signing-key watcher', close: () => keyWatcher.close() });
    reloadKeys = keyWatcher.reload;
    keyWatcher.reload(); // a change between the load above and now
    const keysHere = applyingChangesHere(keys, keyWatcher);
    const keyMaintenance = scheduleKeyMaintenance(keys, config.keys.checkInterval, log);
    closers.push({ name: 'key maintenance job', close: () => keyMaintenance.stop() });
    const cleanup = scheduleExpiredRowCleanup(prisma, config.cleanupIntervalSeconds, log, { eventRetentionSeconds: config.eventRetention });
    closers.push({ name: 'cleanup job', close: () => cleanup.stop() });

    const adminApi = {
      issuer: config.issuer,
      prisma,
      users,
      clients,
      resources,
      roles,
      keys: keysHere,
      currentKeys: () => currentKeys,
      adapterFor: adapter,
      audit,
      log,
      strictResponses: !config.production,
      loginThrottle,
      authFailuresPerMinute: config.adminAuthFailuresPerMinute,
      recovery,
    };
    // The admin API's operations, served at /admin and called by the console.
    const operations = adminRoutes(adminApi);
    // The console redeems its sign-in's code at this instance's own token endpoint, over loopback.
    let ownUrl = config.issuer;
    const app = createRequestHandler({
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
      admin: createAdminApi(adminApi, operations),
      console: createConsole({
        issuer: config.issuer,
        https: config.issuer.startsWith('https:'),
        prisma,
        key: secrets.csrfKey,
        ownUrl: () => ownUrl,
        currentKeys: () => currentKeys,
        users,
        roles,
        clients,
        resources,
        keys: keysHere,
        sessionActivity,
        recovery,
        provider,
        keySettings: config.keys,
        adminResource: adminAudience(config.issuer),
        adminRoutes: operations,
        audit,
        log,
        idleSeconds: config.ttl.consoleIdle,
        signInTtl: config.ttl.interaction,
        warnings: { smtp: Boolean(config.email.smtpUrl), embeddedDatabase: !config.databaseUrl },
      }),
      log,
      loginThrottle,
      secondFactor: mfa.hooks,
      interactionTtl: config.ttl.interaction,
      requestCounters,
      account: {
        routers: [
          recoveryRoutes({ recovery, pages, log, passwordMinLength: config.passwordMinLength }),
          accountRoutes({
            provider,
            users,
            recovery,
            sessions: sessionActivity,
            loginThrottle,
            pages,
            csrfKey: secrets.csrfKey,
            issuer: config.issuer,
            log,
            passwordMinLength: config.passwordMinLength,
            sections: [mfa.accountSection],
          }),
        ],
        paths: [...RECOVERY_PATHS, ...ACCOUNT_PATHS, ...mfa.accountPaths],
      },
      registration: config.registrationOpen
        ? registrationRoutes({
            provider,
            users,
            recovery,
            counters: requestCounters,
            pages,
            csrfKey: secrets.csrfKey,
            audit,
            log,
            passwordMinLength: config.passwordMinLength,
          })
        : undefined,
      registrationOpen: config.registrationOpen,
      firstPartyClients: [ACCOUNT_CLIENT_ID, CONSOLE_CLIENT_ID],
    });
    const http = drainableServer(app);
    // Longer than the idle timeout of a proxy in front, which then closes its pooled connections first (GATEHOUSE_KEEP_ALIVE_TIMEOUT).
    http.server.keepAliveTimeout = config.keepAliveTimeout * 1000;
    const server = await listen(http.server, config.port, config.host);
    // Requests in flight get most of the deadline; the rest is for the database.
    const shutdownMs = config.shutdownTimeout * 1000;
    closers.push({ name: 'HTTP server', close: () => http.drain(Math.max(shutdownMs / 2, shutdownMs - 3000)) });
    const unregisterMetricSources = registerMetricSources(metricSourcesFor(prisma, keys, config.keys));
    closers.push({ name: 'metric sources', close: async () => unregisterMetricSources() });

    if (config.metrics) {
      const metrics = await startMetricsServer(config.metrics.port, config.metrics.host, log);
      closers.push({ name: 'metrics listener', close: () => metrics.close() });
    }
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    ownUrl = `http://${loopbackHost(config.host)}:${port}`;
    log.info(`Gatehouse listening on ${url} (issuer ${config.issuer})`);
    return { url, server, databaseUrl, prisma, users, clients, resources, roles, keys: keysHere, stop: closeAll };
  } catch (error) {
    await closeAll().catch((failure: unknown) => log.warn('stop after a failed start', { err: failure }));
    throw error;
  }
}

/** Where this process answers itself: the listening address, or loopback when it listens on every address. */
function loopbackHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

async function listen(server: Server, port: number, host: string): Promise<Server> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      // The two an operator causes, in one line naming the setting.
      if (error.code === 'EADDRINUSE') reject(new ConfigError(`PORT ${port} is already in use on ${host}`));
      else if (error.code === 'EADDRNOTAVAIL') reject(new ConfigError(`HOST ${host} is not an address of this machine`));
      else if (error.code === 'EACCES') reject(new ConfigError(`PORT ${port} needs privileges this process does not have`));
      else reject(error);
    });
    server.listen(port, host, () => resolve());
  });
  return server;
}
