import argon2 from 'argon2';
import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForClient } from '../support/admin.js';
import { Browser, type Page } from '../support/browser.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationRequestWithPkce, discover, PASSWORD, REDIRECT_URI, registerSampleApp } from '../support/sample-app.js';

const ADMIN_ID = 'throttle-admin';
const ADMIN_SECRET = 'throttle-admin-secret-that-is-long-enough';

describe('sign-in throttling across instances (brute force and password spraying)', () => {
  let databaseUrl: string;
  let first: TestGatehouse;
  let second: TestGatehouse;
  let config: oidc.Configuration;
  let userId: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const environment = {
      GATEHOUSE_TRUST_PROXY: 'true',
      GATEHOUSE_LOGIN_FREE_FAILURES: '3',
      // Long waits, so no attempt in these tests can outlast one.
      GATEHOUSE_LOGIN_FIRST_DELAY: '10m',
      GATEHOUSE_LOGIN_MAX_DELAY: '1h',
      GATEHOUSE_LOGIN_IP_FAILURES: '30',
      GATEHOUSE_ADMIN_CLIENT_ID: ADMIN_ID,
      GATEHOUSE_ADMIN_CLIENT_SECRET: ADMIN_SECRET,
    };
    first = await startTestGatehouse(databaseUrl, environment);
    // A second instance on the same database, as behind a load balancer.
    second = await startTestGatehouse(databaseUrl, { ...environment, PORT: '0', ISSUER: first.issuer });
    const sample = await registerSampleApp(first);
    userId = sample.user.id;
    config = await discover(first, sample.client);
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  /** The login page of a new sign-in, from client IP `ip`, served by `instance`. */
  const loginPage = async (ip: string, instance: TestGatehouse = first): Promise<{ browser: Browser; page: Page }> => {
    const browser = new Browser();
    browser.headers['x-forwarded-for'] = ip;
    const { url } = await authorizationRequestWithPkce(config, { scope: 'openid email' });
    const onInstance = url.replace(first.url, instance.url);
    const page = await browser.open(onInstance, { stopAt: REDIRECT_URI });
    expect(page.html).toContain('/login"');
    return { browser, page };
  };
  const signInWith = (browser: Browser, page: Page, email: string, password: string) =>
    browser.submit(page, '/login', { email, password }, { stopAt: REDIRECT_URI });
  /** Past the login page: on to consent (or back at the app). */
  const signedIn = (page: Page) => page.url.startsWith(REDIRECT_URI) || page.html.includes('/confirm"');
  /** Throttled sign-ins the audit log counts (from one IP, or all). */
  const throttledAttempts = async (ip?: string) => {
    const events = await first.prisma.event.findMany({ where: { type: 'login.throttled', ...(ip ? { clientIp: ip } : {}) } });
    return events.reduce((total, event) => total + Number((event.details as { count?: number }).count ?? 0), 0);
  };
  const admin = async () => adminClient(first, await adminTokenForClient(first, ADMIN_ID, ADMIN_SECRET));

  it('refuses 30 wrong passwords and then the right one with 429 and Retry-After, on either instance, until an admin unlocks', async () => {
    let { browser, page } = await loginPage('203.0.113.10');
    const statuses: number[] = [];
    for (let attempt = 1; attempt <= 30; attempt += 1) {
      page = await signInWith(browser, page, 'ada@example.test', `wrong password ${attempt}`);
      statuses.push(page.status);
    }
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(new Set(statuses.slice(3))).toEqual(new Set([429]));

    const right = await signInWith(browser, page, 'ADA@example.test', PASSWORD);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(right.html).toContain('Too many attempts, try again in 10 minutes.');
    expect(signedIn(right)).toBe(false);

    // Another instance, another IP, a new sign-in: the account still waits.
    ({ browser, page } = await loginPage('198.51.100.20', second));
    const elsewhere = await signInWith(browser, page, 'ada@example.test', PASSWORD);
    expect(elsewhere.status).toBe(429);
    expect(elsewhere.html).toContain('Too many attempts, try again in 10 minutes.');

    // Admins see it, and audit events record it.
    const call = await admin();
    const state = await call('GET', `/users/${userId}/sign-in`);
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({ user_id: userId, failed_attempts: 3, delayed_until: expect.any(String) });
    const delayed = await first.prisma.event.findMany({ where: { type: 'login.account_delayed' } });
    expect(delayed).toHaveLength(1);
    expect(delayed[0]?.subject).toBe(userId);
    // Every throttled attempt is counted, in one event per client IP a minute.
    expect(await throttledAttempts()).toBe(29);
    expect(await first.prisma.event.count({ where: { type: 'login.throttled' } })).toBeLessThan(29);

    const unlocked = await call('POST', `/users/${userId}/unlock`);
    expect(unlocked).toMatchObject({ status: 200, body: { failed_attempts: 0, delayed_until: null } });
    expect(await first.prisma.event.count({ where: { type: 'user.unlocked', subject: userId } })).toBe(1);

    ({ browser, page } = await loginPage('198.51.100.20', second));
    expect(signedIn(await signInWith(browser, page, 'ada@example.test', PASSWORD))).toBe(true);
  });

  it('answers an unknown email exactly as a known one', async () => {
    const answers = [];
    for (const email of ['ada@example.test', 'nobody@example.test']) {
      let { browser, page } = await loginPage('203.0.113.11');
      for (let attempt = 1; attempt <= 4; attempt += 1) page = await signInWith(browser, page, email, 'not the password at all');
      answers.push({
        status: page.status,
        retryAfterMinutes: Math.ceil(Number(page.headers.get('retry-after')) / 60),
        html: page.html.replace(/value="[^"]*"/g, '').replace(/interaction[/=][\w-]+/g, ''),
      });
    }
    expect(answers[0]?.status).toBe(429);
    expect(answers[1]).toEqual(answers[0]);
    await (await admin())('POST', `/users/${userId}/unlock`);
  });

  it('starts the count over after a right password', async () => {
    let { browser, page } = await loginPage('203.0.113.12');
    for (let attempt = 1; attempt <= 2; attempt += 1) page = await signInWith(browser, page, 'ada@example.test', 'wrong once more');
    expect(signedIn(await signInWith(browser, page, 'ada@example.test', PASSWORD))).toBe(true);
    const state = await (await admin())('GET', `/users/${userId}/sign-in`);
    expect(state.body).toMatchObject({ failed_attempts: 0, delayed_until: null });
    ({ browser, page } = await loginPage('203.0.113.12'));
    for (let attempt = 1; attempt <= 2; attempt += 1) page = await signInWith(browser, page, 'ada@example.test', 'wrong again');
    expect(page.status).toBe(401);
  });

  it('refuses an IP that sprays one password over 40 accounts', async () => {
    const ip = '192.0.2.77';
    const statuses: number[] = [];
    for (let account = 1; account <= 40; account += 1) {
      const { browser, page } = await loginPage(ip, account % 2 ? first : second);
      const answer = await signInWith(browser, page, `user${account}@example.test`, 'Summer2026!');
      statuses.push(answer.status);
      if (answer.status === 429) expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(statuses.slice(30)).toEqual(Array(10).fill(429));

    // Even a right password from that IP waits; other IPs are not affected.
    let { browser, page } = await loginPage(ip);
    expect((await signInWith(browser, page, 'ada@example.test', PASSWORD)).status).toBe(429);
    ({ browser, page } = await loginPage('192.0.2.78'));
    expect(signedIn(await signInWith(browser, page, 'ada@example.test', PASSWORD))).toBe(true);
    expect(await throttledAttempts(ip)).toBe(11);
  });

  it('takes each login form token once: a failed attempt renders a new one', async () => {
    const { browser, page } = await loginPage('203.0.113.13');
    const failed = await signInWith(browser, page, 'ada@example.test', 'wrong');
    expect(failed.status).toBe(401);
    // The first page's token again: refused before any password is checked.
    const replayed = await signInWith(browser, page, 'ada@example.test', PASSWORD);
    expect(replayed.status).toBe(403);
    expect(replayed.html).toContain('the form expired');
    expect(signedIn(await signInWith(browser, failed, 'ada@example.test', PASSWORD))).toBe(true);
  });

  it('does not count a sign-in the argon2 queue turned away (503) as a failed password', async () => {
    // argon2 reads its cost from the hash: users whose hashes take about two
    // seconds to verify here hold both slots, and the sign-ins queued behind
    // them are turned away once they have waited the queue's 1 s bound.
    const slowHash = await argon2.hash('not the password tried', {
      type: argon2.argon2id,
      memoryCost: 32768,
      timeCost: 100,
      parallelism: 1,
    });
    const users = await Promise.all(
      ['slow-1@example.test', 'slow-2@example.test', 'slow-3@example.test'].map((email) =>
        first.users.createUser({ email, password: PASSWORD }),
      ),
    );
    await first.prisma.$executeRaw`UPDATE users SET password_hash = ${slowHash} WHERE email LIKE 'slow-%@example.test'`;
    // Two sign-ins per user (under the 3 free failures), each from its own IP, all at once.
    const pages = await Promise.all(Array.from({ length: 6 }, (_, index) => loginPage(`203.0.113.${60 + index}`)));
    const answers = await Promise.all(
      pages.map(({ browser, page }, index) => signInWith(browser, page, users[index % 3]?.email ?? '', 'a wrong password, long enough')),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses).toContain(503);
    expect(statuses.filter((status) => status !== 401 && status !== 503)).toEqual([]);
    const call = await admin();
    let counted = 0;
    for (const user of users) {
      const state = await call('GET', `/users/${user.id}/sign-in`);
      counted += (state.body as { failed_attempts: number }).failed_attempts;
    }
    // Only the passwords that were judged (and wrong) count.
    expect(counted).toBe(statuses.filter((status) => status === 401).length);
  });

  it('lets an unknown or invalid user id be a clear 404 at the admin API', async () => {
    const call = await admin();
    expect(await call('GET', '/users/not-a-uuid/sign-in')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await call('POST', '/users/00000000-0000-4000-8000-000000000000/unlock')).toMatchObject({ status: 404 });
  });
});
