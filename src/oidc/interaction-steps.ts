import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors, type InteractionResults } from 'oidc-provider';
import { AppError } from '../http/errors.js';
import type { ProviderRef } from './provider.js';
import { isFirstParty } from './first-party.js';
import { grantRequested, type ConsentRequest, type ResourceScopePolicy } from './implied-consent.js';
import { isDeviceFlowInteraction } from './provider-internals.js';

export type { ProviderRef } from './provider.js';

/** What the login and consent pages need to know about a pending interaction. */
export interface PendingInteraction {
  readonly uid: string;
  readonly prompt: 'login' | 'consent' | string;
  readonly clientId: string;
  readonly clientName: string;
  /** The operator's own app (`first_party: true`): consent is implied. */
  readonly firstParty: boolean;
  /** A device-flow sign-in: the user already saw and approved the scopes on the code confirmation page. */
  readonly deviceFlow: boolean;
  readonly accountId: string | undefined;
  /** OIDC scopes the user is asked to grant. */
  readonly missingScopes: string[];
  /** API identifier → scopes the user is asked to grant for it. */
  readonly missingResourceScopes: Record<string, string[]>;
  /** Why the prompt is shown (oidc-provider's check names, e.g. `no_session`, `max_age`, `mfa_required`). */
  readonly reasons: string[];
  /** RFC 8176 methods of the browser session's last sign-in. */
  readonly sessionAmr: string[];
  /** The `acr_values` request parameter (OIDC Core §3.1.2.1). */
  readonly acrValues: string | undefined;
  /** The client's `require_mfa` metadata. */
  readonly clientRequiresMfa: boolean;
}

/** How the user authenticated: RFC 8176 `amr` values and the `acr` they add up to. */
export interface AuthenticationMethods {
  readonly amr: string[];
  readonly acr: string;
}

type Req = IncomingMessage;
type Res = ServerResponse;

/** Throws oidc-provider's SessionNotFound when the interaction cookie is missing or expired. */
export async function loadInteraction(ref: ProviderRef, req: Req, res: Res): Promise<PendingInteraction> {
  const provider = ref.current;
  const details = await provider.interactionDetails(req, res);
  const clientId = String(details.params.client_id ?? '');
  const client = await provider.Client.find(clientId);
  const promptDetails = details.prompt.details as {
    missingOIDCScope?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  return {
    uid: details.uid,
    prompt: details.prompt.name,
    clientId,
    clientName: client?.clientName ?? clientId,
    firstParty: isFirstParty(client),
    deviceFlow: isDeviceFlowInteraction(details),
    accountId: details.session?.accountId,
    missingScopes: promptDetails.missingOIDCScope ?? [],
    missingResourceScopes: promptDetails.missingResourceScopes ?? {},
    reasons: details.prompt.reasons,
    sessionAmr: (details.session as { amr?: string[] } | undefined)?.amr ?? [],
    acrValues: typeof details.params.acr_values === 'string' ? details.params.acr_values : undefined,
    clientRequiresMfa: client?.metadata().require_mfa === true,
  };
}

async function finish(ref: ProviderRef, req: Req, res: Res, result: InteractionResults): Promise<string> {
  return ref.current.interactionResult(req, res, result, { mergeWithLastSubmission: false });
}

/** Records a successful login; returns where to send the browser next. */
export function completeLogin(ref: ProviderRef, req: Req, res: Res, accountId: string, methods?: AuthenticationMethods): Promise<string> {
  return finish(ref, req, res, { login: { accountId, ...(methods ? { amr: methods.amr, acr: methods.acr } : {}) } });
}

/**
 * Grants what the consent prompt asked for, except resource scopes that
 * `mayGrant` refuses (those are recorded as rejected, so the prompt does not
 * come back); returns where to send the browser next.
 */
export async function completeConsent(ref: ProviderRef, req: Req, res: Res, mayGrant: ResourceScopePolicy = () => true): Promise<string> {
  const provider = ref.current;
  const details = await provider.interactionDetails(req, res);
  const accountId = details.session?.accountId;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
  if (!grant) throw new AppError(400, 'invalid_request', 'this sign-in request has expired; please start again');
  grantRequested(grant, details.prompt.details as ConsentRequest, mayGrant);
  const grantId = await grant.save();
  return finish(ref, req, res, { consent: details.grantId ? {} : { grantId } });
}

/** RFC 6749 §4.1.2.1: the user said no. */
export function denyInteraction(ref: ProviderRef, req: Req, res: Res): Promise<string> {
  return finish(ref, req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' });
}

/** oidc-provider's "interaction cookie missing or expired" error. */
export function isExpiredInteraction(error: unknown): boolean {
  return error instanceof errors.SessionNotFound;
}
