import type { ResourceService } from '../clients/resources.js';
import type { PageRenderer } from '../http/pages.js';
import type { CodeEntryInput, CodeEntryProblem, ConfirmInput, DevicePages, RenderedPage } from '../oidc/device/pages.js';
import { describeApiScopes, SCOPE_DESCRIPTIONS } from './scope-descriptions.js';

const PROBLEMS: Record<CodeEntryProblem, { status: number; message: string }> = {
  missing: { status: 400, message: 'Enter the code shown on your device.' },
  not_found: { status: 400, message: 'That code is not valid. Check the code on your device and try again.' },
  expired: { status: 400, message: 'That code has expired. Start again on your device to get a new code.' },
  already_used: { status: 400, message: 'That code was already used. Start again on your device to get a new code.' },
  form_expired: { status: 403, message: 'The form expired or did not come from this site. Enter the code again.' },
  locked_out: { status: 429, message: 'Too many incorrect codes. Wait a few minutes, then try again.' },
  server_error: { status: 500, message: 'Something went wrong on our side. Try again in a moment.' },
};

// User codes are short (RFC 8628 §6.1); anything much longer is not one.
const MAX_SHOWN_CODE_LENGTH = 32;

/** The device verification pages (RFC 8628 §3.3): code entry, confirmation, and the final pages. */
export function createDevicePages(pages: PageRenderer, resources: ResourceService): DevicePages {
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
