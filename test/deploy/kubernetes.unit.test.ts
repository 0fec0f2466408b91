import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { SETTINGS } from '../../src/config/config.js';

const dir = new URL('../../deploy/kubernetes/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
interface Model {
  validate(): void;
}
type ModelClass = new (data: K8sObject) => Model;

const kustomization = parse(read('kustomization.yaml')) as { resources: string[] };
const objects: { file: string; object: K8sObject }[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(file)).map((document) => {
    expect(document.errors, file).toEqual([]);
    return { file, object: document.toJS() as K8sObject };
  }),
);
const find = <T extends K8sObject>(kind: string) => objects.find(({ object }) => object.kind === kind)?.object as T;

interface Container {
  name: string;
  env: { name: string; value?: string }[];
  envFrom: { configMapRef: { name: string } }[];
  volumeMounts: { name: string; mountPath: string }[];
  readinessProbe: { httpGet: { path: string } };
  livenessProbe: { httpGet: { path: string } };
  lifecycle: { preStop: { exec: { command: string[] } } };
  resources: { requests: Record<string, string> };
}
interface Deployment extends K8sObject {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        containers: Container[];
        terminationGracePeriodSeconds: number;
        volumes: { name: string; secret?: { secretName: string } }[];
      };
    };
  };
}
const deployment = () => find<Deployment>('Deployment');
const container = () => deployment().spec.template.spec.containers[0] as Container;
const podLabels = () => deployment().spec.template.metadata.labels;
const selects = (selector: Record<string, string>) => Object.entries(selector).every(([key, value]) => podLabels()[key] === value);
const KNOWN = new Set([...SETTINGS, ...SETTINGS.map((name) => `${name}_FILE`)]);

describe('deploy/kubernetes', () => {
  it('lists every manifest of the folder in its kustomization', () => {
    const files = readdirSync(dir).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });

  it('validates every object against the Kubernetes schema of its kind', async () => {
    expect(objects.length).toBeGreaterThanOrEqual(8);
    for (const { file, object } of objects) {
      const models = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, ModelClass>;
      const Kind = models[object.kind];
      expect(Kind, `${file}: ${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new (Kind as ModelClass)(object).validate(), file).not.toThrow();
    }
  });

  it('catches an invalid manifest (the validation is real)', async () => {
    const { Deployment: Model } = (await import('kubernetes-models/apps/v1')) as unknown as Record<string, ModelClass>;
    const broken = structuredClone(deployment()) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(() => new (Model as ModelClass)(broken as unknown as K8sObject).validate()).toThrow(/replicas/);
  });

  it('runs at least two replicas, probed on /readyz and /healthz, with a preStop pause inside the grace period', () => {
    expect(deployment().spec.replicas).toBeGreaterThanOrEqual(2);
    expect(container().readinessProbe.httpGet.path).toBe('/readyz');
    expect(container().livenessProbe.httpGet.path).toBe('/healthz');
    const pause = Number(container().lifecycle.preStop.exec.command.at(-1));
    // After the pause, the server drains requests for up to 5 s (server.ts) and closes the database.
    expect(deployment().spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(pause + 5 + 5);
    expect(container().resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  });

  it('sets only settings Gatehouse knows, and takes every secret from a mounted Secret file', () => {
    const configMap = find('ConfigMap');
    const names = [...Object.keys(configMap.data ?? {}), ...container().env.map((variable) => variable.name)];
    for (const name of names) expect(KNOWN.has(name), name).toBe(true);
    expect(names.filter((name) => /SECRET$|PASSWORD$|^DATABASE_URL$/.test(name))).toEqual([]);
    const secretMount = container().volumeMounts.find((mount) => mount.name === 'secrets')?.mountPath;
    expect(deployment().spec.template.spec.volumes.find((volume) => volume.name === 'secrets')?.secret?.secretName).toBe('gatehouse');
    const files = container().env.filter((variable) => variable.name.endsWith('_FILE'));
    expect(files.map((variable) => variable.name).sort()).toEqual([
      'DATABASE_URL_FILE',
      'GATEHOUSE_ADMIN_CLIENT_SECRET_FILE',
      'GATEHOUSE_SECRET_FILE',
    ]);
    for (const variable of files) expect(variable.value?.startsWith(`${secretMount}/`)).toBe(true);
    expect(configMap.data?.GATEHOUSE_TRUST_PROXY).toBe('true');
  });

  it('points the Service, PodDisruptionBudget, NetworkPolicy and autoscaler at the Deployment', () => {
    expect(selects(find<K8sObject & { spec: { selector: Record<string, string> } }>('Service').spec.selector)).toBe(true);
    expect(
      selects(
        find<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget').spec.selector.matchLabels,
      ),
    ).toBe(true);
    expect(
      selects(
        find<K8sObject & { spec: { podSelector: { matchLabels: Record<string, string> } } }>('NetworkPolicy').spec.podSelector.matchLabels,
      ),
    ).toBe(true);
    const hpa = find<K8sObject & { spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number } }>(
      'HorizontalPodAutoscaler',
    );
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment().metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
    services: Record<
      string,
      { image?: string; build?: unknown; environment?: Record<string, string>; depends_on?: Record<string, unknown> }
    >;
  };
  const gatehouses = Object.entries(compose.services).filter(
    ([, service]) => service.build !== undefined || service.image?.startsWith('gatehouse'),
  );

  it('runs two Gatehouse instances on Postgres behind a TLS-terminating proxy they trust', () => {
    expect(gatehouses).toHaveLength(2);
    expect(compose.services.postgres).toBeDefined();
    expect(compose.services.caddy).toBeDefined();
    for (const [name, service] of gatehouses) {
      expect(service.environment?.GATEHOUSE_TRUST_PROXY, name).toBe('true');
      expect(service.environment?.ISSUER, name).toMatch(/^https:/);
      for (const variable of Object.keys(service.environment ?? {})) expect(KNOWN.has(variable), `${name}: ${variable}`).toBe(true);
    }
  });
});
