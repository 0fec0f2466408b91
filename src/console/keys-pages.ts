import type { z } from 'zod';
import type { keyList, revocationView, rotationView } from '../admin/keys/schema.js';
import { AppError } from '../http/errors.js';
import { describeError } from '../http/error-renderer.js';
import { showDate, showDuration } from './console-format.js';
import type { ConsoleOperations } from './console-operations.js';
import { sentence, type ConsoleArea, type ConsolePage } from './console-routes.js';

export interface KeyPagesDependencies {
  readonly operations: ConsoleOperations;
  readonly keySettings: { readonly rotationInterval: number; readonly publishLead: number };
}

const STATUS_HELP: Record<string, string> = {
  current: 'signs tokens now',
  next: 'published in the JWKS, signs after the next rotation',
  retired: 'no longer signs; published until the tokens it signed have expired',
  revoked: 'revoked: not published, its tokens no longer verify',
};

/** /console/keys: the signing keys with their status and dates, and rotation. */
export function keyPages(deps: KeyPagesDependencies): ConsoleArea {
  const render = async (page: ConsolePage, message: Record<string, unknown> = {}, status = 200) => {
    const { data } = await deps.operations.run<z.infer<typeof keyList>>('listKeys', page.admin);
    page.render(
      'keys',
      {
        title: 'Signing keys',
        area: '/console/keys',
        keys: data.map((key) => ({
          ...key,
          statusHelp: STATUS_HELP[key.status] ?? '',
          created: showDate(key.created_at),
          activated: showDate(key.activated_at),
          retired: showDate(key.retired_at),
          revoked: key.status === 'revoked' ? showDate(key.revoked_at) : undefined,
          revokeHref: key.status === 'revoked' ? undefined : `/console/keys/${encodeURIComponent(key.kid)}/revoke`,
        })),
        canRotate: deps.operations.allows(page.admin, 'rotateKeys'),
        canRevoke: deps.operations.allows(page.admin, 'revokeKey'),
        lead: showDuration(deps.keySettings.publishLead),
        interval: showDuration(deps.keySettings.rotationInterval),
        ...message,
      },
      status,
    );
  };
  const keyOf = async (page: ConsolePage) => {
    const kid = String(page.ctx.params.kid);
    const { data } = await deps.operations.run<z.infer<typeof keyList>>('listKeys', page.admin);
    const key = data.find((item) => item.kid === kid);
    if (!key) throw new AppError(404, 'not_found', `no signing key ${kid}`);
    return key;
  };
  const renderRevoke = async (page: ConsolePage, message: Record<string, unknown> = {}, status = 200) => {
    const key = await keyOf(page);
    page.render(
      'key-revoke',
      {
        title: `Revoke key ${key.kid}`,
        area: '/console/keys',
        key,
        current: key.status === 'current',
        alreadyRevoked: key.status === 'revoked',
        href: `/console/keys/${encodeURIComponent(key.kid)}/revoke`,
        ...message,
      },
      status,
    );
  };
  return {
    get: {
      '/keys': (page) => render(page),
      '/keys/:kid/revoke': (page) => renderRevoke(page),
    },
    post: {
      // Emergency revocation (a compromised key): a strong confirmation, typing the key id.
      '/keys/:kid/revoke': async (page) => {
        const kid = String(page.ctx.params.kid);
        const typed = typeof page.form.confirm === 'string' ? page.form.confirm.trim() : '';
        deps.operations.require(page.admin, 'revokeKey');
        if (typed !== kid) return renderRevoke(page, { error: 'Type the key ID exactly to confirm the revocation.' }, 400);
        try {
          const result = await deps.operations.run<z.infer<typeof revocationView>>('revokeKey', page.admin, { params: { kid } });
          await render(page, {
            notice: `Key ${result.revoked} was revoked: it left the JWKS, and tokens it signed no longer verify. ${result.current} signs from now on.`,
          });
        } catch (error) {
          const failure = describeError(error);
          if (failure.status !== 409) throw error;
          await render(page, { error: sentence(failure.description) }, 409);
        }
      },
      '/keys/rotate': async (page) => {
        try {
          const result = await deps.operations.run<z.infer<typeof rotationView>>('rotateKeys', page.admin);
          await render(page, {
            notice: result.promoted
              ? `Rotated: ${result.promoted} signs from now on${result.retired ? `, ${result.retired} is retired` : ''}${result.created ? `, and ${result.created} is the new next key` : ''}.`
              : 'Nothing to rotate.',
          });
        } catch (error) {
          const failure = describeError(error);
          // 409 rotation_too_soon: the rule, said plainly.
          if (failure.status !== 409) throw error;
          await render(page, { error: sentence(failure.description) }, 409);
        }
      },
    },
  };
}
