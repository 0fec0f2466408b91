import { AppError } from '../../http/errors.js';
import { createMfaAdmin } from '../../mfa/mfa-service.js';
import { createMfaStore } from '../../mfa/mfa-store.js';
import type { Command } from '../commands.js';
import type { CliContext } from '../context.js';

const CLI = { actor: 'cli' } as const;

const adminOf = (context: CliContext) => createMfaAdmin(createMfaStore(context.prisma));

async function existingUser(context: CliContext, id: string | undefined) {
  const user = await context.users.findUserById(id ?? '');
  if (!user) throw new AppError(404, 'not_found', `no user ${id ?? ''}`);
  return user;
}

/** A user's second factors, as the admin API's /users/:id/mfa. */
export const mfaCommands: Record<string, Command> = {
  'users mfa': {
    summary: "List a user's second factors (types, names, created, last used; never secrets) and recovery codes left",
    usage: 'users mfa ID [--json]',
    options: {},
    positional: 'ID',
    async run(context, _values, [id]) {
      const user = await existingUser(context, id);
      const mfa = adminOf(context);
      const factors = await mfa.listFactors(user.id);
      const left = await mfa.recoveryCodesLeft(user.id);
      return {
        rows: factors.map((factor) => ({
          id: factor.id,
          type: factor.type,
          name: factor.name,
          created_at: factor.createdAt.toISOString(),
          last_used_at: factor.lastUsedAt?.toISOString() ?? null,
        })),
        note: factors.length ? `${left} recovery code(s) left` : 'no second factor',
      };
    },
  },
  'users mfa-reset': {
    summary: "Remove a user's second factors (all, or one with --factor) and end their sessions",
    usage: 'users mfa-reset ID [--factor FACTOR_ID] [--json]',
    options: { factor: { type: 'string' } },
    positional: 'ID',
    async run(context, values, [id]) {
      const user = await existingUser(context, id);
      const factorId = typeof values.factor === 'string' ? values.factor : undefined;
      const removed = await adminOf(context).removeFactors(user.id, factorId, CLI, { endSessions: true });
      return { record: { id: user.id, factors_removed: removed, sessions_ended: true } };
    },
  },
};
