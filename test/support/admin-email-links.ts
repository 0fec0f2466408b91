import { expect } from 'vitest';
import { adminClient, adminTokenForClient } from './admin.js';
import type { Browser, Page } from './browser.js';
import { createConsoleUser, signInToConsole } from './console.js';
import { startTestGatehouse, type TestGatehouse } from './gatehouse.js';
import { recipientOf, startMailServer } from './mail.js';
import { PASSWORD, startWithSampleApp, stopAndDrop } from './sample-app.js';

type MailServer = Awaited<ReturnType<typeof startMailServer>>;
type Started = Awaited<ReturnType<typeof startWithSampleApp>>;
type AdminApi = ReturnType<typeof adminClient>;

/** What sets apart one kind of link an admin sends a user by email (a verification email, a password reset link). */
export interface AdminEmailLink {
  /** The admin client the instance starts with. */
  readonly admin: { readonly GATEHOUSE_ADMIN_CLIENT_ID: string; readonly GATEHOUSE_ADMIN_CLIENT_SECRET: string };
  /** The admin API path a POST to which sends user `id` the link. */
  readonly sendPath: (id: string) => string;
  /** The audit event one link sent records. */
  readonly eventType: string;
  /** The purpose of the link's row in account tokens. */
  readonly tokenPurpose: string;
}

/**
 * What the tests of an admin-sent email link share: a real mail server on
 * loopback that refuses every address starting with `refused`, a Gatehouse
 * (sample app registered) that sends through it, an admin API client, and
 * the console signed in as an admin (root@example.test).
 *
 * Registers no hooks: call `start` in beforeAll and `stop` in afterAll. The
 * functions can be destructured at once; `mail`, `gatehouse`, `databaseUrl`
 * and `consoleAdmin` are read once `start` has run.
 */
export function createAdminEmailLinkFixture(link: AdminEmailLink) {
  const { admin } = link;
  let mail: MailServer | undefined;
  let started: Started | undefined;
  let adminApi: AdminApi | undefined;
  let consoleAdmin: { browser: Browser; page: Page } | undefined;
  const others: TestGatehouse[] = [];
  let markers = 0;

  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`${name} is not there yet: the fixture's start() runs in beforeAll`);
    return value;
  };
  const mailServer = () => ready(mail, 'mail');
  const gatehouse = () => ready(started, 'gatehouse').gatehouse;
  const api: AdminApi = (...request: Parameters<AdminApi>) => ready(adminApi, 'api')(...request);
  const send = (id: string) => api('POST', link.sendPath(id));
  const createUser = (email: string) => gatehouse().users.createUser({ email, password: PASSWORD });

  return {
    async start(): Promise<void> {
      mail = await startMailServer({ refuseRecipient: (address) => address.startsWith('refused') });
      started = await startWithSampleApp({ ...admin, GATEHOUSE_SMTP_URL: mail.url });
      adminApi = adminClient(
        started.gatehouse,
        await adminTokenForClient(started.gatehouse, admin.GATEHOUSE_ADMIN_CLIENT_ID, admin.GATEHOUSE_ADMIN_CLIENT_SECRET),
      );
      await createConsoleUser(started.gatehouse, 'root@example.test');
      consoleAdmin = await signInToConsole(started.gatehouse, 'root@example.test');
    },
    /** Stops what `start` started, as far as it got, and every instance `startAnother` started. */
    async stop(): Promise<void> {
      for (const other of others) await other.stop();
      await stopAndDrop(started?.gatehouse, started?.databaseUrl);
      await mail?.close();
    },

    get mail(): MailServer {
      return mailServer();
    },
    get gatehouse(): TestGatehouse {
      return gatehouse();
    },
    get databaseUrl(): string {
      return ready(started, 'databaseUrl').databaseUrl;
    },
    get consoleAdmin(): { browser: Browser; page: Page } {
      return ready(consoleAdmin, 'consoleAdmin');
    },

    /** The admin API as the instance's admin client. */
    api,
    /** Sends user `id` the link through the admin API. */
    send,
    createUser,
    /** How many links user `userId` was recorded as sent. */
    sentEvents: (userId: string) => gatehouse().prisma.event.count({ where: { type: link.eventType, subject: userId } }),
    /** How many of the link's tokens user `userId` has. */
    tokens: (userId: string) => gatehouse().prisma.accountToken.count({ where: { userId, purpose: link.tokenPurpose } }),
    /** The console's page of user `id`. */
    openUser: (id: string) => ready(consoleAdmin, 'consoleAdmin').browser.open(`${gatehouse().url}/console/users/${id}`),
    /** The environment of the `gatehouse` command run against the instance as its admin client. */
    remote: () => ({
      GATEHOUSE_URL: gatehouse().url,
      GATEHOUSE_CLIENT_ID: admin.GATEHOUSE_ADMIN_CLIENT_ID,
      GATEHOUSE_CLIENT_SECRET: admin.GATEHOUSE_ADMIN_CLIENT_SECRET,
    }),

    /** Sends an address its five links of the hour (the per-address limit), each checked as delivered. */
    async useUpTheHour(user: { id: string; email: string }): Promise<void> {
      for (let n = 0; n < 5; n += 1) {
        expect((await send(user.id)).status).toBe(200);
        expect(recipientOf(await mailServer().nextMessage())).toBe(user.email);
      }
    },

    /**
     * Nothing arrived for `email` (nor anyone else): a link sent now to a fresh
     * marker account is the next message (every expected message was read).
     */
    async expectNoMailFor(email: string): Promise<void> {
      markers += 1;
      const marker = await createUser(`marker-${markers}@example.test`);
      expect((await send(marker.id)).status).toBe(200);
      const next = recipientOf(await mailServer().nextMessage());
      expect(next).not.toBe(email);
      expect(next).toBe(marker.email);
      expect(mailServer().unread()).toBe(0);
    },

    /**
     * A second instance on the same database and issuer with the same admin
     * client and other settings (`environment`), with its own admin API
     * client; stopped by `stop`.
     */
    async startAnother(environment: Record<string, string>): Promise<{ gatehouse: TestGatehouse; api: AdminApi }> {
      const first = ready(started, 'gatehouse');
      const other = await startTestGatehouse(first.databaseUrl, { ...admin, ISSUER: first.gatehouse.issuer, ...environment });
      others.push(other);
      const token = await adminTokenForClient(other, admin.GATEHOUSE_ADMIN_CLIENT_ID, admin.GATEHOUSE_ADMIN_CLIENT_SECRET);
      return { gatehouse: other, api: adminClient(other, token) };
    },
  };
}
