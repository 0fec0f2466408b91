import type { z } from 'zod';
import type { keyList, rotationView } from '../admin/keys/schema.js';
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
        })),
        canRotate: deps.operations.allows(page.admin, 'rotateKeys'),
        lead: showDuration(deps.keySettings.publishLead),
        interval: showDuration(deps.keySettings.rotationInterval),
        ...message,
      },
      status,
    );
  };
  return {
    get: { '/keys': (page) => render(page) },
    post: {
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
