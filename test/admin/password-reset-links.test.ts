import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminEmailLinkFixture } from '../support/admin-email-links.js';
import { Browser } from '../support/browser.js';
import { runCliInProcess } from '../support/cli.js';
import { textOf } from '../support/console.js';
import { TEST_SECRET } from '../support/gatehouse.js';
import { linkIn, recipientOf } from '../support/mail.js';

const ADMIN = { GATEHOUSE_ADMIN_CLIENT_ID: 'reset-admin', GATEHOUSE_ADMIN_CLIENT_SECRET: 'reset-admin-secret-that-is-long-enough-1' };

/**
 * An admin sending a reset link (admin API, console, CLI) is told what
 * happened; the public forgot-password page keeps its one answer.
 */
describe('password reset links sent by an admin', () => {
  const fixture = createAdminEmailLinkFixture({
    admin: ADMIN,
    sendPath: (id) => `/users/${id}/password-reset`,
    eventType: 'user.password_reset_sent',
    tokenPurpose: 'password_reset',
  });
  const { api, send, createUser, sentEvents, tokens, openUser, remote, useUpTheHour, expectNoMailFor } = fixture;
  beforeAll(fixture.start);
  afterAll(fixture.stop);

  it('sends a link from the admin API and from the console: 200 with where it went, an email, one audit event each', async () => {
    const user = await createUser('sent@example.test');
    const sent = await send(user.id);
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({ user_id: user.id, email: 'sent@example.test', expires_at: expect.any(String) });
    expect(Date.parse(String(sent.body?.expires_at))).toBeGreaterThan(Date.now());
    const message = await fixture.mail.nextMessage();
    expect(recipientOf(message)).toBe('sent@example.test');
    expect(linkIn(message, `${fixture.gatehouse.issuer}/reset-password?token=`)).toBeTruthy();
    expect(await sentEvents(user.id)).toBe(1);

    const page = await fixture.consoleAdmin.browser.submit(await openUser(user.id), '/reset-link');
    expect(page.status).toBe(200);
    expect(textOf(page)).toContain('A password reset link was sent to sent@example.test.');
    expect(recipientOf(await fixture.mail.nextMessage())).toBe('sent@example.test');
    expect(await sentEvents(user.id)).toBe(2);
  });

  it('refuses a disabled account with 409 user_disabled and says so on the console page: no email, no event', async () => {
    const user = await createUser('disabled@example.test');
    expect((await api('PATCH', `/users/${user.id}`, { disabled: true })).status).toBe(200);

    const refused = await send(user.id);
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({
      error: 'user_disabled',
      error_description: 'no reset link was sent: disabled@example.test is disabled; enable the account first',
    });

    const page = await fixture.consoleAdmin.browser.submit(await openUser(user.id), '/reset-link');
    expect(page.status).toBe(409);
    expect(textOf(page)).toContain('No reset link was sent: disabled@example.test is disabled; enable the account first.');
    expect(textOf(page)).not.toContain('A password reset link was sent');

    await expectNoMailFor('disabled@example.test');
    expect(await sentEvents(user.id)).toBe(0);
  });

  it('refuses a sixth link for an address in an hour with 429 and Retry-After, on the API and the console page: no email, no event', async () => {
    const user = await createUser('limited@example.test');
    await useUpTheHour(user);

    const refused = await send(user.id);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600).toBe(true);
    expect(refused.body).toMatchObject({ error: 'too_many_requests' });
    expect(String(refused.body?.error_description)).toMatch(
      /^no reset link was sent: limited@example\.test was already sent 5 reset links this hour; try again in \d+ minutes?$/,
    );

    const page = await fixture.consoleAdmin.browser.submit(await openUser(user.id), '/reset-link');
    expect(page.status).toBe(429);
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(textOf(page)).toMatch(
      /No reset link was sent: limited@example\.test was already sent 5 reset links this hour; try again in \d+ minutes?\./,
    );

    await expectNoMailFor('limited@example.test');
    expect(await sentEvents(user.id)).toBe(5);
  });

  it('tells the admin who creates a user without a password when their link could not go out', async () => {
    // The address's hour is used up (as by an earlier account of that address, since deleted).
    const earlier = await createUser('again@example.test');
    await useUpTheHour(earlier);
    expect((await api('DELETE', `/users/${earlier.id}`)).status).toBe(204);

    const form = await fixture.consoleAdmin.browser.open(`${fixture.gatehouse.url}/console/users/new`);
    const created = await fixture.consoleAdmin.browser.submit(form, '/console/users', { email: 'again@example.test', name: 'Again' });
    expect(created.status).toBe(200);
    expect(textOf(created)).toMatch(
      /again@example\.test was created, but no reset link was sent: again@example\.test was already sent 5 reset links this hour; try again in \d+ minutes?\./,
    );
    const user = await fixture.gatehouse.users.findUserByEmail('again@example.test');
    await expectNoMailFor('again@example.test');
    expect(await sentEvents(user?.id ?? '')).toBe(0);
  });

  it('answers 503 email_not_delivered when the mail server refuses the email, keeping neither the link nor the event', async () => {
    const user = await createUser('refused@example.test');

    const refused = await send(user.id);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({
      error: 'email_not_delivered',
      error_description: 'no reset link was sent: the mail server could not be reached or refused the email; try again later',
    });

    const page = await fixture.consoleAdmin.browser.submit(await openUser(user.id), '/reset-link');
    expect(page.status).toBe(503);
    expect(textOf(page)).toContain('No reset link was sent: the mail server could not be reached or refused the email; try again later.');
    expect(textOf(page)).toContain('refused@example.test');

    expect(await sentEvents(user.id)).toBe(0);
    expect(await tokens(user.id)).toBe(0);
    await expectNoMailFor('refused@example.test');
  });

  it('gatehouse users send-reset-link prints where the link went, or fails with the reason', async () => {
    const user = await createUser('cli@example.test');
    const sent = await runCliInProcess(['users', 'send-reset-link', user.id, '--json'], remote());
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ user_id: user.id, email: 'cli@example.test' });
    expect(recipientOf(await fixture.mail.nextMessage())).toBe('cli@example.test');
    expect(await fixture.gatehouse.prisma.event.findFirst({ where: { type: 'user.password_reset_sent', subject: user.id } })).toMatchObject(
      {
        actor: `client:${ADMIN.GATEHOUSE_ADMIN_CLIENT_ID}`,
      },
    );

    expect((await api('PATCH', `/users/${user.id}`, { disabled: true })).status).toBe(200);
    const refused = await runCliInProcess(['users', 'send-reset-link', user.id], remote());
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('cli@example.test is disabled');

    // In process on the database (--local) there is no mailer: it says so and where to run it instead.
    const enabled = await createUser('cli-local@example.test');
    const local = await runCliInProcess(['users', 'send-reset-link', enabled.id, '--json'], {
      DATABASE_URL: fixture.databaseUrl,
      GATEHOUSE_SECRET: TEST_SECRET,
    });
    expect(local.code).not.toBe(0);
    expect(JSON.parse(local.stderr)).toEqual({
      error: 'email_unavailable',
      error_description: 'no reset link was sent: gatehouse --local sends no email; run the command against the server (GATEHOUSE_URL)',
    });
    await expectNoMailFor('cli@example.test');
    expect(await sentEvents(user.id)).toBe(1);
    expect(await sentEvents(enabled.id)).toBe(0);
  });

  it('answers 400 email_unavailable where email is not configured (production without SMTP), recording nothing', async () => {
    const user = await createUser('nomail@example.test');
    const production = await fixture.startAnother({ NODE_ENV: 'production' });
    const refused = await production.api('POST', `/users/${user.id}/password-reset`);
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      error: 'email_unavailable',
      error_description: 'no reset link was sent: email delivery is not configured on this server (GATEHOUSE_SMTP_URL)',
    });
    expect(await sentEvents(user.id)).toBe(0);
  });

  it('documents the 409 and the 429 with Retry-After in the OpenAPI document', async () => {
    const document = (await (await fetch(`${fixture.gatehouse.url}/admin/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, { headers?: Record<string, unknown> }> }>>;
    };
    const operation = document.paths['/admin/users/{id}/password-reset']?.post;
    expect(operation?.operationId).toBe('sendUserPasswordReset');
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '404', '409', '429']));
    expect(operation?.responses['429']?.headers).toHaveProperty('Retry-After');
  });

  it('keeps the public forgot-password page’s one answer for a disabled account, an unknown address and a rate-limited one', async () => {
    const disabled = await createUser('public-disabled@example.test');
    expect((await api('PATCH', `/users/${disabled.id}`, { disabled: true })).status).toBe(200);
    const limited = await createUser('public-limited@example.test');
    await useUpTheHour(limited);

    const answers = [];
    for (const email of ['public-disabled@example.test', 'nobody@example.test', 'public-limited@example.test']) {
      const browser = new Browser();
      const form = await browser.open(`${fixture.gatehouse.url}/forgot-password`);
      const answer = await browser.submit(form, '/forgot-password', { email });
      // Only the CSP nonce differs from one response to the next.
      answers.push({ status: answer.status, html: answer.html.replace(/nonce="[^"]*"/g, 'nonce=""') });
    }
    expect(answers[0]?.status).toBe(200);
    expect(answers[0]?.html).toContain('If an account exists for that email, we sent it a link');
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    await expectNoMailFor('public-disabled@example.test');
    expect(await sentEvents(disabled.id)).toBe(0);
  });
});
