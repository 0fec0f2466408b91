import { createHash } from 'node:crypto';
import type { Prisma, PrismaClient } from '../db/prisma.js';
import { plainQuery, splitPage } from '../db/prisma.js';

export const EVENT_TYPES = [
  'client.created',
  'client.updated',
  'client.deleted',
  'client.secret_rotated',
  'client.grants_changed',
  'role.created',
  'role.updated',
  'role.deleted',
  'user.roles_changed',
  'user.created',
  'user.updated',
  'user.deleted',
  'user.disabled',
  'user.sessions_revoked',
  'login.succeeded',
  'login.failed',
  'login.throttled',
  'login.account_delayed',
  'user.unlocked',
  'user.password_reset',
  'user.password_reset_sent',
  'user.verification_email_sent',
  'user.email_verified',
  'refresh_token.reuse_detected',
  'key.rotated',
  'key.revoked',
  'admin.authentication_failed',
  'mfa.enrolled',
  'mfa.removed',
  'mfa.recovery_code_used',
  'mfa.recovery_codes_regenerated',
  'mfa.failed',
  'mfa.throttled',
  'console.signed_in',
  'console.access_denied',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Who did it, and from where: handed from the edge (HTTP request, CLI) to the services. */
export interface AuditContext {
  /** `user:<id>`, `client:<id>`, `cli` or `system`. */
  readonly actor: string;
  readonly requestId?: string;
  readonly clientIp?: string;
}

export const SYSTEM: AuditContext = { actor: 'system' };

export interface NewEvent {
  readonly type: EventType;
  readonly subject?: string;
  /** Never a password, secret, token or key. */
  readonly details?: Record<string, unknown>;
}

type Writer = Pick<PrismaClient, 'event'> | Prisma.TransactionClient;

/** The row an event is stored as, whichever way it is written. */
function eventRow(context: AuditContext, event: NewEvent) {
  return {
    type: event.type,
    actor: context.actor,
    subject: event.subject ?? null,
    requestId: context.requestId ?? null,
    clientIp: context.clientIp ?? null,
    details: event.details ?? {},
  };
}

/** Writes one event; pass the transaction of the change it records. */
export async function recordEvent(db: Writer, context: AuditContext, event: NewEvent): Promise<void> {
  const row = eventRow(context, event);
  await db.event.create({ data: { ...row, details: row.details as Prisma.InputJsonObject } });
}

/** Records events that are not part of another change (logins, detected attacks, failed admin calls). */
export interface AuditLog {
  record(context: AuditContext, event: NewEvent): Promise<void>;
}

export function createAuditLog(prisma: PrismaClient): AuditLog {
  // Every sign-in records one: straight through pg (plainQuery), the same row as recordEvent's.
  const query = plainQuery(prisma);
  return {
    async record(context, event) {
      const row = eventRow(context, event);
      await query(
        'INSERT INTO events (occurred_at, type, actor, subject, request_id, client_ip, details) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)',
        [new Date(), row.type, row.actor, row.subject, row.requestId, row.clientIp, JSON.stringify(row.details)],
      );
    },
  };
}

/**
 * Login events name the account tried by a hash of the email, not the email:
 * enough to correlate attempts, not a list of who has an account.
 */
export function emailFingerprint(email: string): string {
  return `sha256:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32)}`;
}

export interface EventView {
  readonly id: string;
  readonly occurred_at: string;
  readonly type: string;
  readonly actor: string | null;
  readonly subject: string | null;
  readonly request_id: string | null;
  readonly client_ip: string | null;
  readonly details: unknown;
}

/** The newest events of these types about `subject` since `since`, newest first, at most `limit`. */
export async function listSubjectEvents(
  prisma: PrismaClient,
  filter: { subject: string; types: readonly EventType[]; since: Date; limit: number },
): Promise<EventView[]> {
  const rows = await prisma.event.findMany({
    where: { subject: filter.subject, type: { in: [...filter.types] }, occurredAt: { gte: filter.since } },
    orderBy: { id: 'desc' },
    take: filter.limit,
  });
  return rows.map(eventView);
}

const eventView = (row: {
  id: bigint;
  occurredAt: Date;
  type: string;
  actor: string | null;
  subject: string | null;
  requestId: string | null;
  clientIp: string | null;
  details: unknown;
}): EventView => ({
  id: row.id.toString(),
  occurred_at: row.occurredAt.toISOString(),
  type: row.type,
  actor: row.actor,
  subject: row.subject,
  request_id: row.requestId,
  client_ip: row.clientIp,
  details: row.details,
});

/** Newest first; `before` is the id of the last event of the previous page. */
export async function listEvents(
  prisma: PrismaClient,
  filter: { type?: string; actor?: string; subject?: string; since?: Date; until?: Date; limit: number; before?: bigint },
): Promise<{ events: EventView[]; nextCursor: string | null }> {
  const rows = await prisma.event.findMany({
    where: {
      ...(filter.type ? { type: filter.type } : {}),
      ...(filter.actor ? { actor: filter.actor } : {}),
      ...(filter.subject ? { subject: filter.subject } : {}),
      ...(filter.since || filter.until
        ? { occurredAt: { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lt: filter.until } : {}) } }
        : {}),
      ...(filter.before !== undefined ? { id: { lt: filter.before } } : {}),
    },
    orderBy: { id: 'desc' },
    take: filter.limit + 1,
  });
  const { page, nextCursor } = splitPage(rows, filter.limit, (row) => row.id.toString());
  return {
    events: page.map(eventView),
    nextCursor,
  };
}
