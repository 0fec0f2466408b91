import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { collectProcessMetrics, registry } from '../../src/metrics/metrics.js';

const read = (path: string) => readFileSync(new URL(`../../deploy/${path}`, import.meta.url), 'utf8');

/** Every series name Gatehouse exports, histograms with their _bucket/_count/_sum. */
async function exportedNames(): Promise<Set<string>> {
  collectProcessMetrics();
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

/** The metric names a PromQL expression reads (ours and Node's process metrics). */
const namesIn = (expr: string) => expr.match(/\b(?:gatehouse|process|nodejs)_[a-z0-9_]+/g) ?? [];

describe('the Prometheus alert rules', () => {
  const rules = (
    parse(read('prometheus/alerts.yaml')) as {
      groups: { rules: { alert: string; expr: string; labels: { severity: string }; annotations: { summary: string } }[] }[];
    }
  ).groups.flatMap((group) => group.rules);

  it('cover rotation overdue, refresh reuse, login failure spikes and the error rate', () => {
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        'GatehouseSigningKeyRotationOverdue',
        'GatehouseRefreshTokenReuseSpike',
        'GatehouseLoginFailureSpike',
        'GatehouseHighErrorRate',
      ]),
    );
    for (const rule of rules)
      expect(rule).toMatchObject({
        labels: { severity: expect.stringMatching(/^(warning|critical)$/) },
        annotations: { summary: expect.any(String) },
      });
  });

  it('read only metrics that Gatehouse exports', async () => {
    const exported = await exportedNames();
    for (const rule of rules) {
      expect(namesIn(rule.expr).length, rule.alert).toBeGreaterThan(0);
      for (const name of namesIn(rule.expr)) expect(exported.has(name), `${rule.alert}: ${name}`).toBe(true);
    }
  });
});

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(read('grafana/gatehouse-dashboard.json')) as { panels: { title: string; targets: { expr: string }[] }[] };

  it('charts only metrics that Gatehouse exports', async () => {
    const exported = await exportedNames();
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        expect(namesIn(target.expr).length, panel.title).toBeGreaterThan(0);
        for (const name of namesIn(target.expr)) expect(exported.has(name), `${panel.title}: ${name}`).toBe(true);
      }
    }
  });
});
