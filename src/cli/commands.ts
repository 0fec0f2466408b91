import type { Command } from './commands/command.js';
import { clientsCommands } from './commands/clients.js';
import { clientPolicyCommands } from './commands/client-policies.js';
import { keysCommands } from './commands/keys.js';
import { rolesCommands } from './commands/roles.js';
import { resourcesCommands } from './commands/resources.js';
import { usersCommands } from './commands/users.js';
import { usersSecurityCommands } from './commands/users-security.js';
import { mfaCommands } from './commands/mfa.js';
import { issuerCommands } from './commands/issuer.js';
import { eventsCommands } from './commands/events.js';
import { sessionCommands } from './commands/session.js';

export { CLI_ACTOR, UsageError, type CliIo, type Command, type CommandResult } from './commands/command.js';

/**
 * Every `gatehouse NOUN VERB` command. Each noun has its file in commands/
 * (exporting `NOUNCommands: Record<string, Command>`); a new noun is one new
 * file and one `Object.assign` line below.
 */
export const commands: Record<string, Command> = {};

Object.assign(commands, clientsCommands);
Object.assign(commands, usersCommands);
Object.assign(commands, resourcesCommands);
Object.assign(commands, keysCommands);
Object.assign(commands, rolesCommands);
Object.assign(commands, issuerCommands);
Object.assign(commands, clientPolicyCommands);
Object.assign(commands, usersSecurityCommands);
Object.assign(commands, mfaCommands);
Object.assign(commands, eventsCommands);
Object.assign(commands, sessionCommands);
