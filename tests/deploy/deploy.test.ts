import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSecrets } from '@hush/service-kit';
import { hasBinary, repoRoot } from '@hush/testkit';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { k8sSecrets } from '../../scripts/k8s-secrets.js';

// No Docker engine or cluster runs here: docker-compose.yml is checked against the Compose
// Specification's JSON Schema, k8s/ is built with `kubectl kustomize` (when kubectl is present;
// otherwise the YAML files are read directly) and every object is validated against the
// Kubernetes schemas of kubernetes-models.
const SERVICES = ['auth', 'keydir', 'presence', 'gateway'];
// The schema is vendored under tests/deploy/schemas/ (Apache-2.0, see its README).
const schemaPath = join(repoRoot, 'tests', 'deploy', 'schemas', 'compose-spec.json');
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsPlugin as unknown as (a: Ajv) => void;

type Svc = { command: string[]; environment: Record<string, string>; ports?: string[]; image?: string };
// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked by their schemas below.
type K8sObject = any;

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    expect(existsSync(schemaPath), `missing ${schemaPath}`).toBe(true);
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    // The file names draft-07 without the trailing '#', which Ajv does not recognise; Ajv's
    // default dialect is draft-07, so the id is dropped rather than the schema changed.
    const { $schema: _dialect, ...schema } = JSON.parse(readFileSync(schemaPath, 'utf8'));
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('runs secrets, nats, redis, the four services and Caddy in front over HTTPS', () => {
    const names = Object.keys(compose.services).sort();
    expect(names).toEqual([...SERVICES, 'caddy', 'nats', 'redis', 'secrets'].sort());
    expect(compose.services.nats.command).toEqual(['-c', '/etc/nats/nats.conf']);
    expect(readFileSync(join(repoRoot, 'deploy', 'nats.conf'), 'utf8')).toMatch(/include secrets\/nats-users\.conf/);
    expect(compose.services.redis.command.join(' ')).toContain('--appendonly yes');
    expect(compose.services.redis.command.join(' ')).toContain('--aclfile /secrets/redis.acl');
    // Only Caddy is published; the gateway is reached through it.
    expect(compose.services.gateway.ports).toBeUndefined();
    expect(compose.services.caddy.ports).toContain('443:443');
    expect(compose.services.gateway.environment.TRUST_PROXY).toBe('1');
  });

  it('starts each service with the same entry point and variables as npm start, with its credentials', () => {
    const start = readFileSync(join(repoRoot, 'scripts', 'start.ts'), 'utf8');
    expect(start).toMatch(/NATS_URL/);
    expect(start).toMatch(/REDIS_URL/);
    for (const name of SERVICES) {
      const svc = compose.services[name] as Svc;
      const entry = `services/${name}/src/main.ts`;
      expect(svc.command).toEqual(['node', '--import', 'tsx', entry]);
      expect(existsSync(join(repoRoot, entry)), `${entry} exists`).toBe(true);
      expect(svc.environment.NATS_URL).toBe('nats://nats:4222');
      expect(svc.environment.NATS_NKEY_DIR).toBe('/secrets/nats');
      expect(svc.environment.REDIS_PASSWORD_FILE).toBe('/secrets/redis.password');
      expect(svc.image).toMatch(/^ghcr\.io\/[^:]+:\d+\.\d+\.\d+$/);
    }
  });

  it('uses a supported Node LTS image', () => {
    const df = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    expect(df).toMatch(/^FROM node:(22|24)-/m);
    expect(df).not.toMatch(/^FROM node:20/m);
  });
});

/** Every object of the Kubernetes deployment: `kubectl kustomize k8s/` when kubectl is here. */
function k8sObjects(): { objects: K8sObject[]; via: string } {
  if (hasBinary('kubectl')) {
    const out = execFileSync('kubectl', ['kustomize', join(repoRoot, 'k8s')], { encoding: 'utf8' });
    return { objects: parseAllDocuments(out).map((d) => d.toJS()), via: 'kubectl kustomize' };
  }
  const kust = parse(readFileSync(join(repoRoot, 'k8s', 'kustomization.yaml'), 'utf8'));
  const objects = (kust.resources as string[]).flatMap((f) =>
    parseAllDocuments(readFileSync(join(repoRoot, 'k8s', f), 'utf8')).map((d) => d.toJS()),
  );
  return { objects, via: 'files (kubectl not installed)' };
}

/** Validates against kubernetes-models' schema for the object's apiVersion and kind. */
async function validateK8s(o: K8sObject): Promise<void> {
  const [group, version] = String(o.apiVersion).includes('/') ? o.apiVersion.split('/') : ['v1', ''];
  const path = version ? `kubernetes-models/${group}/${version}/${o.kind}` : `kubernetes-models/v1/${o.kind}`;
  const mod = (await import(path)) as Record<string, new (d: unknown) => { validate(): void }>;
  const Model = mod[o.kind];
  if (!Model) throw new Error(`no model for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

const podSpecs = (objects: K8sObject[]) =>
  objects.filter((o) => o.spec?.template?.spec).map((o) => ({ name: o.metadata.name, spec: o.spec.template.spec }));

describe('k8s/', () => {
  const { objects, via } = k8sObjects();
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  const tmp = mkdtempSync(join(tmpdir(), 'hush-k8s-secrets-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it(`builds (${via}) and every object validates against the Kubernetes schemas`, async () => {
    expect(objects.length).toBeGreaterThan(15);
    for (const o of objects) await validateK8s(o);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of ['Namespace', 'NetworkPolicy', 'HorizontalPodAutoscaler', 'Ingress', 'PodDisruptionBudget'])
      expect(kinds).toContain(k);
  });

  it('has every file in the kustomization', () => {
    const kust = parse(readFileSync(join(repoRoot, 'k8s', 'kustomization.yaml'), 'utf8'));
    const files = readdirSync(join(repoRoot, 'k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kust.resources].sort()).toEqual(files.sort());
  });

  it('deploys each service with the compose command and a registry image with a version tag', () => {
    for (const name of SERVICES) {
      const dep = find('Deployment', name);
      expect(dep, `Deployment ${name}`).toBeDefined();
      const c = dep.spec.template.spec.containers[0];
      expect(c.command).toEqual(compose.services[name].command);
      expect(c.image).toMatch(/^[a-z0-9.-]+\.[a-z]+\/[^:]+:\d+\.\d+\.\d+$/);
    }
    for (const s of podSpecs(objects))
      for (const c of s.spec.containers) expect(c.image, s.name).toMatch(/^[a-z0-9.-]+\.[a-z]+\/[^:]+:[0-9][^:]*$/);
  });

  it('meets the restricted Pod Security Standard everywhere', () => {
    expect(find('Namespace', 'hush').metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const { name, spec } of podSpecs(objects)) {
      expect(spec.securityContext.runAsNonRoot, name).toBe(true);
      expect(spec.securityContext.seccompProfile.type, name).toBe('RuntimeDefault');
      for (const c of spec.containers) {
        expect(c.securityContext.allowPrivilegeEscalation, name).toBe(false);
        expect(c.securityContext.readOnlyRootFilesystem, name).toBe(true);
        expect(c.securityContext.capabilities.drop, name).toEqual(['ALL']);
        expect(c.resources.requests, name).toBeDefined();
        expect(c.resources.limits.memory, name).toBeDefined();
      }
    }
  });

  it('runs NATS as the official chart does, with authenticated clients and routes', () => {
    const nats = find('StatefulSet', 'nats');
    expect(nats.spec.replicas).toBe(3);
    const c = nats.spec.template.spec.containers[0];
    expect(c.startupProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toMatch(/^\/healthz\?/);
    expect(c.livenessProbe.httpGet.path).toMatch(/^\/healthz\?/);
    expect(c.lifecycle.preStop.exec.command.join(' ')).toContain('ldm');
    expect(nats.spec.template.spec.affinity.podAntiAffinity).toBeDefined();
    expect(find('Service', 'nats').spec.publishNotReadyAddresses).toBe(true);
    expect(find('PodDisruptionBudget', 'nats')).toBeDefined();
    const conf = find('ConfigMap', 'nats-config').data['nats.conf'];
    expect(conf).toMatch(/jetstream/);
    expect(conf).toMatch(/include \.\.\/nats-auth\/nats-users\.conf/);
    expect(conf).toMatch(/cluster \{[^}]*include \.\.\/nats-routes\/routes\.conf/s);
  });

  it('gives the gateway its own readiness, an HPA, and an Ingress with TLS and long WebSocket timeouts', () => {
    const gw = find('Deployment', 'gateway').spec.template.spec.containers[0];
    expect(gw.readinessProbe.httpGet.path).toBe('/readyz');
    expect(find('HorizontalPodAutoscaler', 'gateway').spec.scaleTargetRef.name).toBe('gateway');
    const ing = find('Ingress', 'gateway');
    expect(ing.spec.tls[0].secretName).toBeTruthy();
    expect(Number(ing.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(
      3600,
    );
  });

  it('admits traffic only where NetworkPolicies allow it', () => {
    const pols = objects.filter((o) => o.kind === 'NetworkPolicy');
    const deny = pols.find((p) => Object.keys(p.spec.podSelector).length === 0);
    expect(deny.spec.policyTypes).toEqual(['Ingress']);
    expect(deny.spec.ingress).toBeUndefined();
    expect(pols.find((p) => p.spec.podSelector.matchLabels?.app === 'redis')).toBeDefined();
    expect(pols.find((p) => p.spec.podSelector.matchLabels?.app === 'nats')).toBeDefined();
  });

  it('mounts Secrets that `npm run admin -- secrets --k8s` creates, and those validate too', async () => {
    const made = k8sSecrets(ensureSecrets(tmp), 'hush')
      .split('\n---\n')
      .map((d) => JSON.parse(d) as K8sObject);
    for (const s of made) await validateK8s(s);
    const names = new Set(made.map((s) => s.metadata.name));
    for (const { name, spec } of podSpecs(objects))
      for (const v of spec.volumes ?? [])
        if (v.secret) expect(names, `${name} mounts ${v.secret.secretName}`).toContain(v.secret.secretName);
  });
});
