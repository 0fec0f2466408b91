import { expect } from 'vitest';
import { notifierFor } from '../../src/clients/clients.js';
import { listenForChanges, notifyChange, type ChangeTopic } from '../../src/db/change-notifications.js';
import type { PrismaClient } from '../../src/db/prisma.js';
import { silentLogger } from '../../src/log.js';

/**
 * The change notices (src/db/change-notifications.ts) sent while `action`
 * runs, in order. One listening connection receives notices in commit order,
 * so once a `keys` notice sent after the action has arrived, every notice
 * the action sent has too; `action` must not send `keys` itself.
 */
export async function changeNoticesDuring<Result>(
  databaseUrl: string,
  prisma: Pick<PrismaClient, '$executeRawUnsafe'>,
  action: () => Promise<Result>,
): Promise<{ notices: ChangeTopic[]; result: Result }> {
  const heard: ChangeTopic[] = [];
  const listener = await listenForChanges(databaseUrl, (topic) => heard.push(topic), silentLogger);
  try {
    const result = await action();
    await notifyChange(notifierFor(prisma), 'keys');
    await expect.poll(() => heard).toContain('keys');
    return { notices: heard.slice(0, heard.lastIndexOf('keys')), result };
  } finally {
    await listener.close();
  }
}
