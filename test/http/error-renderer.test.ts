import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyMigrations } from '../../src/db/migrate.js';
import { createPrismaClient } from '../../src/db/prisma.js';
import { describeError } from '../../src/http/error-renderer.js';
import { AppError } from '../../src/http/errors.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';

const thrownBy = (work: () => unknown): unknown => {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
};

describe('describeError', () => {
  it('keeps an AppError as it is, with its headers', () => {
    const error = new AppError(405, 'method_not_allowed', 'use GET', { Allow: 'GET' });
    expect(describeError(error)).toEqual({ status: 405, code: 'method_not_allowed', description: 'use GET', headers: { Allow: 'GET' } });
  });

  it('answers a body that is not what its Content-Encoding says with 400', () => {
    const zlibError = thrownBy(() => gunzipSync(Buffer.from('not gzip')));
    expect(describeError(zlibError)).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  it('says nothing about an unexpected error', () => {
    expect(describeError(new Error('connection string postgres://secret@db'))).toEqual({
      status: 500,
      code: 'server_error',
      description: 'unexpected error',
      headers: {},
    });
    expect(describeError(Object.assign(new Error('internal'), { status: 400, expose: false }))).toMatchObject({ status: 500 });
  });

  it('answers a NUL byte that reached Postgres (22021) with 400, not 500', async () => {
    const databaseUrl = await createTestDatabase();
    await applyMigrations(databaseUrl);
    const prisma = createPrismaClient(databaseUrl);
    const error = await prisma.client.findUnique({ where: { id: 'a\u0000b' } }).catch((failure: unknown) => failure);
    await prisma.$disconnect();
    await dropTestDatabase(databaseUrl);
    expect(describeError(error)).toMatchObject({ status: 400, code: 'invalid_request' });
  });
});
