import { describe, expect, it } from 'vitest';
import type { ResourceService } from '../../src/clients/resources.js';
import { createPageRenderer } from '../../src/http/pages.js';
import { createDevicePages } from '../../src/interactions/device-pages.js';
import { findForm } from '../support/browser.js';

// The pages only read registered APIs; one fixed API stands in for the table.
const resources = {
  findResourceByIdentifier: async (identifier: string) =>
    identifier === 'https://api.example.test/'
      ? {
          id: '1',
          identifier,
          name: 'Items API',
          accessTokenTtl: 600,
          scopes: [{ name: 'items:read', description: 'Read your items' }, { name: 'items:write' }],
        }
      : null,
} as unknown as ResourceService;

describe('device verification pages', () => {
  const pages = createDevicePages(createPageRenderer(), resources);

  it('shows an empty, labelled code form with its xsrf token and no script', () => {
    const { status, html } = pages.codeEntry({ action: 'http://id.example/device', xsrf: 'secret-1' });
    expect(status).toBe(200);
    expect(html).toContain('<label for="user_code">Code</label>');
    const form = findForm({ url: 'http://id.example/device', status, html }, '/device');
    expect(form).toEqual({
      action: 'http://id.example/device',
      method: 'POST',
      fields: { xsrf: 'secret-1', user_code: '' },
      entries: [
        ['xsrf', 'secret-1'],
        ['user_code', ''],
      ],
    });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('role="alert"');
  });

  it.each([
    ['not_found', 400, 'That code is not valid'],
    ['expired', 400, 'That code has expired'],
    ['already_used', 400, 'That code was already used'],
    ['locked_out', 429, 'Too many incorrect codes'],
    ['server_error', 500, 'Something went wrong on our side'],
  ] as const)('explains %s with status %i', (problem, status, message) => {
    const page = pages.codeEntry({ action: '/device', xsrf: 'x', problem });
    expect(page.status).toBe(status);
    expect(page.html).toContain(message);
  });

  it('escapes what the user typed', () => {
    const { html } = pages.codeEntry({ action: '/device', xsrf: 'x', userCode: '"><script>alert(1)</script>', problem: 'not_found' });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&quot;&gt;&lt;script&gt;');
  });

  it('names the client, the code, the OIDC scopes and the API scopes on the confirmation page', async () => {
    const { html } = await pages.confirm({
      action: '/device',
      xsrf: 'x',
      userCode: 'WDJB-MJHT',
      clientName: 'TV <b>',
      scope: 'openid email items:read unknown-scope',
      resource: 'https://api.example.test/',
    });
    expect(html).toContain('Connect TV &lt;b&gt;?');
    expect(html).toContain('WDJB-MJHT');
    expect(html).toContain('Sign you in');
    expect(html).toContain('See your email address');
    expect(html).toContain('Items API');
    expect(html).toContain('Read your items');
    expect(html).not.toContain('unknown-scope');
    expect(html).toContain('name="confirm" value="yes"');
    expect(html).toContain('name="abort" value="yes"');
  });
});
