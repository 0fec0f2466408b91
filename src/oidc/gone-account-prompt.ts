import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

const { Check } = interactionPolicy;

/**
 * One more login check: a browser whose session names an account that can no
 * longer sign in (disabled or deleted while the browser kept its session
 * cookie, so `findAccount` finds none) signs in again, as if it had no
 * session; with `prompt=none` the app gets `login_required` (OIDC Core
 * §3.1.2.6). oidc-provider 9.13 alone goes on with no account and so no
 * grant loaded, and its consent checks then fail the request with a
 * server_error (lib/helpers/interaction_policy/prompts/consent.js reads
 * `oidc.grant`). The app is told what `no_session` tells it, not that the
 * account is gone.
 */
export function withSignInAgainForGoneAccount(policy: interactionPolicy.Prompt[] = interactionPolicy.base()): interactionPolicy.Prompt[] {
  policy
    .find((prompt) => prompt.name === 'login')
    ?.checks.add(
      new Check('account_gone', 'End-User authentication is required', 'login_required', (ctx: KoaContextWithOIDC) =>
        ctx.oidc.session?.accountId && !ctx.oidc.account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
      ),
    );
  return policy;
}
