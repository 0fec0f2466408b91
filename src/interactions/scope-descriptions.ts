import type { ResourceService } from '../clients/resources.js';

/** What each OIDC scope lets an app do, in the words the login and device pages use. */
export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Sign you in',
  email: 'See your email address',
  profile: 'See your name',
  roles: 'See your roles',
  offline_access: 'Stay signed in when you are not using it',
};

export interface DescribedApi {
  readonly name: string;
  readonly scopes: string[];
}

/** API identifier → scopes, as the registered APIs' names and scope descriptions. */
export async function describeApiScopes(resources: ResourceService, scopesByApi: Record<string, string[]>): Promise<DescribedApi[]> {
  return Promise.all(
    Object.entries(scopesByApi).map(async ([identifier, scopes]) => {
      const resource = await resources.findResourceByIdentifier(identifier);
      const described = new Map(resource?.scopes.map((scope) => [scope.name, scope.description]) ?? []);
      return { name: resource?.name ?? identifier, scopes: scopes.map((scope) => described.get(scope) ?? scope) };
    }),
  );
}
