import { segment } from '../admin-api.js';
import type { Row } from '../output.js';
import { booleanFrom, UsageError, type Command } from './command.js';

/** CLI flag → client metadata field, for the per-client policies `clients set` changes. */
const BOOLEAN_POLICIES = {
  'require-pkce': 'require_pkce',
  'first-party': 'first_party',
  'backchannel-logout-session-required': 'backchannel_logout_session_required',
  'require-par': 'require_pushed_authorization_requests',
  'dpop-bound': 'dpop_bound_access_tokens',
  'require-mfa': 'require_mfa',
} as const;

const DESCRIPTIONS: Record<keyof typeof BOOLEAN_POLICIES, string> = {
  'require-pkce': 'true or false: PKCE (S256) required even for a confidential client',
  'first-party': 'true or false: a first-party app, whose users are not asked for consent',
  'backchannel-logout-session-required': 'true or false: logout tokens carry the session id (sid)',
  'require-par': 'true or false: authorization requests must be pushed first (RFC 9126)',
  'dpop-bound': 'true or false: access tokens are bound to a DPoP key (RFC 9449)',
  'require-mfa': 'true or false: users signing in to it must use a second factor',
};

export const clientPolicyCommands: Record<string, Command> = {
  'clients set': {
    summary:
      "Change a client's policies: PKCE, first-party consent, back-channel logout, PAR, DPoP, MFA (the same checks as PATCH /admin/clients/:id)",
    usage:
      'clients set CLIENT_ID [--require-pkce true|false] [--first-party true|false] [--backchannel-logout-uri URI|""] [--backchannel-logout-session-required true|false] [--require-par true|false] [--dpop-bound true|false] [--require-mfa true|false] [--json]',
    options: {
      ...Object.fromEntries(Object.entries(DESCRIPTIONS).map(([flag, description]) => [flag, { type: 'string' as const, description }])),
      'backchannel-logout-uri': {
        type: 'string',
        description: 'Where logout tokens are POSTed (OpenID Back-Channel Logout 1.0): an http(s) URL, or "" to remove it',
      },
    },
    fields: {
      ...Object.fromEntries(Object.entries(BOOLEAN_POLICIES).map(([flag, field]) => [field, `--${flag}`])),
      backchannel_logout_uri: '--backchannel-logout-uri',
    },
    positional: 'CLIENT_ID',
    async run({ api }, values, [clientId]) {
      const changes: Record<string, unknown> = {};
      for (const [flag, field] of Object.entries(BOOLEAN_POLICIES)) {
        const value = booleanFrom(flag, values[flag]);
        if (value !== undefined) changes[field] = value;
      }
      const uri = values['backchannel-logout-uri'];
      // An empty value removes the URI.
      if (typeof uri === 'string') changes.backchannel_logout_uri = uri === '' ? null : uri;
      if (Object.keys(changes).length === 0) throw new UsageError('name at least one policy to change');
      return { record: (await api.call('patch', `/clients/${segment(clientId)}`, { body: changes })) as Row };
    },
  },
};
