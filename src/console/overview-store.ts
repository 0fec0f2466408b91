import type { PrismaClient } from '../db/prisma.js';

/** The overview's counts: how many users, applications and APIs there are. */
export function createOverviewStore(prisma: PrismaClient) {
  return {
    async counts(): Promise<{ users: number; clients: number; resources: number }> {
      const [users, clients, resources] = await Promise.all([prisma.user.count(), prisma.client.count(), prisma.resource.count()]);
      return { users, clients, resources };
    },
  };
}

export type OverviewStore = ReturnType<typeof createOverviewStore>;
