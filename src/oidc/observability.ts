import type Provider from 'oidc-provider';
import type { errors, KoaContextWithOIDC } from 'oidc-provider';
import { keepRequestContextIn, type Logger } from '../log.js';
import { recordTokenError, recordTokenIssued } from '../metrics/metrics.js';
import { engineContextStore } from './provider-internals.js';

// Every endpoint error event oidc-provider emits (lib/helpers/initialize_app.js).
const ERROR_EVENTS = [
  'authorization.error',
  'backchannel.error',
  'code_verification.error',
  'device_authorization.error',
  'device_resume.error',
  'discovery.error',
  'end_session.error',
  'end_session_confirm.error',
  'end_session_success.error',
  'grant.error',
  'introspection.error',
  'jwks.error',
  'pushed_authorization_request.error',
  'registration_create.error',
  'registration_delete.error',
  'registration_read.error',
  'registration_update.error',
  'revocation.error',
  'userinfo.error',
] as const;

/**
 * oidc-provider's events into our log and metrics: a server_error as an error
 * line with the error as a field, a protocol error (the client's mistake) as
 * an info line with its RFC code. Lines carry the request id (log.ts); never a
 * token or a code. The access log reads each request's client itself (app.ts).
 */
export function observeProvider(provider: Provider, log: Logger): void {
  // One store for the request and its log context: the engine's (log.ts).
  keepRequestContextIn(engineContextStore());
  // server_error is logged by database-outages.ts (a 503 when the database is down, else an error line).
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => recordTokenIssued(ctx.oidc.params?.grant_type));
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) =>
    recordTokenError(ctx.oidc?.params?.grant_type, error.error),
  );
  for (const event of ERROR_EVENTS) {
    // Each of these has grant.error's listener signature (ctx, error); the typings list only some.
    provider.on(event as 'grant.error', (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => {
      // A 5xx also arrives as server_error, logged above.
      if ((error.status ?? 500) >= 500) return;
      log.info(`${event}: ${error.error}`, {
        event,
        error: error.error,
        description: error.error_description,
        ...(ctx.oidc?.client?.clientId ? { clientId: ctx.oidc.client.clientId } : {}),
      });
    });
  }
}
