import { interactionPolicy, type Configuration, type Grant, type KoaContextWithOIDC } from 'oidc-provider';
import { ADMIN_ROLE } from '../accounts/roles.js';
import { isFirstParty } from './first-party.js';

type GrantLoader = NonNullable<Configuration['loadExistingGrant']>;

/** What a consent grants: the consent prompt's details, or what a request asks for beyond its grant. */
export interface ConsentRequest {
  readonly missingOIDCScope?: readonly string[];
  readonly missingOIDCClaims?: readonly string[];
  /** API identifier → scopes asked for there. */
  readonly missingResourceScopes?: Readonly<Record<string, readonly string[]>>;
}

/** Whether a resource (API) scope may be granted to this user. */
export type ResourceScopePolicy = (indicator: string, scope: string) => boolean;

/**
 * What consent may grant: the admin API's scopes only to users with the
 * `admin` role. The user's roles are read only when the admin API's scopes are
 * asked for. The consent page and the implied consent below both use this.
 */
export async function resourceScopePolicy(
  adminResource: string,
  asked: ConsentRequest['missingResourceScopes'],
  rolesOfUser: () => Promise<readonly string[] | undefined>,
): Promise<ResourceScopePolicy> {
  if (!asked || !Object.hasOwn(asked, adminResource)) return (indicator) => indicator !== adminResource;
  const isAdmin = (await rolesOfUser())?.includes(ADMIN_ROLE) ?? false;
  return (indicator) => indicator !== adminResource || isAdmin;
}

/**
 * Adds what was asked for to the grant, except resource scopes the policy
 * refuses: those are recorded as rejected, so the consent prompt does not come
 * back for them (oidc-provider counts rejected scopes as encountered).
 */
export function grantRequested(grant: Grant, asked: ConsentRequest, mayGrant: ResourceScopePolicy): void {
  if (asked.missingOIDCScope?.length) grant.addOIDCScope(asked.missingOIDCScope.join(' '));
  if (asked.missingOIDCClaims?.length) grant.addOIDCClaims([...asked.missingOIDCClaims]);
  for (const [indicator, scopes] of Object.entries(asked.missingResourceScopes ?? {})) {
    const allowed = scopes.filter((scope) => mayGrant(indicator, scope));
    const refused = scopes.filter((scope) => !allowed.includes(scope));
    if (allowed.length) grant.addResourceScope(indicator, allowed.join(' '));
    if (refused.length) grant.rejectResourceScope(indicator, refused.join(' '));
  }
}

/**
 * Requests whose consent is implied: a first-party client (`first_party: true`,
 * Gatehouse's own console and account page among them), and the device flow,
 * whose user approved the scopes on the code confirmation page (RFC 8628 §3.3).
 */
export function impliesConsent(ctx: KoaContextWithOIDC): boolean {
  const route = ctx.oidc.route;
  return isFirstParty(ctx.oidc.client) || route === 'code_verification' || route === 'device_resume';
}

// oidc-provider's consent checks (lib/helpers/interaction_policy/prompts/consent.js) leave these out of op_claims_missing.
const CLAIMS_NEVER_ASKED = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);

/**
 * What the request asks for that the grant has not yet met: the same sets as
 * oidc-provider's consent checks (op_scopes_missing, op_claims_missing,
 * rs_scopes_missing) would put in the prompt's details.
 */
export function missingFromGrant(ctx: KoaContextWithOIDC, grant: Grant | undefined): ConsentRequest {
  const { oidc } = ctx;
  const scopesSeen = new Set(grant?.getOIDCScopeEncountered().split(' '));
  const claimsSeen = new Set(grant?.getOIDCClaimsEncountered());
  const missingOIDCScope = [...oidc.requestParamOIDCScopes].filter((scope) => !scopesSeen.has(scope));
  const missingOIDCClaims = [...oidc.requestParamClaims].filter((claim) => !claimsSeen.has(claim) && !CLAIMS_NEVER_ASKED.has(claim));
  const missingResourceScopes: Record<string, string[]> = {};
  for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers ?? {})) {
    const seen = new Set(grant?.getResourceScopeEncountered(indicator).split(' '));
    const available = resourceServer.scopes;
    const missing = [...oidc.requestParamScopes].filter((scope) => available.has(scope) && !seen.has(scope));
    if (missing.length) missingResourceScopes[indicator] = missing;
  }
  return { missingOIDCScope, missingOIDCClaims, missingResourceScopes };
}

const asksForNothing = (asked: ConsentRequest) =>
  !asked.missingOIDCScope?.length && !asked.missingOIDCClaims?.length && !Object.keys(asked.missingResourceScopes ?? {}).length;

/**
 * oidc-provider's documented recipe for skipping consent
 * (docs/README.md#loadexistinggrant): where consent is implied, the grant
 * loader itself grants what the request asks for (what the consent page's
 * automatic path granted, with the admin-API rule), saves it and returns it,
 * so the request gets its code without a consent interaction (and its two
 * HTTP requests and twelve statements). Other clients' grants pass through as
 * `loadGrant` found them; their consent page is unchanged.
 *
 * oidc-provider calls this only once the session has an account (found by
 * `findAccount` in this request: a disabled user has none). Not while a login
 * the request itself asked for (`prompt=login`) is pending: the grant waits
 * for that sign-in's resume. (A login the policy asks for, a step-up or
 * max_age, may still follow a grant saved here: it holds only what that
 * sign-in is then given.)
 */
export function impliedConsentGrants(loadGrant: GrantLoader, adminResource: string): GrantLoader {
  return async (ctx) => {
    const existing = await loadGrant(ctx);
    const { account, client } = ctx.oidc;
    if (!account || !client || !impliesConsent(ctx) || ctx.oidc.promptPending('login')) return existing;
    // A grant of another account or client is oidc-provider's error to raise, untouched.
    if (existing && (existing.accountId !== account.accountId || existing.clientId !== client.clientId)) return existing;
    const asked = missingFromGrant(ctx, existing);
    if (asksForNothing(asked)) return existing;
    const grant = existing ?? new ctx.oidc.provider.Grant({ accountId: account.accountId, clientId: client.clientId });
    // The account findAccount loaded carries the user's roles (provider.ts): no lookup of its own.
    const roles = async () => (Array.isArray(account.roles) ? account.roles.filter((role) => typeof role === 'string') : undefined);
    grantRequested(grant, asked, await resourceScopePolicy(adminResource, asked.missingResourceScopes, roles));
    await grant.save();
    return grant;
  };
}

const { Check } = interactionPolicy;

/**
 * The consent prompt's checks that ask for a page whatever the grant holds
 * (`prompt=consent`, which first-party.ts adds for a first-party
 * `offline_access` request; and a native client's interaction, RFC 8252 §8.6)
 * do not fire where consent is implied: the consent page answered them by
 * itself for those requests before, now no interaction is started for them.
 * The checks of what the grant is missing still run. Without a policy:
 * oidc-provider's default one.
 */
export function withImpliedConsent(policy: interactionPolicy.Prompt[] = interactionPolicy.base()): interactionPolicy.Prompt[] {
  const checks = policy.find((prompt) => prompt.name === 'consent')?.checks;
  for (const reason of ['consent_prompt', 'native_client_prompt']) {
    const original = checks?.get(reason);
    if (!checks || !original) continue;
    const index = checks.indexOf(original);
    checks.remove(reason);
    checks.add(
      new Check(
        original.reason,
        original.description,
        original.error ?? 'consent_required',
        (ctx) => (impliesConsent(ctx) ? Check.NO_NEED_TO_PROMPT : original.check(ctx)),
        original.details,
      ),
      index,
    );
  }
  return policy;
}
