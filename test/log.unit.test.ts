import { describe, expect, it } from 'vitest';
import { createJsonLogger, runInRequestContext } from '../src/log.js';

function capture(level?: 'info' | 'warn') {
  const lines: string[] = [];
  const log = createJsonLogger({ ...(level ? { level } : {}), destination: { write: (line: string) => void lines.push(line) } });
  return { log, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('the JSON logger', () => {
  it('writes one JSON object per line with level, ISO time and message', () => {
    const { log, lines, records } = capture();
    log.info('started', { port: 3000 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(lines[0]?.trim()).not.toContain('\n');
    expect(records()[0]).toMatchObject({ level: 'info', msg: 'started', port: 3000, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });

  it('writes nothing below the configured level', () => {
    const { log, records } = capture('warn');
    log.info('chatter');
    log.warn('careful');
    expect(records().map((record) => record.msg)).toEqual(['careful']);
  });

  it('tags every line logged while a request runs with its request id and client', async () => {
    const { log, records } = capture();
    const request: { requestId: string; clientId?: string } = { requestId: 'req-42' };
    await runInRequestContext({ state: { requestContext: request } }, async () => {
      log.info('first');
      await new Promise((resolve) => setTimeout(resolve, 1));
      request.clientId = 'app-1';
      log.warn('after an await');
    });
    log.info('outside');
    expect(records()).toEqual([
      expect.objectContaining({ msg: 'first', requestId: 'req-42' }),
      expect.objectContaining({ msg: 'after an await', requestId: 'req-42', clientId: 'app-1' }),
      expect.not.objectContaining({ requestId: expect.anything() }),
    ]);
  });

  it('serialises an error as one field on one line, keeping its code, not a multi-line dump', () => {
    const { log, lines, records } = capture();
    const error = Object.assign(new Error('connection refused\n  at the database'), { code: 'ECONNREFUSED' });
    runInRequestContext({ state: { requestContext: { requestId: 'req-7' } } }, () => log.error('GET /me failed', { err: error }));
    expect(lines).toHaveLength(1);
    expect(lines[0]?.trim()).not.toContain('\n');
    expect(records()[0]).toMatchObject({
      level: 'error',
      msg: 'GET /me failed',
      requestId: 'req-7',
      err: {
        type: 'Error',
        message: 'connection refused\n  at the database',
        code: 'ECONNREFUSED',
        stack: expect.stringContaining('Error: connection refused'),
      },
    });
  });

  it('redacts passwords, tokens, codes, secrets, cookies and query strings, also one level down', () => {
    const { log, lines } = capture();
    log.info('careless caller', {
      password: 'pw-1',
      token: 'tok-1',
      code: 'code-1',
      client_secret: 'cs-1',
      refresh_token: 'rt-1',
      cookie: '_session=ck-1',
      query: 'code=q-1',
      body: { password: 'pw-2', code: 'code-2', access_token: 'at-2' },
      headers: { authorization: 'Bearer at-3', cookie: '_session=ck-3' },
    });
    const line = lines.join('');
    for (const value of ['pw-1', 'tok-1', 'code-1', 'cs-1', 'rt-1', 'ck-1', 'q-1', 'pw-2', 'code-2', 'at-2', 'at-3', 'ck-3'])
      expect(line).not.toContain(value);
    expect(line).toContain('[redacted]');
  });
});

describe('access-log lines', () => {
  it('go to the same destination at level info, with the fields they are given, and follow the level', () => {
    const { log, records } = capture();
    // access-log.ts puts the request id and client among the fields itself: the line needs no request context.
    log.access?.('POST /token 200 3ms', {
      requestId: 'req-9',
      clientId: 'app-2',
      method: 'POST',
      route: '/token',
      status: 200,
      durationMs: 3.1,
    });
    expect(records()).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'POST /token 200 3ms',
        requestId: 'req-9',
        clientId: 'app-2',
        route: '/token',
        status: 200,
      }),
    ]);
    const quiet = capture('warn');
    quiet.log.access?.('GET /jwks 200 1ms', { status: 200 });
    expect(quiet.lines).toHaveLength(0);
  });
});
