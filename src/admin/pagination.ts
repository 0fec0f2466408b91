import { z } from 'zod';
import { AppError } from '../http/errors.js';
import { isStorableText } from '../http/storable-text.js';

/** `?limit=&cursor=`: opaque cursors, 1 to 100 items a page (default 20). */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
};

export const encodeCursor = (value: string | null): string | null => (value === null ? null : Buffer.from(value).toString('base64url'));
/** The key a cursor stands for; one this server did not issue (not canonical base64url of storable text) is a 400. */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const value = Buffer.from(cursor, 'base64url').toString('utf8');
  if (encodeCursor(value) !== cursor || !isStorableText(value)) throw new AppError(400, 'invalid_request', 'cursor is not valid');
  return value;
}

export function page<T>(data: T[], next: string | null): { data: T[]; next_cursor: string | null } {
  return { data, next_cursor: encodeCursor(next) };
}

export const pageSchema = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });
