import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, findForm, type Page } from '../support/browser.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { registerDeviceApp } from '../support/device.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';

const WRONG_CODE = 'BCDF-GHJK';

describe('device flow: wrong user codes are limited (RFC 8628 §5.1)', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let device: oidc.Configuration;

  /** A browser at a given client IP (the server trusts X-Forwarded-For here), on the code entry page. */
  const browserAt = async (ip: string) => {
    const browser = new Browser();
    browser.headers['x-forwarded-for'] = ip;
    return { browser, page: await browser.open(`${gatehouse.issuer}/device`) };
  };
  const enter = (browser: Browser, page: Page, code: string) => browser.submit(page, '/device', { user_code: code });

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl, {
      GATEHOUSE_DEVICE_USER_CODE_ATTEMPTS: '3',
      GATEHOUSE_DEVICE_USER_CODE_WINDOW: '5m',
      GATEHOUSE_TRUST_PROXY: 'true',
    });
    device = (await registerDeviceApp(gatehouse)).device;
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('locks out a browser session and its IP after too many wrong codes, then lets them in once the window has passed', async () => {
    const { user_code: userCode } = await oidc.initiateDeviceAuthorization(device, { scope: 'openid' });
    let { browser, page } = await browserAt('203.0.113.1');
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      page = await enter(browser, page, WRONG_CODE);
      expect(page.status).toBe(400);
      expect(page.html).toContain('That code is not valid');
    }

    // Even the right code is refused now, without looking it up.
    const locked = await enter(browser, page, userCode);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('300');
    expect(locked.html).toContain('Too many incorrect codes');
    expect(locked.html).not.toContain('name="user_code"');

    // The same session from another IP: still locked (per session).
    browser.headers['x-forwarded-for'] = '203.0.113.2';
    expect((await enter(browser, page, userCode)).status).toBe(429);

    // A new session from the same IP: still locked (per IP).
    const sameIp = await browserAt('203.0.113.1');
    expect((await enter(sameIp.browser, sameIp.page, userCode)).status).toBe(429);

    // Someone else, elsewhere, is not affected.
    const other = await browserAt('198.51.100.7');
    expect((await enter(other.browser, other.page, userCode)).html).toContain('name="confirm"');

    // Five minutes later (moved in the database) the first browser may try again.
    await gatehouse.prisma.$executeRawUnsafe(`UPDATE user_code_failures SET failed_at = failed_at - interval '6 minutes'`);
    ({ browser, page } = await browserAt('203.0.113.1'));
    expect((await enter(browser, page, userCode)).html).toContain('name="confirm"');
  });

  it('counts only wrong codes: entering expired codes locks nobody out', async () => {
    const { browser } = await browserAt('192.0.2.50');
    const responses = await Promise.all([1, 2, 3, 4].map(() => oidc.initiateDeviceAuthorization(device, { scope: 'openid' })));
    await gatehouse.prisma.$executeRawUnsafe(
      `UPDATE oidc_payloads SET payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch from now())::int - 1)) WHERE model = 'DeviceCode'`,
    );
    let page = await browser.open(`${gatehouse.issuer}/device`);
    for (const { user_code: userCode } of responses) {
      page = await enter(browser, page, userCode);
      expect(page.html).toContain('That code has expired');
    }
    const recent = await gatehouse.prisma.userCodeFailure.count({ where: { failedAt: { gt: new Date(Date.now() - 5 * 60_000) } } });
    expect(recent).toBe(0);
  });

  it('counts wrong codes posted to /device/ and /DEVICE (the same page to oidc-provider) as to /device', async () => {
    const { user_code: userCode } = await oidc.initiateDeviceAuthorization(device, { scope: 'openid' });
    let { browser, page } = await browserAt('203.0.113.30');
    for (const path of ['/device/', '/DEVICE', '/Device/']) {
      const { fields } = findForm(page, '/device');
      page = await browser.open(`${gatehouse.issuer}${path}`, {
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...fields, user_code: WRONG_CODE }),
        },
      });
      expect(page.status).toBe(400);
      expect(page.html).toContain('That code is not valid');
    }
    expect((await enter(browser, page, userCode)).status).toBe(429);
  });

  it('knows the client by the last X-Forwarded-For hop, whatever earlier hops claim', async () => {
    const { user_code: userCode } = await oidc.initiateDeviceAuthorization(device, { scope: 'openid' });
    const spoofing = async (attempt: number) => {
      const browser = new Browser();
      // A new session each time, and an invented first hop: only the proxy's last hop counts.
      browser.headers['x-forwarded-for'] = `10.0.0.${attempt}, 203.0.113.40`;
      return { browser, page: await browser.open(`${gatehouse.issuer}/device`) };
    };
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const { browser, page } = await spoofing(attempt);
      expect((await enter(browser, page, WRONG_CODE)).status).toBe(400);
    }
    const { browser, page } = await spoofing(99);
    expect((await enter(browser, page, userCode)).status).toBe(429);
  });
});
