import type { z } from 'zod';
import type { eventPage } from '../admin/events/schema.js';
import type { keyList } from '../admin/keys/schema.js';
import { showDate, showDuration } from './console-format.js';
import type { ConsoleOperations } from './console-operations.js';
import type { ConsoleArea } from './console-routes.js';
import type { OverviewStore } from './overview-store.js';

export interface OverviewDependencies {
  readonly operations: ConsoleOperations;
  readonly overview: OverviewStore;
  readonly keySettings: { readonly rotationInterval: number; readonly publishLead: number };
  readonly warnings: { readonly smtp: boolean; readonly embeddedDatabase: boolean };
}

/** When the current key is due to be replaced, from when it started signing. */
export function nextRotation(activatedAt: Date, rotationInterval: number): Date {
  return new Date(activatedAt.getTime() + rotationInterval * 1000);
}

/** /console: counts, the signing key's age and next rotation, recent audit events, and what needs attention. */
export function overviewPage(deps: OverviewDependencies): ConsoleArea {
  return {
    get: {
      '/': async ({ admin, render }) => {
        const now = Date.now();
        const counts = await deps.overview.counts();
        const warnings: string[] = [];
        if (!deps.warnings.smtp) {
          warnings.push(
            'No SMTP server is configured (GATEHOUSE_SMTP_URL): password reset and verification emails are not sent (outside production they are written to the outbox folder).',
          );
        }
        if (deps.warnings.embeddedDatabase) {
          warnings.push('Gatehouse runs on its embedded database. Set DATABASE_URL to a managed Postgres for production.');
        }
        let key: Record<string, unknown> | undefined;
        if (admin.can('admin:keys:read')) {
          const { data } = await deps.operations.run<z.infer<typeof keyList>>('listKeys', admin);
          const current = data.find((item) => item.status === 'current');
          if (current?.activated_at) {
            const activated = new Date(current.activated_at);
            const due = nextRotation(activated, deps.keySettings.rotationInterval);
            const overdue = due.getTime() < now;
            if (overdue) warnings.push(`Key rotation is overdue: the current signing key should have been replaced on ${showDate(due)}.`);
            key = {
              kid: current.kid,
              age: showDuration((now - activated.getTime()) / 1000),
              nextRotation: showDate(due),
              overdue,
              hasNext: data.some((item) => item.status === 'next'),
            };
          }
        }
        const events = admin.can('admin:events:read')
          ? (await deps.operations.run<z.infer<typeof eventPage>>('listEvents', admin, { query: { limit: '8' } })).data.map((event) => ({
              ...event,
              when: showDate(event.occurred_at),
            }))
          : undefined;
        render('overview', {
          title: 'Overview',
          area: '/console',
          counts: [
            { label: 'Users', value: counts.users, href: admin.can('admin:users:read') ? '/console/users' : undefined },
            { label: 'Applications', value: counts.clients, href: admin.can('admin:clients:read') ? '/console/applications' : undefined },
            { label: 'APIs', value: counts.resources, href: admin.can('admin:resources:read') ? '/console/apis' : undefined },
          ],
          key,
          events,
          showEvents: events !== undefined,
          hasEvents: Boolean(events?.length),
          warnings,
        });
      },
    },
  };
}
