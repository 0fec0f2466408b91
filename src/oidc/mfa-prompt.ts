import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { ACR_MFA, asksForMfa } from '../mfa/mfa-policy.js';

const { base, Check } = interactionPolicy;

/**
 * oidc-provider's default prompts, with one more login check: a signed-in
 * session that has not used a second factor is sent through the login prompt
 * again (a step-up) when the client asks for `acr_values=urn:gatehouse:acr:mfa`,
 * is registered with `require_mfa`, or the user holds a role with
 * `require_mfa` (given after they signed in, say). The interaction pages then
 * ask for the second factor only. (oidc-provider itself enforces only *essential* acr
 * claims, OIDC Core §5.5.1.1.)
 */
export function mfaInteractionPolicy(roleRequiresMfa: (accountId: string) => Promise<boolean>): interactionPolicy.Prompt[] {
  const policy = base();
  policy.get('login')?.checks.add(
    new Check('mfa_required', 'A second factor is required', async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
      // No account found for the session (gone-account-prompt.ts signs the browser in again).
      if (!oidc.account) return Check.NO_NEED_TO_PROMPT;
      if (oidc.acr === ACR_MFA) return Check.NO_NEED_TO_PROMPT;
      const clientRequires = oidc.client?.metadata().require_mfa === true;
      if (clientRequires || asksForMfa(oidc.params?.acr_values)) return Check.REQUEST_PROMPT;
      // The account this request loaded (findAccount, before the prompts run)
      // read it with the user; otherwise, last, as it reads the database.
      const loaded = oidc.account?.accountId === oidc.session.accountId ? oidc.account?.rolesRequireMfa : undefined;
      const required = typeof loaded === 'boolean' ? loaded : await roleRequiresMfa(oidc.session.accountId);
      return required ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}
