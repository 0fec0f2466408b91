import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Seam, oidc-provider 9.13 (lib/shared/error_handler.js, lib/helpers/initialize_app.js
 * `ensureSessionSave`, lib/models/session.js `persist`): on its user-input routes
 * (code_verification, device_resume) the engine's error handler gives the
 * browser's session an xsrf secret before calling `userCodeInputSource`, which
 * marks the session touched; `ensureSessionSave` then calls `persist()`, which
 * throws ("persist can only be called on previously persisted Sessions", a 500)
 * for a session that was never saved: the browser sent no session cookie, or an
 * unknown or expired one. Marking such a session untouched skips that persist.
 * Returns whether the session is such an unsaved one (its xsrf secret cannot be
 * checked later, so the page shows no form). test/http/fuzz.test.ts covers it.
 */
export function untouchUnsavedSession(ctx: KoaContextWithOIDC): boolean {
  const session = ctx.oidc.session as ({ exp?: unknown; touched?: boolean } & object) | undefined;
  if (!session || typeof session.exp === 'number') return false;
  session.touched = false;
  return true;
}
