import type { ResourceService } from '../clients/resources.js';
import type { PageRenderer } from '../http/pages.js';
import { describeApiScopes, SCOPE_DESCRIPTIONS } from './scope-descriptions.js';

/** Why the code entry page is shown again. */
export type CodeEntryProblem =
  | 'missing'
  | 'not_found'
  | 'expired'
  | 'already_used'
  | 'form_expired'
  | 'locked_out'
  | 'server_error';

const PROBLEMS: Record<CodeEntryProblem, { status: number; message: string }> = {
  missing: { status: 400, message: 'Enter the code shown on your device.' },
  not_found: { status: 400, message: 'That code is not valid. Check the code on your device and try again.' },
  expired: { status: 400, message: 'That code has expired. Start again on your device to get a new code.' },
  already_used: { status: 400, message: 'That code was already used. Start again on your device to get a new code.' },
  form_expired: { status: 403, message: 'The form expired or did not come from this site. Enter the code again.' },
  locked_out: { status: 429, message: 'Too many incorrect codes. Wait a few minutes, then try again.' },
  server_error: { status: 500, message: 'Something went wrong on our side. Try again in a moment.' },
};

export interface RenderedPage {
  readonly status: number;
  readonly html: string;
}

export interface CodeEntryInput {
  /** Where the form posts (oidc-provider's code verification endpoint). */
  readonly action: string;
  /** oidc-provider's xsrf secret for this browser session; without it the page shows no form. */
  readonly xsrf?: string;
  readonly userCode?: string;
  readonly problem?: CodeEntryProblem;
  /** A message for a failure that has no problem of its own (shown with status 400). */
  readonly description?: string;
}

export interface ConfirmInput {
  readonly action: string;
  readonly xsrf: string;
  /** As shown on the device, e.g. WDJB-MJHT. */
  readonly userCode: string;
  readonly clientName: string;
  /** The scope the device asked for (space-separated). */
  readonly scope: string | undefined;
  /** The APIs (RFC 8707 resource) the device asked for. */
  readonly resource: string | string[] | undefined;
}

// User codes are short (RFC 8628 §6.1); anything much longer is not one.
const MAX_SHOWN_CODE_LENGTH = 32;

/** The device verification pages (RFC 8628 §3.3): code entry, confirmation, and the final pages. */
export function createDevicePages(pages: PageRenderer, resources: ResourceService) {
  return {
    codeEntry(input: CodeEntryInput): RenderedPage {
      const problem = input.problem ? PROBLEMS[input.problem] : undefined;
      const error = problem?.message ?? input.description;
      const form = input.xsrf
        ? { action: input.action, xsrf: input.xsrf, userCode: input.userCode?.slice(0, MAX_SHOWN_CODE_LENGTH) ?? '' }
        : undefined;
      const html = pages.render('device-code', { title: 'Connect a device', error, form, startOver: input.action });
      return { status: problem?.status ?? (error ? 400 : 200), html };
    },

    /** RFC 8628 §5.4: the user confirms the code matches the device, even when it came prefilled. */
    async confirm(input: ConfirmInput): Promise<RenderedPage> {
      const requested = input.scope?.split(' ').filter(Boolean) ?? [];
      const scopes = requested.flatMap((scope) => (SCOPE_DESCRIPTIONS[scope] ? [SCOPE_DESCRIPTIONS[scope]] : []));
      const apis = await describeApiScopes(resources, await apiScopesOf(resources, requested, input.resource));
      const html = pages.render('device-confirm', {
        title: 'Connect a device',
        client: input.clientName,
        userCode: input.userCode,
        scopes,
        apis,
        action: input.action,
        xsrf: input.xsrf,
      });
      return { status: 200, html };
    },

    approved(clientName: string): RenderedPage {
      return { status: 200, html: pages.render('device-approved', { title: 'Device connected', client: clientName }) };
    },

    denied(clientName: string | undefined): RenderedPage {
      return { status: 200, html: pages.render('device-denied', { title: 'Device not connected', client: clientName }) };
    },
  };
}

export type DevicePages = ReturnType<typeof createDevicePages>;

/** API identifier → the requested scopes that API defines. */
async function apiScopesOf(resources: ResourceService, requested: string[], resource: string | string[] | undefined) {
  const identifiers = resource === undefined ? [] : Array.isArray(resource) ? resource : [resource];
  const entries = await Promise.all(
    identifiers.map(async (identifier) => {
      const api = await resources.findResourceByIdentifier(identifier);
      const defined = new Set(api?.scopes.map((scope) => scope.name) ?? []);
      return [identifier, requested.filter((scope) => defined.has(scope))] as const;
    }),
  );
  return Object.fromEntries(entries);
}
