import type { Middleware } from 'koa';
import type { Logger } from '../log.js';

/**
 * With an https issuer, requests are expected to arrive through a
 * TLS-terminating proxy. When one arrives over plain HTTP and no proxy is
 * trusted (GATEHOUSE_TRUST_PROXY unset), say so once: cookies are still sent
 * Secure, but Gatehouse cannot tell the client's IP or scheme.
 */
export function warnOnPlainHttp(options: { https: boolean; trustProxy: boolean }, log: Logger): Middleware {
  let warned = !options.https || options.trustProxy;
  return (ctx, next) => {
    if (!warned && !(ctx.req.socket as { encrypted?: boolean }).encrypted) {
      warned = true;
      log.warn(
        'a request arrived over plain HTTP although the issuer is https and GATEHOUSE_TRUST_PROXY is not set: ' +
          'put Gatehouse behind a TLS-terminating proxy and set GATEHOUSE_TRUST_PROXY=true (cookies are sent Secure either way)',
      );
    }
    return next();
  };
}
