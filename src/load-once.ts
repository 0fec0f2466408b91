/**
 * What `load` gives, loaded on the first call and kept for the next ones: for
 * libraries most processes never use (nodemailer, SimpleWebAuthn), which would
 * otherwise hold heap from the start (docs/performance.md). A failed load is
 * forgotten, so the next call tries again.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}
