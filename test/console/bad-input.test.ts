import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from '../support/browser.js';
import { createConsoleUser, signInToConsole } from '../support/console.js';
import { startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const NUL = '\u0000';

describe('the console: bad input', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let admin: { browser: Browser; page: Page };
  let csrf: string;

  beforeAll(async () => {
    started = await startWithSampleApp();
    await createConsoleUser(started.gatehouse, 'root@example.test');
    admin = await signInToConsole(started.gatehouse, 'root@example.test');
    csrf = /name="csrf" value="([^"]+)"/.exec(admin.page.html)?.[1] ?? '';
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  const get = (path: string) => admin.browser.fetch(`${started.gatehouse.url}${path}`);
  const post = (path: string, body: string) =>
    admin.browser.fetch(`${started.gatehouse.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });

  it('answers NUL bytes, lone surrogates and unknown ids in paths and queries with a page, never a 5xx', async () => {
    const paths = [
      `/console/applications?search=${encodeURIComponent(NUL)}`,
      '/console/applications?search=%ED%A0%80',
      '/console/applications?cursor=not-a-cursor',
      `/console/applications/${encodeURIComponent(`a${NUL}b`)}`,
      '/console/applications/%ED%A0%80',
      '/console/applications/no-such-client',
      `/console/users?search=${encodeURIComponent(NUL)}`,
      '/console/users?cursor=%25%25',
      '/console/users/not-a-uuid',
      '/console/users/00000000-0000-4000-8000-000000000000',
      `/console/events?actor=${encodeURIComponent(NUL)}`,
      '/console/events?subject=%ED%A0%80',
      '/console/events?since=9999-99-99T00:00',
      '/console/events?type=user.created&type=user.deleted',
      '/console/apis/not-a-uuid',
      '/console/roles/not-a-uuid',
      '/console/nothing-here',
    ];
    for (const path of paths) {
      const response = await get(path);
      expect(response.status, path).toBeLessThan(500);
      expect(response.headers.get('content-type'), path).toContain('text/html');
    }
    expect((await get('/console/applications/no-such-client')).status).toBe(404);
    expect((await get('/console/users/not-a-uuid')).status).toBe(404);
    expect((await get('/console/applications?cursor=not-a-cursor')).status).toBe(400);
  });

  it('answers bad form bodies with a sentence, never a 5xx, and stores nothing', async () => {
    const before = await started.gatehouse.prisma.client.count();
    const bodies: [string, string][] = [
      [
        '/console/applications',
        `csrf=${csrf}&type=web&client_name=${encodeURIComponent(`x${NUL}`)}&redirect_uris=https%3A%2F%2Fa.example.test%2Fcb`,
      ],
      ['/console/applications', `csrf=${csrf}&type=web&client_name=${'n'.repeat(300)}&redirect_uris=https%3A%2F%2Fa.example.test%2Fcb`],
      ['/console/applications', `csrf=${csrf}&type=web&redirect_uris=${encodeURIComponent('javascript:alert(1)')}`],
      ['/console/applications', `csrf=${csrf}&%%%=%%%`],
      ['/console/applications', `csrf=${csrf}&type[]=web&client_name[x]=y`],
      ['/console/users', `csrf=${csrf}&email=${encodeURIComponent(`a${NUL}@example.test`)}&password=x`],
      ['/console/apis', `csrf=${csrf}&identifier=https%3A%2F%2Fx.example.test%2F&name=${encodeURIComponent(NUL)}`],
      ['/console/roles', `csrf=${csrf}&name=${encodeURIComponent('bad name!')}`],
    ];
    for (const [path, body] of bodies) {
      const response = await post(path, body);
      expect(response.status, body).toBeGreaterThanOrEqual(400);
      expect(response.status, body).toBeLessThan(500);
      expect(await response.text(), body).toMatch(/role="alert">[A-Z][^<]+[.!?]</);
    }
    expect(await started.gatehouse.prisma.client.count()).toBe(before);
    const big = await post('/console/applications', `csrf=${csrf}&client_name=${'x'.repeat(100_000)}`);
    expect(big.status).toBe(413);
  });

  it('answers a user action naming a session or factor with a NUL byte with a page, never a 5xx', async () => {
    const user = started.sample.user.id;
    for (const [path, body] of [
      [`/console/users/${user}/sessions/end`, `csrf=${csrf}&session=${encodeURIComponent(`a${NUL}`)}`],
      [`/console/users/${user}/sessions/end`, `csrf=${csrf}&session=%ED%A0%80`],
      [`/console/users/${user}/mfa/remove`, `csrf=${csrf}&factor=${encodeURIComponent(`a${NUL}`)}`],
    ] as const) {
      const response = await post(path, body);
      expect(response.status, body).toBeGreaterThanOrEqual(400);
      expect(response.status, body).toBeLessThan(500);
    }
  });

  it('sends a visitor without a session to sign in, even for a POST', async () => {
    const response = await fetch(`${started.gatehouse.url}/console/applications`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'type=web',
      redirect: 'manual',
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/^\/auth\?/);
  });
});
