import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';

const run = promisify(execFile);
const redocly = new URL('../../node_modules/@redocly/cli/bin/cli.js', import.meta.url).pathname;

interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string; schema: { format?: string } }[];
}

describe('the admin API OpenAPI document', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let document: { info: { license?: { name: string } }; paths: Record<string, Record<string, Operation>> };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
    document = (await (await fetch(`${gatehouse.url}/admin/openapi.json`)).json()) as typeof document;
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('gives every operation a unique operationId, and the document a license', () => {
    const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods));
    const ids = operations.map((operation) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(document.info.license?.name).toBe('Apache-2.0');
  });

  it('documents path parameters with the schema that validates them', () => {
    expect(document.paths['/admin/users/{id}']?.get?.parameters?.[0]).toMatchObject({ name: 'id', in: 'path', schema: { format: 'uuid' } });
  });

  it('passes redocly lint with no errors or warnings', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'gatehouse-openapi-')), 'openapi.json');
    await writeFile(file, JSON.stringify(document));
    // The recommended ruleset; exits non-zero on errors. Warnings are counted from the JSON report.
    const result = await run(process.execPath, [redocly, 'lint', file, '--format=json'], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }));
    const report = JSON.parse(result.stdout) as {
      totals: { errors: number; warnings: number };
      problems: { ruleId: string; message: string }[];
    };
    expect(report.problems.map((problem) => `${problem.ruleId}: ${problem.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });
});
