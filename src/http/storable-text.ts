import { AppError } from './errors.js';

/**
 * Postgres text cannot hold a NUL byte (error 22021), and a lone UTF-16
 * surrogate has no UTF-8 form (22P05, or silently replaced): such a string
 * can neither be stored nor match anything stored.
 */
export function isStorableText(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code === 0) return false;
    if (code >= 0xdc00 && code <= 0xdfff) return false; // a low surrogate with no high one before it
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(index + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false; // a high surrogate with no low one after it
      index += 1;
    }
  }
  return true;
}

/** The path (`a.b.0`) of the first string, or object key, in `value` that is not storable text; undefined if none. */
export function findUnstorableText(value: unknown, path: string[] = []): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path.join('.') || 'input';
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findUnstorableText(item, [...path, String(index)]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (!isStorableText(key)) return [...path, JSON.stringify(key)].join('.');
      const found = findUnstorableText(item, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Refuses input carrying a NUL byte or a lone surrogate anywhere, naming the field. */
export function refuseUnstorableText(input: unknown, codeFor: (field: string) => string = () => 'invalid_request'): void {
  const field = findUnstorableText(input);
  if (field !== undefined)
    throw new AppError(400, codeFor(field), `${field}: must not contain a NUL character or an unpaired UTF-16 surrogate`);
}
