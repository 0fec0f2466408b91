import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../support/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { linkIn, startMailServer } from '../support/mail.js';
import { authorizationRequestWithPkce, discover, REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

describe('self-registration (GATEHOUSE_REGISTRATION=open)', () => {
  let mail: Awaited<ReturnType<typeof startMailServer>>;
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let closed: TestGatehouse | undefined;

  beforeAll(async () => {
    mail = await startMailServer();
    started = await startWithSampleApp({ GATEHOUSE_REGISTRATION: 'open', GATEHOUSE_SMTP_URL: mail.url });
  });
  afterAll(async () => {
    await closed?.stop();
    await stopAndDrop(started?.gatehouse, started?.databaseUrl);
    await mail?.close();
  });

  const loginPage = async (config: oidc.Configuration, base: string) => {
    const browser = new Browser();
    const { url, codeVerifier: verifier } = await authorizationRequestWithPkce(config, { scope: 'openid email profile' });
    return { browser, verifier, page: await browser.open(url.replace(started.gatehouse.issuer, base)) };
  };
  const registerLink = (page: Page) => /href="([^"]*\/register)"/.exec(page.html)?.[1]?.replaceAll('&#x2F;', '/');

  it('creates an account from the login page under the password policy, emails a verification link, and continues the sign-in', async () => {
    const { browser, page: login, verifier } = await loginPage(started.config, started.gatehouse.url);
    const href = registerLink(login);
    expect(href).toEqual(expect.any(String));
    const form = await browser.open(new URL(href as string, login.url).toString());
    expect(form.html).toContain('Create your account');

    const weak = await browser.submit(form, '/register', { email: 'mary@example.test', name: 'Mary Somerville', password: 'password1234' });
    expect(weak.status).toBe(400);
    expect(weak.html).toContain('Your password is too easy to guess');
    const taken = await browser.submit(weak, '/register', { email: 'ADA@example.test', password: 'tides and comets 1831' });
    expect(taken.status).toBe(409);
    expect(taken.html).toContain('An account with this email already exists');

    let page = await browser.submit(
      taken,
      '/register',
      { email: 'mary@example.test', name: 'Mary Somerville', password: 'tides and comets 1831' },
      { stopAt: REDIRECT_URI },
    );
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
    const tokens = await oidc.authorizationCodeGrant(started.config, new URL(page.url), { pkceCodeVerifier: verifier });
    expect(tokens.claims()).toMatchObject({ email: 'mary@example.test', email_verified: false, name: 'Mary Somerville' });

    const message = await mail.nextMessage();
    expect(message.to).toMatchObject({ text: 'mary@example.test' });
    const confirm = await new Browser().open(linkIn(message, `${started.gatehouse.issuer}/verify-email?token=`));
    expect(confirm.html).toContain('mary@example.test');
    expect(
      await started.gatehouse.prisma.user.findUnique({ where: { email: 'mary@example.test' }, select: { emailVerified: true } }),
    ).toEqual({ emailVerified: false });
  });

  it('is off by default: no link, and no page', async () => {
    // Another instance on the same database (same ISSUER), with registration left off.
    closed = await startTestGatehouse(started.databaseUrl, { ISSUER: started.gatehouse.issuer });
    const config = await discover(closed, started.sample.client);
    const { browser, page } = await loginPage(config, closed.url);
    expect(page.html).toContain('/login"');
    expect(registerLink(page)).toBeUndefined();
    const uid = /\/interaction\/([\w-]+)\/login/.exec(page.html)?.[1] as string;
    expect((await browser.open(`${closed.url}/interaction/${uid}/register`)).status).toBe(404);
  });
});
