import { createLoginThrottle } from '../accounts/login-throttle.js';
import { createPasswordHasher } from '../accounts/passwords.js';
import { createUserService } from '../accounts/users.js';
import { createRoleService } from '../accounts/roles.js';
import { createClientService } from '../clients/clients.js';
import { createResourceService } from '../clients/resources.js';
import type { Config } from '../config/config.js';
import { deriveSecrets, resolveMasterSecret } from '../config/master-secret.js';
import { readRecordedIssuer } from '../db/instance-settings.js';
import { openDatabase } from '../db/open-database.js';
import { createKeyService, keySettingsFrom } from '../keys/signing-keys.js';
import type { Logger } from '../log.js';

/** The same services the server runs on, against the server's database. */
export async function openCliContext(config: Config, log: Logger) {
  const secrets = deriveSecrets(await resolveMasterSecret(config.secret, config.dataDir, log.warn));
  const database = await openDatabase(config, log, { reuseRunning: true });
  return {
    users: createUserService(database.prisma, createPasswordHasher(config.argon2), {
      minPasswordLength: config.passwordMinLength,
      minPasswordScore: config.passwordMinScore,
    }),
    clients: createClientService(database.prisma, secrets.clientSecretKey),
    resources: createResourceService(database.prisma),
    roles: createRoleService(database.prisma),
    keys: createKeyService(database.prisma, secrets.keyEncryptionKey, keySettingsFrom(config)),
    loginThrottle: createLoginThrottle(database.prisma, config.loginThrottle),
    // The issuer this database belongs to (the admin API's audience is derived from it), else the configured one.
    issuer: (await readRecordedIssuer(database.prisma)) ?? config.issuer,
    prisma: database.prisma,
    keyEncryptionKey: secrets.keyEncryptionKey,
    close: database.close,
  };
}

export type CliContext = Awaited<ReturnType<typeof openCliContext>>;
