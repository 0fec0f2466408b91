import type { HttpMethod } from '../admin/admin-route.js';

/** A query string's fields; undefined ones are left out. */
export type AdminQuery = Record<string, string | undefined>;

export interface AdminRequest {
  readonly query?: AdminQuery;
  /** The JSON body, for POST, PUT and PATCH. */
  readonly body?: unknown;
}

/**
 * The admin API as the CLI's commands see it: one call per endpoint, the
 * presented JSON back, or an AppError with the API's `{error,
 * error_description}`. Two implementations: in process over the services
 * (`--local`, local-admin-api.ts) and over HTTP (remote-admin-api.ts), so a
 * command is written once and prints the same either way.
 */
export interface AdminApi {
  /** `path` is below /admin, its segments already URI-encoded (`/users/${encodeURIComponent(id)}`). */
  call(method: HttpMethod, path: string, request?: AdminRequest): Promise<unknown>;
}

/** A path segment: ids as given, encoded (an id is never read as more of the path). */
export const segment = (value: string | undefined): string => encodeURIComponent(value ?? '');

/** The admin API's page of results. */
export interface Page {
  readonly data: Record<string, unknown>[];
  readonly next_cursor: string | null;
}

/**
 * One page (`--limit`, `--cursor`) or, with `all`, every page in turn.
 * Returns the rows and, when more remain, the cursor of the next page.
 */
export async function fetchPages(
  api: AdminApi,
  path: string,
  query: AdminQuery,
  paging: { limit?: string; cursor?: string; all: boolean },
): Promise<{ rows: Record<string, unknown>[]; nextCursor: string | null }> {
  const rows: Record<string, unknown>[] = [];
  let cursor = paging.cursor;
  for (;;) {
    const page = (await api.call('get', path, {
      query: { ...query, limit: paging.all ? '100' : paging.limit, cursor },
    })) as Page;
    rows.push(...page.data);
    if (!paging.all || page.next_cursor === null) return { rows, nextCursor: paging.all ? null : page.next_cursor };
    cursor = page.next_cursor;
  }
}
