import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPasswordHasher } from './accounts/passwords.js';
import { createUserService, type UserService } from './accounts/users.js';
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
import { ensureSigningKey, loadSigningKeys } from './keys/signing-keys.js';
import type { Logger } from './log.js';
import { createAdapterFactory } from './oidc/prisma-adapter.js';
import { createProvider } from './oidc/provider.js';

export interface RunningGatehouse {
  /** Where the HTTP server listens (the issuer may differ behind a proxy). */
  readonly url: string;
  readonly server: Server;
  readonly databaseUrl: string;
  readonly prisma: PrismaClient;
  readonly users: UserService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  /** Closes the HTTP server, then the database (and the embedded Postgres). */
  stop(): Promise<void>;
}

/** Start-up in order: secret → database → migrations → admin user → keys → provider → listen. */
export async function startGatehouse(config: Config, log: Logger): Promise<RunningGatehouse> {
  const masterSecret = await resolveMasterSecret(config.secret, config.dataDir, log.warn);
  const secrets = deriveSecrets(masterSecret);

  const { databaseUrl, prisma, close: closeDatabase } = await openDatabase(config, log);
  let stopListening = async () => {};
  try {
    const users = createUserService(prisma, createPasswordHasher(config.argon2));
    const clients = createClientService(prisma, secrets.clientSecretKey);
    const resources = createResourceService(prisma);
    // Listening starts before anything is cached, so no change can be missed.
    const cached = cacheLookups(clients, resources, config.cacheTtlSeconds);
    const listener = await listenForChanges(databaseUrl, (topic) => {
      cached.onChange(topic);
      // Issue 5 (key rotation): on 'keys', reload the signing keys and swap the provider here.
    }, log);
    stopListening = () => listener.close();
    if (config.admin) {
      await users.ensureAdminUser(config.admin.email, config.admin.password);
      log.info(`admin user ${config.admin.email} is ready`);
    }

    await ensureSigningKey(prisma, secrets.keyEncryptionKey, config.signingKeyBits);
    const keys = await loadSigningKeys(prisma, secrets.keyEncryptionKey);
    const pages = createPageRenderer();
    const provider = createProvider({
      config,
      cookieKeys: secrets.cookieKeys,
      clientSecretKey: secrets.clientSecretKey,
      keys,
      adapter: createAdapterFactory(prisma, cached.clients, secrets.keyEncryptionKey),
      users,
      resources: cached.resources,
      pages,
      log,
    });
    const app = createApp({
      https: config.issuer.startsWith('https:'),
      trustProxy: config.trustProxy,
      prisma,
      provider: { current: provider },
      users,
      resources,
      pages,
      csrfKey: secrets.csrfKey,
      log,
    });

    const server = await listen(app.callback(), config.port, config.host);
    const stopCleanup = scheduleExpiredRowCleanup(prisma, config.cleanupIntervalSeconds, log);
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    log.info(`Gatehouse listening on ${url} (issuer ${config.issuer})`);

    return {
      url,
      server,
      databaseUrl,
      prisma,
      users,
      clients,
      resources,
      async stop() {
        stopCleanup();
        await closeServer(server);
        await stopListening();
        await closeDatabase();
      },
    };
  } catch (error) {
    await stopListening().catch(() => {});
    await closeDatabase().catch(() => {});
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
