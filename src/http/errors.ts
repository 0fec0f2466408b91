/**
 * The one error type for everything that is not an OAuth protocol error
 * (those are oidc-provider's own classes). Rendered by errorMiddleware as
 * JSON `{ error, error_description }`.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503,
    readonly code: string,
    readonly description: string,
  ) {
    super(description);
  }
}
