import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { testPort } from '../support/ports.js';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { API, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';
import { postForm } from '../support/service-client.js';

/** Prometheus text format into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

describe('the Prometheus endpoint', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let config: oidc.Configuration;
  let service: RegisteredClient;
  let metricsPort: number;

  const scrape = async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseMetrics(await response.text());
  };
  const seriesValue = (metrics: Map<string, number>, series: string) => metrics.get(series) ?? 0;

  beforeAll(async () => {
    metricsPort = await testPort();
    ({ gatehouse, databaseUrl, config } = await startWithSampleApp({
      GATEHOUSE_METRICS_PORT: String(metricsPort),
      GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '0',
    }));
    service = await gatehouse.clients.registerClient({
      client_name: 'Metrics service',
      grant_types: ['client_credentials'],
      api_access: [{ resource: API, scopes: ['items:read'] }],
      default_resource: API,
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('answers on its own loopback port only, with the process metrics, and not on the public port', async () => {
    const metrics = await scrape();
    expect(metrics.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metrics.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/`)).status).toBe(404);
    const onPublicPort = await fetch(`${gatehouse.issuer}/metrics`);
    expect(onPublicPort.status).toBe(404);
    expect(await onPublicPort.text()).not.toContain('gatehouse_');
    expect(gatehouse.log.lines.join('\n')).toContain(`metrics on http://127.0.0.1:${metricsPort}/metrics`);
  });

  it('counts tokens issued and token errors by grant type and error code', async () => {
    const before = await scrape();
    const token = await postForm(`${gatehouse.issuer}/token`, { grant_type: 'client_credentials', resource: API, scope: 'items:read' }, [
      service.client_id,
      service.client_secret as string,
    ]);
    expect(token.status, await token.clone().text()).toBe(200);
    const wrong = await postForm(`${gatehouse.issuer}/token`, { grant_type: 'client_credentials' }, [service.client_id, 'not-the-secret']);
    expect(wrong.status).toBe(401);
    // An attacker's grant_type does not become a label value.
    await postForm(`${gatehouse.issuer}/token`, { grant_type: 'x'.repeat(50) }, [service.client_id, service.client_secret as string]);
    const after = await scrape();

    const issued = 'gatehouse_tokens_issued_total{grant_type="client_credentials"}';
    expect(seriesValue(after, issued) - seriesValue(before, issued)).toBe(1);
    const invalidClient = 'gatehouse_token_errors_total{grant_type="client_credentials",error="invalid_client"}';
    expect(seriesValue(after, invalidClient) - seriesValue(before, invalidClient)).toBe(1);
    expect([...after.keys()].some((series) => series.includes('xxxxx'))).toBe(false);
    expect([...after.keys()].some((series) => series.startsWith('gatehouse_token_errors_total{grant_type="other"'))).toBe(true);

    const timed = 'gatehouse_http_request_duration_seconds_count{route="/token",method="POST",status="200"}';
    expect(seriesValue(after, timed) - seriesValue(before, timed)).toBe(1);
  });

  it('counts sign-ins by result and refresh-token reuse', async () => {
    const before = await scrape();
    expect(before.has('gatehouse_logins_total{result="throttled"}')).toBe(true);

    // A wrong password on the real login page, then the right one.
    const failed = await signIn(config, { password: 'not the password at all', browser: new Browser() }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(Error);
    const { tokens } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent' });
    await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toThrow();
    const after = await scrape();

    const delta = (series: string) => seriesValue(after, series) - seriesValue(before, series);
    expect(delta('gatehouse_logins_total{result="failure"}')).toBe(1);
    expect(delta('gatehouse_logins_total{result="success"}')).toBe(1);
    expect(delta('gatehouse_logins_total{result="throttled"}')).toBe(0);
    expect(delta('gatehouse_refresh_reuse_detected_total')).toBe(1);
    expect(delta('gatehouse_tokens_issued_total{grant_type="authorization_code"}')).toBe(1);
    expect(delta('gatehouse_tokens_issued_total{grant_type="refresh_token"}')).toBe(1);
    expect(delta('gatehouse_token_errors_total{grant_type="refresh_token",error="invalid_grant"}')).toBe(1);
    expect(delta('gatehouse_http_request_duration_seconds_count{route="/interaction/:uid/login",method="POST",status="401"}')).toBe(1);
  });

  it('reports the signing-key schedule, the password-hash queue and the connection pool', async () => {
    const metrics = await scrape();
    const age = metrics.get('gatehouse_signing_key_age_seconds') as number;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(3600);
    // The default rotation interval is 30 days from the key's activation.
    const dueIn = (metrics.get('gatehouse_signing_key_next_rotation_timestamp_seconds') as number) - Date.now() / 1000;
    expect(dueIn).toBeGreaterThan(30 * 86400 - 3600);
    expect(dueIn).toBeLessThanOrEqual(30 * 86400);
    expect(metrics.get('gatehouse_password_hash_queue_depth')).toBe(0);
    const open =
      seriesValue(metrics, 'gatehouse_db_pool_connections{state="idle"}') +
      seriesValue(metrics, 'gatehouse_db_pool_connections{state="active"}');
    expect(open).toBeGreaterThanOrEqual(1);
    expect(metrics.has('gatehouse_db_pool_connections{state="waiting"}')).toBe(true);
  });
});
