import { ConfigError } from '../config/config.js';
import type { PrismaClient } from './prisma.js';

const ISSUER = 'issuer';

/** The issuer this database belongs to, if a start has recorded one. */
export async function readRecordedIssuer(prisma: PrismaClient): Promise<string | undefined> {
  return (await prisma.instanceSetting.findUnique({ where: { key: ISSUER } }))?.value;
}

/**
 * Records `issuer` on the first start; on later starts refuses another one.
 * Tokens, the admin API's audience and the admin client's default resource all
 * carry the issuer: an instance started with another one would rewrite them
 * under the instances still running with the old one.
 */
export async function ensureSameIssuer(prisma: PrismaClient, issuer: string): Promise<void> {
  await prisma.instanceSetting.createMany({ data: [{ key: ISSUER, value: issuer }], skipDuplicates: true });
  const recorded = await readRecordedIssuer(prisma);
  if (recorded !== undefined && recorded !== issuer) {
    throw new ConfigError(
      `ISSUER is ${issuer}, but this database belongs to issuer ${recorded}: instances that share a database must share ISSUER. To move every instance to the new issuer, run \`gatehouse issuer set ${issuer}\` first`,
    );
  }
}

/** `gatehouse issuer set`: the explicit way to change the issuer; returns the previous one. */
export async function recordIssuer(prisma: PrismaClient, issuer: string): Promise<string | undefined> {
  const previous = await readRecordedIssuer(prisma);
  await prisma.instanceSetting.upsert({
    where: { key: ISSUER },
    create: { key: ISSUER, value: issuer },
    update: { value: issuer, updatedAt: new Date() },
  });
  return previous;
}
