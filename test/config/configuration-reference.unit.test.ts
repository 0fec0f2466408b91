import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CONFIG_SOURCE, generateReference, REFERENCE_FILE, settingsFrom } from '../../scripts/config-reference.js';
import { environmentSchema } from '../../src/config/config.js';

describe('the configuration reference', () => {
  it('documents every setting in its doc comment in the schema', async () => {
    const settings = settingsFrom(await readFile(CONFIG_SOURCE, 'utf8'));
    expect(settings.map((setting) => setting.name)).toEqual(Object.keys(environmentSchema.shape));
    expect(settings.filter((setting) => setting.doc.length < 10).map((setting) => setting.name)).toEqual([]);
  });

  it('docs/configuration.md is up to date (run `npm run docs:config` after changing a setting)', async () => {
    expect(await readFile(REFERENCE_FILE, 'utf8')).toBe(await generateReference());
  });
});
