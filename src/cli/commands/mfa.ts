import { AppError } from '../../http/errors.js';
import { segment } from '../admin-api.js';
import type { Command } from './command.js';

interface Factors {
  readonly factors: { id: string; type: string; name: string; created_at: string; last_used_at: string | null }[];
  readonly recovery_codes_left: number;
}

/** A user's second factors, as the admin API's /users/:id/mfa. */
export const mfaCommands: Record<string, Command> = {
  'users mfa': {
    summary: "List a user's second factors (types, names, created, last used; never secrets) and recovery codes left",
    usage: 'users mfa ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      const { factors, recovery_codes_left: left } = (await api.call('get', `/users/${segment(id)}/mfa`)) as Factors;
      return { rows: factors, note: factors.length ? `${left} recovery code(s) left` : 'no second factor' };
    },
  },
  'users mfa-reset': {
    summary: "Remove a user's second factors (all, or one with --factor) and end their sessions",
    usage: 'users mfa-reset ID [--factor FACTOR_ID] [--json]',
    options: { factor: { type: 'string', description: 'Remove only this factor (its id, from users mfa)' } },
    positional: 'ID',
    async run({ api }, values, [id]) {
      const factorId = typeof values.factor === 'string' ? values.factor : undefined;
      const { factors } = (await api.call('get', `/users/${segment(id)}/mfa`)) as Factors;
      if (factors.length === 0) throw new AppError(404, 'not_found', `user ${id} has no second factor`);
      await api.call('delete', `/users/${segment(id)}/mfa${factorId === undefined ? '' : `/${segment(factorId)}`}`);
      return { record: { id, factors_removed: factorId === undefined ? factors.length : 1, sessions_ended: true } };
    },
  },
};
