import { describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands.js';
import { describeForFlags, runCli, VERSION } from '../../src/cli/main.js';
import { configDir, serverUrl } from '../../src/cli/remote-session.js';

/** Runs a command line that must not reach a database (help, version, usage errors). */
async function run(...args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(
    args,
    {},
    { stdout: (text) => void stdout.push(text), stderr: (text) => void stderr.push(text), readStdin: async () => '' },
  );
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

describe('gatehouse help, --version and usage errors', () => {
  it('explains every flag of every command in its --help, and `help COMMAND` says the same', async () => {
    for (const [name, command] of Object.entries(commands)) {
      const shown = await run(...name.split(' '), '--help');
      expect(shown.code, name).toBe(0);
      expect(shown.stdout).toContain(`Usage: gatehouse ${command.usage}`);
      for (const [flag, spec] of Object.entries(command.options)) {
        expect(spec.description.length, `${name} --${flag}`).toBeGreaterThan(10);
        expect(shown.stdout).toMatch(new RegExp(`^  --${flag}\\s+${spec.description.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      }
      for (const global of ['json', 'url', 'local', 'help']) expect(shown.stdout).toMatch(new RegExp(`^  --${global}\\s+\\S`, 'm'));
      expect((await run('help', ...name.split(' '))).stdout).toBe(shown.stdout);
    }
  });

  it('names the allowed values of flags that take a fixed set', async () => {
    expect((await run('resources', 'update', '--help')).stdout).toMatch(/--rbac\s+on or off/);
    expect((await run('resources', 'create', '--help')).stdout).toMatch(/--ttl\s+.*15m/);
    expect((await run('clients', 'set', '--help')).stdout).toMatch(/--require-pkce\s+true or false/);
    expect((await run('events', 'list', '--help')).stdout).toMatch(/--type\s+Only events of this type: .*user\.created/);
  });

  it('prints its version with --version, and the command list with help', async () => {
    expect(await run('--version')).toMatchObject({ code: 0, stdout: `gatehouse ${VERSION}` });
    expect(JSON.parse((await run('--version', '--json')).stdout)).toEqual({ version: VERSION });
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    const help = await run('help');
    expect(help.code).toBe(0);
    for (const name of Object.keys(commands)) expect(help.stdout).toContain(`gatehouse ${name}`);
    expect(help.stdout).toContain('GATEHOUSE_URL');
    expect(await run('help', 'no', 'such')).toMatchObject({ code: 2, stderr: expect.stringContaining('no command "no such"') });
  });

  it('with --json, usage errors are JSON too', async () => {
    const unknownFlag = await run('users', 'list', '--colour', '--json');
    expect(unknownFlag.code).toBe(2);
    expect(JSON.parse(unknownFlag.stderr)).toEqual({ error: 'usage_error', error_description: expect.stringContaining("'--colour'") });
    const unknownCommand = await run('frobnicate', '--json');
    expect(unknownCommand.code).toBe(2);
    expect(JSON.parse(unknownCommand.stderr)).toEqual({ error: 'usage_error', error_description: 'unknown command "frobnicate --json"' });
    const missing = await run('users', 'show', '--json');
    expect(JSON.parse(missing.stderr)).toEqual({ error: 'usage_error', error_description: 'expects one ID' });
    expect(missing.stdout).toBe('');
  });

  it('refuses a remote URL that is not https, unless it is this machine', async () => {
    const plain = await run('users', 'list', '--url', 'http://auth.example.com', '--json');
    expect(plain.code).toBe(2);
    expect(JSON.parse(plain.stderr).error_description).toBe(
      '--url must be https (plain http only for localhost, 127.0.0.1 or [::1]): http://auth.example.com',
    );
    expect((await run('users', 'list', '--url', 'ftp://auth.example.com')).stderr).toContain('--url must be an https URL');
    expect((await run('users', 'list', '--url', 'not a url')).stderr).toContain('--url is not a URL');
    // https, but no credentials: said plainly, before any request.
    const noCredentials = await run('users', 'list', '--url', 'https://auth.example.com/');
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.stderr).toContain(
      'no credentials for https://auth.example.com: set GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET',
    );
  });
});

describe('admin API messages as sentences about flags', () => {
  const fields = { scopes: '--scope', client_name: '--name', redirect_uris: '--redirect-uri' };

  it('names the flag, and which of its values, instead of the JSON field', () => {
    expect(describeForFlags('scopes.0: Invalid input', fields)).toBe('the 1st --scope is not valid: not an accepted value');
    expect(describeForFlags('redirect_uris.1: must be https', fields)).toBe('the 2nd --redirect-uri is not valid: must be https');
    expect(describeForFlags('scopes.2.name: too long', fields)).toBe('the 3rd --scope is not valid: too long');
    expect(describeForFlags('client_name: Invalid input: expected string, received undefined', fields)).toBe('--name is required');
  });

  it('leaves messages about other things as they are', () => {
    expect(describeForFlags('no user 42', fields)).toBe('no user 42');
    expect(describeForFlags('jwks: must be a JWK Set', fields)).toBe('jwks: must be a JWK Set');
    expect(describeForFlags('scopes.0: Invalid input', undefined)).toBe('scopes.0: Invalid input');
  });
});

describe('remote settings', () => {
  it('takes http only for this machine, and drops a trailing slash', () => {
    expect(serverUrl('http://localhost:3000/')).toBe('http://localhost:3000');
    expect(serverUrl('http://127.0.0.2:8080')).toBe('http://127.0.0.2:8080');
    expect(serverUrl('http://[::1]:3000')).toBe('http://[::1]:3000');
    expect(serverUrl('https://auth.example.com/tenant/')).toBe('https://auth.example.com/tenant');
    expect(() => serverUrl('http://localhost.example.com')).toThrow('--url must be https');
    expect(() => serverUrl('https://auth.example.com/?x=1')).toThrow('must not have a query or fragment');
  });

  it('keeps the login in $XDG_CONFIG_HOME/gatehouse, else ~/.config/gatehouse, else nowhere', () => {
    expect(configDir({ XDG_CONFIG_HOME: '/x', HOME: '/home/a' })).toBe('/x/gatehouse');
    expect(configDir({ HOME: '/home/a' })).toBe('/home/a/.config/gatehouse');
    expect(configDir({})).toBeUndefined();
  });
});
