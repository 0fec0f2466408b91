import { loadConfig } from '../../config/config.js';
import { readRecordedIssuer, recordIssuer } from '../../db/instance-settings.js';
import { database, type Command } from './command.js';

/**
 * The issuer is recorded in the database at the first start, and every
 * instance must start with it. Moving to another issuer is this explicit step:
 * record the new one, then restart every instance with the new ISSUER (tokens
 * issued under the old issuer stop validating at clients that check `iss`).
 */
export const issuerCommands: Record<string, Command> = {
  'issuer show': {
    summary: 'Show the issuer this database belongs to (--local only)',
    usage: 'issuer show [--json]',
    options: {},
    needs: 'database',
    async run(context) {
      return { record: { issuer: (await readRecordedIssuer(database(context).prisma)) ?? null } };
    },
  },
  'issuer set': {
    summary: 'Move this database to another issuer, then restart every instance with that ISSUER (--local only)',
    usage: 'issuer set URL [--json]',
    options: {},
    positional: 'URL',
    needs: 'database',
    async run(context, _values, [url]) {
      // The same rules as ISSUER at start: http(s), no query or fragment, no trailing slash.
      const issuer = loadConfig({ ISSUER: url }).issuer;
      const previous = await recordIssuer(database(context).prisma, issuer);
      return { record: { issuer, previous: previous ?? null }, note: `restart every instance with ISSUER=${issuer}` };
    },
  },
};
