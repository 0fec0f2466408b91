import type { KeyService } from '../../keys/signing-keys.js';
import { defineRoute, type AdminRoute } from '../admin-route.js';
import { presentKey, presentRevocation, presentRotation } from './presenter.js';
import { keyList, kidParams, revocationView, rotationView } from './schema.js';

export function keyRoutes(keys: KeyService): AdminRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/keys',
      operationId: 'listKeys',
      summary: 'List signing keys (never private parts)',
      scope: 'admin:keys:read',
      status: 200,
      response: keyList,
      handle: async () => ({ data: (await keys.list()).map(presentKey) }),
    }),
    defineRoute({
      method: 'post',
      path: '/keys/rotate',
      operationId: 'rotateKeys',
      summary: 'Rotate now (409 rotation_too_soon while the next key is younger than the lead time)',
      scope: 'admin:keys:write',
      status: 200,
      response: rotationView,
      handle: async ({ audit }) => presentRotation(await keys.rotate(audit)),
    }),
    defineRoute({
      method: 'post',
      path: '/keys/:kid/revoke',
      operationId: 'revokeKey',
      params: kidParams,
      summary:
        'Emergency revocation of a compromised key: it leaves the JWKS at once, tokens it signed stop verifying, a new key signs now (404 unknown kid, 409 key_revoked)',
      scope: 'admin:keys:write',
      status: 200,
      response: revocationView,
      handle: async ({ params, audit }) => presentRevocation(await keys.revoke(params.kid, audit)),
    }),
  ];
}
