// The bare engine `npm run bench` compares Gatehouse with: oidc-provider
// alone, with its in-memory adapter, one static client and the same token
// shape as Gatehouse's client-credentials tokens (an RFC 9068 JWT for a
// resource indicator, RS256 with a 2048-bit key). Plain JavaScript run by
// plain `node`, as Gatehouse's compiled build is, so neither carries a
// TypeScript loader. Prints "READY" on stderr once it listens.
//
// Environment: PORT, HOST, ISSUER, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET,
// BENCH_API (the resource indicator), BENCH_SCOPE.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const { PORT, HOST = '127.0.0.1', ISSUER, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_API, BENCH_SCOPE = 'bench:read' } = process.env;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'bench' };

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: BENCH_CLIENT_ID,
      client_secret: BENCH_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [jwk] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => BENCH_API,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: BENCH_SCOPE,
        audience: BENCH_API,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

const server = createServer(provider.callback());
server.listen(Number(PORT), HOST, () => console.error('READY'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
