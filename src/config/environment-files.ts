import { readFileSync } from 'node:fs';
import { ConfigError } from './config.js';

/**
 * Docker and Kubernetes secrets arrive as files: for every setting NAME,
 * NAME_FILE names a file whose content is the value (one trailing newline is
 * not part of it). Setting both is an error, not a silent preference.
 */
export function readSettingFiles(
  environment: Record<string, string | undefined>,
  settings: readonly string[],
): Record<string, string | undefined> {
  const resolved = { ...environment };
  for (const name of settings) {
    const file = environment[`${name}_FILE`];
    if (!file) continue;
    if (environment[name]) throw new ConfigError(`${name} and ${name}_FILE are both set: set only one of them`);
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`${name}_FILE cannot be read: ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    resolved[name] = content.replace(/\r?\n$/, '');
    delete resolved[`${name}_FILE`];
  }
  return resolved;
}

/**
 * One warning per GATEHOUSE_* variable that is not a setting (a typo would
 * otherwise be ignored without a word), naming the closest setting.
 */
export function unknownSettingWarnings(environment: Record<string, string | undefined>, settings: readonly string[]): string[] {
  const known = [...settings, ...settings.map((name) => `${name}_FILE`)];
  const knownSet = new Set(known);
  return Object.keys(environment)
    .filter((name) => name.startsWith('GATEHOUSE_') && !knownSet.has(name))
    .sort()
    .map((name) => `${name} is not a Gatehouse setting and is ignored; did you mean ${closest(name, known)}?`);
}

function closest(name: string, candidates: readonly string[]): string {
  let best = candidates[0] ?? '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
