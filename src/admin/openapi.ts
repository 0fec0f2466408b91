import { z } from 'zod';
import type { AdminRoute } from './admin-route.js';

const errorSchema = z.object({ error: z.string(), error_description: z.string() });
const jsonSchema = (schema: z.ZodType) => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const ERROR_STATUSES: Record<number, string> = {
  400: 'Malformed JSON, unknown fields or invalid values',
  401: 'Missing, expired, tampered or foreign token',
  403: 'The token lacks the scope',
  404: 'No such resource',
  409: 'Conflicts with existing data',
  413: 'Body over 1 MB',
  415: 'A body in a Content-Encoding other than gzip or deflate',
};

/**
 * The OpenAPI 3.1 document, generated from the same route declarations and
 * zod schemas that validate requests: documentation cannot drift from code.
 */
export function buildOpenApiDocument(routes: readonly AdminRoute[], issuer: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const scopes = Object.fromEntries(
    [['admin', 'Everything'], ...[...new Set(routes.map((route) => route.scope))].map((scope) => [scope, scope])].sort(),
  );
  for (const route of routes) {
    const path = `/admin${route.path.replace(/:(\w+)/g, '{$1}')}`;
    const paramSchemas = route.params ? ((jsonSchema(route.params) as { properties?: Record<string, unknown> }).properties ?? {}) : {};
    const pathParameters = [...route.path.matchAll(/:(\w+)/g)].map(([, name = '']) => ({
      name,
      in: 'path',
      required: true,
      schema: paramSchemas[name] ?? { type: 'string' },
    }));
    const query = route.query ? (jsonSchema(route.query) as { properties?: Record<string, unknown>; required?: string[] }) : undefined;
    const queryParameters = Object.entries(query?.properties ?? {}).map(([name, schema]) => ({
      name,
      in: 'query',
      required: query?.required?.includes(name) ?? false,
      schema,
    }));
    const responses: Record<string, unknown> = {
      [route.status]: route.response
        ? { description: 'Success', content: { 'application/json': { schema: jsonSchema(route.response) } } }
        : { description: 'Success, no content' },
    };
    for (const [status, description] of Object.entries(ERROR_STATUSES)) {
      responses[status] = { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    for (const [status, description] of Object.entries(route.errors ?? {})) {
      responses[status] = {
        description,
        // RFC 9110 §10.2.3
        ...(status === '429' ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } } : {}),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    paths[path] = {
      ...paths[path],
      [route.method]: {
        operationId: route.operationId,
        summary: route.summary,
        tags: [route.path.split('/')[1] ?? 'admin'],
        security: [{ gatehouse: [route.scope] }],
        parameters: [...pathParameters, ...queryParameters],
        ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } } } : {}),
        responses,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse admin API',
      version: '1',
      description: 'Manage clients, APIs, users, signing keys and the audit log of a Gatehouse server.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: issuer }],
    paths,
    components: {
      schemas: { Error: jsonSchema(errorSchema) },
      securitySchemes: {
        gatehouse: {
          type: 'oauth2',
          description: `RS256 JWT access tokens of this issuer for the resource ${issuer}/admin (RFC 8707, RFC 9068)`,
          flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes } },
        },
      },
    },
  };
}
