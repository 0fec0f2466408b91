import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { adminClient, adminTokenForClient } from '../support/admin.js';
import { createAdminEmailLinkFixture } from '../support/admin-email-links.js';
import { Browser } from '../support/browser.js';
import { runCliInProcess } from '../support/cli.js';
import { textOf } from '../support/console.js';
import { TEST_SECRET } from '../support/gatehouse.js';
import { linkIn, recipientOf } from '../support/mail.js';
import { PASSWORD } from '../support/sample-app.js';

const ADMIN = {
  GATEHOUSE_ADMIN_CLIENT_ID: 'verify-admin',
  GATEHOUSE_ADMIN_CLIENT_SECRET: 'verify-admin-secret-that-is-long-enough-1',
};

/**
 * Verification emails an admin sends (admin API, console, CLI, and with a
 * new user) are handed to the mail server before the answer, which says
 * whether they went out and, when not, why.
 */
describe('verification emails sent by an admin', () => {
  const fixture = createAdminEmailLinkFixture({
    admin: ADMIN,
    sendPath: (id) => `/users/${id}/verification-email`,
    eventType: 'user.verification_email_sent',
    tokenPurpose: 'email_verification',
  });
  const { api, send, createUser, sentEvents, tokens, openUser, remote, useUpTheHour, expectNoMailFor } = fixture;
  beforeAll(fixture.start);
  afterAll(fixture.stop);

  it('sends a link from the admin API: 200 with where it went, an email whose link verifies the address, one audit event; then 409 email_already_verified', async () => {
    const user = await createUser('sent@example.test');
    const sent = await send(user.id);
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({ user_id: user.id, email: 'sent@example.test', expires_at: expect.any(String) });
    expect(Date.parse(String(sent.body?.expires_at))).toBeGreaterThan(Date.now());
    const message = await fixture.mail.nextMessage();
    expect(recipientOf(message)).toBe('sent@example.test');
    expect(await sentEvents(user.id)).toBe(1);
    expect(
      await fixture.gatehouse.prisma.event.findFirst({ where: { type: 'user.verification_email_sent', subject: user.id } }),
    ).toMatchObject({ actor: `client:${ADMIN.GATEHOUSE_ADMIN_CLIENT_ID}` });

    const browser = new Browser();
    const confirm = await browser.open(linkIn(message, `${fixture.gatehouse.issuer}/verify-email?token=`));
    expect((await browser.submit(confirm, '/verify-email')).status).toBe(200);
    expect((await fixture.gatehouse.users.findUserById(user.id))?.emailVerified).toBe(true);

    const again = await send(user.id);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      error: 'email_already_verified',
      error_description: 'no verification email was sent: sent@example.test is already verified',
    });
    await expectNoMailFor('sent@example.test');
    expect(await sentEvents(user.id)).toBe(1);
  });

  it('sends one from the console for an unverified user, and shows no such button once the address is verified', async () => {
    const user = await createUser('console@example.test');
    const page = await fixture.consoleAdmin.browser.submit(await openUser(user.id), '/verification-email');
    expect(page.status).toBe(200);
    expect(textOf(page)).toContain('A link to confirm the address was sent to console@example.test.');
    expect(recipientOf(await fixture.mail.nextMessage())).toBe('console@example.test');
    expect(await sentEvents(user.id)).toBe(1);
    expect(
      await fixture.gatehouse.prisma.event.findFirst({ where: { type: 'user.verification_email_sent', subject: user.id } }),
    ).toMatchObject({ actor: expect.stringMatching(/^user:/) });

    const verified = await createUser('console-verified@example.test');
    await fixture.gatehouse.users.updateUser(verified.id, { emailVerified: true }, { actor: 'system' });
    expect((await openUser(verified.id)).html).not.toContain('/verification-email');
  });

  it('answers 404 for an unknown user and for an id that cannot be one, sending nothing', async () => {
    const unknown = '8a4f0f4e-1d2b-4c3d-9e8f-0a1b2c3d4e5f';
    expect(await send(unknown)).toMatchObject({ status: 404, body: { error: 'not_found', error_description: `no user ${unknown}` } });
    for (const id of ['not-a-uuid', '%00']) {
      expect(await send(id)).toMatchObject({
        status: 404,
        body: { error: 'not_found', error_description: expect.stringMatching(/^nothing at \/users\/".*"\/verification-email$/) },
      });
    }
    expect(fixture.mail.unread()).toBe(0);
  });

  it('refuses a disabled account with 409 user_disabled, on the API and the console page: no email, no link, no event', async () => {
    const user = await createUser('disabled@example.test');
    expect((await api('PATCH', `/users/${user.id}`, { disabled: true })).status).toBe(200);

    const refused = await send(user.id);
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({
      error: 'user_disabled',
      error_description: 'no verification email was sent: disabled@example.test is disabled; enable the account first',
    });

    const page = await fixture.consoleAdmin.browser.submit(await openUser(user.id), '/verification-email');
    expect(page.status).toBe(409);
    expect(textOf(page)).toContain('No verification email was sent: disabled@example.test is disabled; enable the account first.');
    expect(textOf(page)).not.toContain('A link to confirm the address was sent');

    await expectNoMailFor('disabled@example.test');
    expect(await sentEvents(user.id)).toBe(0);
    expect(await tokens(user.id)).toBe(0);
  });

  it('refuses a sixth email to an address in an hour with 429 and Retry-After (API, console), without using up its reset links', async () => {
    const user = await createUser('limited@example.test');
    await useUpTheHour(user);

    const refused = await send(user.id);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600).toBe(true);
    expect(refused.body).toMatchObject({ error: 'too_many_requests' });
    expect(String(refused.body?.error_description)).toMatch(
      /^no verification email was sent: limited@example\.test was already sent 5 verification emails this hour; try again in \d+ minutes?$/,
    );

    const page = await fixture.consoleAdmin.browser.submit(await openUser(user.id), '/verification-email');
    expect(page.status).toBe(429);
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(textOf(page)).toMatch(/No verification email was sent: limited@example\.test was already sent 5 verification emails this hour/);

    await expectNoMailFor('limited@example.test');
    expect(await sentEvents(user.id)).toBe(5);
    expect(await tokens(user.id)).toBe(5);

    // Reset links have their own count.
    expect((await api('POST', `/users/${user.id}/password-reset`)).status).toBe(200);
    expect(recipientOf(await fixture.mail.nextMessage())).toBe('limited@example.test');
  });

  it('answers 503 email_not_delivered when the mail server refuses the email, keeping neither the link nor the event', async () => {
    const user = await createUser('refused@example.test');
    const refused = await send(user.id);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({
      error: 'email_not_delivered',
      error_description: 'no verification email was sent: the mail server could not be reached or refused the email; try again later',
    });

    const page = await fixture.consoleAdmin.browser.submit(await openUser(user.id), '/verification-email');
    expect(page.status).toBe(503);
    expect(textOf(page)).toContain(
      'No verification email was sent: the mail server could not be reached or refused the email; try again later.',
    );

    expect(await sentEvents(user.id)).toBe(0);
    expect(await tokens(user.id)).toBe(0);
    await expectNoMailFor('refused@example.test');
  });

  it('answers 503 email_not_delivered when the mail server cannot be reached, keeping neither the link nor the event', async () => {
    const user = await createUser('unreachable@example.test');
    // A loopback port free right now: nothing listens there, so the mail server cannot be reached.
    const cut = await fixture.startAnother({ GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${await testPort()}` });

    const refused = await cut.api('POST', `/users/${user.id}/verification-email`);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: 'email_not_delivered' });
    expect(await sentEvents(user.id)).toBe(0);
    expect(await tokens(user.id)).toBe(0);

    // Creating a user there still creates them, and says the email did not go out.
    const created = await cut.api('POST', '/users', {
      email: 'unreachable-new@example.test',
      password: PASSWORD,
      send_verification_email: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      email: 'unreachable-new@example.test',
      verification_email_sent: false,
      verification_email_error: { error: 'email_not_delivered' },
    });
    const stored = await fixture.gatehouse.users.findUserByEmail('unreachable-new@example.test');
    expect(stored?.id).toBe(created.body?.id);
    expect(await tokens(String(created.body?.id))).toBe(0);
  });

  it('answers 400 email_unavailable where email is not configured (production without SMTP), recording nothing', async () => {
    const user = await createUser('nomail@example.test');
    const production = await fixture.startAnother({ NODE_ENV: 'production' });
    const refused = await production.api('POST', `/users/${user.id}/verification-email`);
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      error: 'email_unavailable',
      error_description: 'no verification email was sent: email delivery is not configured on this server (GATEHOUSE_SMTP_URL)',
    });
    expect(await sentEvents(user.id)).toBe(0);
    expect(await tokens(user.id)).toBe(0);
  });

  it('needs admin:users:write, and admin itself for an admin user', async () => {
    const user = await createUser('scoped@example.test');
    const serviceWith = async (scope: string) => {
      const created = (
        await api('POST', '/clients', {
          grant_types: ['client_credentials'],
          api_access: [{ resource: `${fixture.gatehouse.issuer}/admin`, scopes: [scope] }],
          default_resource: `${fixture.gatehouse.issuer}/admin`,
        })
      ).body as { client_id: string; client_secret: string };
      return adminClient(fixture.gatehouse, await adminTokenForClient(fixture.gatehouse, created.client_id, created.client_secret));
    };
    const reader = await serviceWith('admin:users:read');
    expect(await reader('POST', `/users/${user.id}/verification-email`)).toMatchObject({
      status: 403,
      body: { error: 'insufficient_scope' },
    });
    const writer = await serviceWith('admin:users:write');
    const admin = await fixture.gatehouse.users.createUser({ email: 'scoped-admin@example.test', password: PASSWORD, roles: ['admin'] });
    expect(await writer('POST', `/users/${admin.id}/verification-email`)).toMatchObject({
      status: 403,
      body: { error: 'insufficient_scope' },
    });
    expect(fixture.mail.unread()).toBe(0);
    expect(await sentEvents(user.id)).toBe(0);
    expect(await sentEvents(admin.id)).toBe(0);
  });

  describe('POST /admin/users with send_verification_email', () => {
    it('creates the user and says verification_email_sent: true when the mail server took it (one event, new_user)', async () => {
      const created = await api('POST', '/users', { email: 'new@example.test', password: PASSWORD, send_verification_email: true });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ email: 'new@example.test', email_verified: false, verification_email_sent: true });
      expect(created.body).not.toHaveProperty('verification_email_error');
      expect(recipientOf(await fixture.mail.nextMessage())).toBe('new@example.test');
      const id = String(created.body?.id);
      expect(await fixture.gatehouse.prisma.event.findMany({ where: { type: 'user.verification_email_sent', subject: id } })).toEqual([
        expect.objectContaining({ actor: `client:${ADMIN.GATEHOUSE_ADMIN_CLIENT_ID}`, details: { new_user: true } }),
      ]);
    });

    it('creates the user when the mail server refuses, answering 201 with verification_email_sent: false and why, keeping no link', async () => {
      const created = await api('POST', '/users', { email: 'refused-new@example.test', password: PASSWORD, send_verification_email: true });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        email: 'refused-new@example.test',
        verification_email_sent: false,
        verification_email_error: {
          error: 'email_not_delivered',
          error_description: 'no verification email was sent: the mail server could not be reached or refused the email; try again later',
        },
      });
      const id = String(created.body?.id);
      expect((await api('GET', `/users/${id}`)).status).toBe(200);
      expect(await sentEvents(id)).toBe(0);
      expect(await tokens(id)).toBe(0);
      await expectNoMailFor('refused-new@example.test');
    });

    it('says verification_email_sent: false with email_already_verified when the user is created verified, and the 429 reason when the address had its emails', async () => {
      const verified = await api('POST', '/users', {
        email: 'born-verified@example.test',
        password: PASSWORD,
        email_verified: true,
        send_verification_email: true,
      });
      expect(verified.status).toBe(201);
      expect(verified.body).toMatchObject({
        email_verified: true,
        verification_email_sent: false,
        verification_email_error: { error: 'email_already_verified' },
      });

      const earlier = await createUser('again@example.test');
      await useUpTheHour(earlier);
      expect((await api('DELETE', `/users/${earlier.id}`)).status).toBe(204);
      const limited = await api('POST', '/users', { email: 'again@example.test', password: PASSWORD, send_verification_email: true });
      expect(limited.status).toBe(201);
      expect(limited.body).toMatchObject({ verification_email_sent: false, verification_email_error: { error: 'too_many_requests' } });
      expect(limited.headers.get('retry-after')).toBeNull();
      await expectNoMailFor('again@example.test');
    });

    it('adds no verification fields when none was asked for', async () => {
      for (const body of [
        { email: 'plain@example.test', password: PASSWORD },
        { email: 'plain-false@example.test', password: PASSWORD, send_verification_email: false },
      ]) {
        const created = await api('POST', '/users', body);
        expect(created.status).toBe(201);
        expect(Object.keys(created.body ?? {}).sort()).toEqual(
          ['created_at', 'disabled', 'email', 'email_verified', 'id', 'name', 'roles', 'updated_at'].sort(),
        );
      }
      expect(fixture.mail.unread()).toBe(0);
    });

    it('refuses a send_verification_email that is not a boolean with 400, creating no one', async () => {
      const refused = await api('POST', '/users', { email: 'typo@example.test', password: PASSWORD, send_verification_email: 'yes' });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: 'invalid_request' });
      expect(await fixture.gatehouse.users.findUserByEmail('typo@example.test')).toBeNull();
    });

    it('the console says whether the link to confirm the address went out when it creates a user', async () => {
      const form = await fixture.consoleAdmin.browser.open(`${fixture.gatehouse.url}/console/users/new`);
      const sent = await fixture.consoleAdmin.browser.submit(form, '/console/users', {
        email: 'console-new@example.test',
        password: PASSWORD,
        send_verification_email: 'on',
      });
      expect(sent.status).toBe(200);
      expect(textOf(sent)).toContain('console-new@example.test was created and was sent a link to confirm the address.');
      expect(recipientOf(await fixture.mail.nextMessage())).toBe('console-new@example.test');

      const again = await fixture.consoleAdmin.browser.open(`${fixture.gatehouse.url}/console/users/new`);
      const refused = await fixture.consoleAdmin.browser.submit(again, '/console/users', {
        email: 'refused-console@example.test',
        password: PASSWORD,
        send_verification_email: 'on',
      });
      expect(refused.status).toBe(200);
      expect(textOf(refused)).toContain(
        'refused-console@example.test was created, but no verification email was sent: the mail server could not be reached or refused the email; try again later.',
      );
      expect(textOf(refused)).not.toContain('was sent a link to confirm the address');
      expect(await fixture.gatehouse.users.findUserByEmail('refused-console@example.test')).not.toBeNull();
    });
  });

  it('gatehouse users send-verification-email prints where the link went, or fails with the reason; --local says it sends no email', async () => {
    const user = await createUser('cli@example.test');
    const sent = await runCliInProcess(['users', 'send-verification-email', user.id, '--json'], remote());
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ user_id: user.id, email: 'cli@example.test' });
    expect(recipientOf(await fixture.mail.nextMessage())).toBe('cli@example.test');

    expect((await api('PATCH', `/users/${user.id}`, { disabled: true })).status).toBe(200);
    const refused = await runCliInProcess(['users', 'send-verification-email', user.id], remote());
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('user_disabled: no verification email was sent: cli@example.test is disabled');

    const missing = await runCliInProcess(['users', 'send-verification-email'], remote());
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('Usage: gatehouse users send-verification-email ID');

    const other = await createUser('cli-local@example.test');
    const local = await runCliInProcess(['users', 'send-verification-email', other.id, '--json'], {
      DATABASE_URL: fixture.databaseUrl,
      GATEHOUSE_SECRET: TEST_SECRET,
    });
    expect(local.code).not.toBe(0);
    expect(JSON.parse(local.stderr)).toEqual({
      error: 'email_unavailable',
      error_description:
        'no verification email was sent: gatehouse --local sends no email; run the command against the server (GATEHOUSE_URL)',
    });
    await expectNoMailFor('cli@example.test');
    expect(await sentEvents(user.id)).toBe(1);
    expect(await sentEvents(other.id)).toBe(0);
  });

  it('gatehouse users create --send-verification-email prints whether the email went out, and why not, creating the user either way', async () => {
    const sent = await runCliInProcess(
      ['users', 'create', '--email', 'cli-new@example.test', '--password', PASSWORD, '--send-verification-email'],
      remote(),
    );
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/^verification_email_sent\s+true$/m);
    expect(recipientOf(await fixture.mail.nextMessage())).toBe('cli-new@example.test');

    const refused = await runCliInProcess(
      ['users', 'create', '--email', 'refused-cli@example.test', '--password', PASSWORD, '--send-verification-email'],
      remote(),
    );
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.stdout).toMatch(/^verification_email_sent\s+false$/m);
    expect(refused.stdout).not.toContain('verification_email_error');
    expect(refused.stderr).toContain(
      'refused-cli@example.test was created, but no verification email was sent: the mail server could not be reached or refused the email; try again later',
    );

    const json = await runCliInProcess(
      ['users', 'create', '--email', 'refused-cli-json@example.test', '--password', PASSWORD, '--send-verification-email', '--json'],
      remote(),
    );
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      email: 'refused-cli-json@example.test',
      verification_email_sent: false,
      verification_email_error: { error: 'email_not_delivered' },
    });
    expect(await fixture.gatehouse.users.findUserByEmail('refused-cli@example.test')).not.toBeNull();
    await expectNoMailFor('refused-cli@example.test');
  });

  it('documents the operation, its 409, 429 with Retry-After and 503, and the created user’s verification fields in the OpenAPI document', async () => {
    type Operation = {
      operationId: string;
      responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: { properties?: object } }> }>;
    };
    const document = (await (await fetch(`${fixture.gatehouse.url}/admin/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const operation = document.paths['/admin/users/{id}/verification-email']?.post;
    expect(operation?.operationId).toBe('sendUserVerificationEmail');
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '404', '409', '429', '503']));
    expect(operation?.responses['429']?.headers).toHaveProperty('Retry-After');
    const created = document.paths['/admin/users']?.post?.responses['201']?.content?.['application/json']?.schema.properties;
    expect(Object.keys(created ?? {})).toEqual(expect.arrayContaining(['verification_email_sent', 'verification_email_error']));
  });
});
