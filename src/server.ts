import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPasswordHasher } from './accounts/passwords.js';
import { createUserService, type UserService } from './accounts/users.js';
import { createRoleService, type RoleService } from './accounts/roles.js';
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
import { scheduleExpiredRowCleanup } from './jobs/expired-rows.js';
import { scheduleKeyMaintenance } from './jobs/key-rotation.js';
import { watchSigningKeys } from './keys/key-watcher.js';
import { createKeyService, keySettingsFrom, type KeyService, type SigningKeySet } from './keys/signing-keys.js';
import type { Logger } from './log.js';
import { createDevicePages } from './interactions/device-pages.js';
import { createDeviceFlowStores } from './oidc/device/device-flow.js';
import { createAdapterFactory } from './oidc/prisma-adapter.js';
import { createProvider, type ProviderRef } from './oidc/provider.js';

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
    const users = createUserService(prisma, createPasswordHasher(config.argon2), { minPasswordLength: config.passwordMinLength });
    const clients = createClientService(prisma, secrets.clientSecretKey);
    const resources = createResourceService(prisma);
    const roles = createRoleService(prisma);
    // One LISTEN connection per instance serves every cache. It starts before
    // anything is cached or loaded, so no change can be missed.
    const cached = cacheLookups(clients, resources, config.cacheTtlSeconds);
    let reloadKeys = () => {};
    const listener = await listenForChanges(databaseUrl, (topic) => {
      cached.onChange(topic);
      if (topic === 'keys') reloadKeys();
    }, log);
    closers.push(() => listener.close());
    await ensureAdminApiResource(resources, config.issuer);
    await roles.ensureAdminRole(adminAudience(config.issuer));
    if (config.admin) {
      await users.ensureAdminUser(config.admin.email, config.admin.password);
      log.info(`admin user ${config.admin.email} is ready`);
    }
    const audit = createAuditLog(prisma);

    const keys = createKeyService(prisma, secrets.keyEncryptionKey, keySettingsFrom(config));
    const firstStart = await keys.ensure();
    await ensureAdminClient(clients, config.issuer, config.adminClient, firstStart, options.announce ?? console.log);
    await keys.maintain(); // catch up on a rotation that fell due while no instance ran
    const initialKeys = await keys.load();

    const pages = createPageRenderer();
    const adapter = createAdapterFactory(prisma, cached.clients, secrets.payloadSealKey);
    const deviceFlowStores = createDeviceFlowStores(prisma, config.deviceFlow);
    const devicePages = createDevicePages(pages, cached.resources);
    const buildProvider = (keySet: SigningKeySet) =>
      createProvider({ config, cookieKeys: secrets.cookieKeys, clientSecretKey: secrets.clientSecretKey, keys: keySet, adapter, users, resources: cached.resources, roles, pages, devicePages, audit, log, deviceFlowStores });
    // Swapped whole when the keys change: requests in flight finish on the
    // provider they started with; all state lives in Postgres, so none is lost.
    const provider: ProviderRef = { current: buildProvider(initialKeys) };
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
    const cleanup = scheduleExpiredRowCleanup(prisma, config.cleanupIntervalSeconds, log);
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
      admin: createAdminApi({ issuer: config.issuer, prisma, users, clients, resources, roles, keys, currentKeys: () => currentKeys, adapterFor: adapter, audit, log, strictResponses: !config.production }),
      log,
    });
    const server = await listen(app.callback(), config.port, config.host);
    closers.push(() => closeServer(server));

    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    log.info(`Gatehouse listening on ${url} (issuer ${config.issuer})`);
    return { url, server, databaseUrl, prisma, users, clients, resources, roles, keys, stop: closeAll };
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
