import { AppError } from './errors.js';

/**
 * Postgres text cannot hold a NUL byte (error 22021), and a lone UTF-16
 * surrogate has no UTF-8 form (22P05, or silently replaced): such a string
 * can neither be stored nor match anything stored.
 */
export function isStorableText(value: string): boolean {
  return !/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);
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
  if (field !== undefined) throw new AppError(400, codeFor(field), `${field}: must not contain a NUL character or an unpaired UTF-16 surrogate`);
}
