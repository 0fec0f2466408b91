/** The HTTP statuses Gatehouse's own errors use. */
export type AppErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 503;

/**
 * The one error type for everything that is not an OAuth protocol error
 * (those are oidc-provider's own classes). Rendered by the error renderer
 * (error-renderer.ts) as JSON `{ error, error_description }` or the HTML
 * error page.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: AppErrorStatus,
    readonly code: string,
    readonly description: string,
    /** Response headers that belong to the error (`Allow` with a 405, `Retry-After` with a 429). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(description);
  }
}

/**
 * Parses `input` with a zod schema, or throws a 400 AppError naming the first
 * problem's field. `codeFor` picks the error code from that field.
 */
export function parseOrThrow<T>(
  schema: {
    safeParse(
      input: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  input: unknown,
  codeFor: (field: string) => string = () => 'invalid_request',
): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  throw new AppError(400, codeFor(field), `${field || 'input'}: ${issue?.message ?? 'invalid'}`);
}
