import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { Browser, findForm } from '../support/browser.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationRequestWithPkce, PASSWORD, registerSampleApp, RFC7636_EXAMPLE_CODE_VERIFIER } from '../support/sample-app.js';

describe('cookies behind TLS', () => {
  let databaseUrl: string;
  let gatehouse: TestGatehouse;
  let clientId: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const port = String(await testPort());
    // TLS ends at a proxy Gatehouse is not told to trust: requests arrive over plain HTTP.
    gatehouse = await startTestGatehouse(databaseUrl, { PORT: port, ISSUER: `https://127.0.0.1:${port}` });
    clientId = (await registerSampleApp(gatehouse)).client.client_id;
  });
  afterAll(async () => {
    await gatehouse?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  it('marks the interaction and session cookies Secure with an https issuer, and warns about plain HTTP once', async () => {
    const browser = new Browser();
    const { url } = await authorizationRequestWithPkce(
      { issuer: gatehouse.issuer, clientId },
      { scope: 'openid' },
      RFC7636_EXAMPLE_CODE_VERIFIER,
    );
    // Sent to the plain-HTTP address the proxy forwards to, not to the https issuer.
    const started = await browser.fetch(url.replace(gatehouse.issuer, gatehouse.url));
    const interactionCookies = started.headers.getSetCookie();
    expect(interactionCookies.some((cookie) => cookie.startsWith('_interaction='))).toBe(true);
    for (const cookie of interactionCookies) expect(cookie.toLowerCase()).toContain('; secure');

    const login = await browser.open(new URL(started.headers.get('location') ?? '', gatehouse.url).toString());
    expect(login.status).toBe(200);
    // The login completes at the provider (/auth/:uid), which sets the session cookie.
    const form = findForm(login, '/login');
    const posted = await browser.fetch(new URL(form.action, login.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, email: 'ada@example.test', password: PASSWORD }),
    });
    expect(posted.status).toBe(303);
    const resumeUrl = new URL(posted.headers.get('location') ?? '', gatehouse.url);
    const resumed = await browser.fetch(`${gatehouse.url}${resumeUrl.pathname}`);
    const sessionCookies = resumed.headers.getSetCookie().filter((cookie) => cookie.startsWith('_session'));
    expect(sessionCookies.length).toBeGreaterThan(0);
    for (const cookie of sessionCookies) expect(cookie.toLowerCase()).toContain('; secure');

    const warnings = gatehouse.log.lines.filter((line) => line.includes('arrived over plain HTTP'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('GATEHOUSE_TRUST_PROXY');
  });
});
