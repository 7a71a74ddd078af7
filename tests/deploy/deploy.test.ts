import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '@hush/testkit';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

// No Docker engine runs here, so docker-compose.yml is checked against the Compose
// Specification's JSON Schema and against what `npm start` runs (scripts/start.ts spawns
// services/<name>/src/main.ts under tsx with NATS_URL / REDIS_URL).
const SERVICES = ['auth', 'keydir', 'presence', 'gateway'];
// The schema is vendored under tests/deploy/schemas/ (Apache-2.0, see its README).
const schemaPath = resolve(repoRoot, 'tests', 'deploy', 'schemas', 'compose-spec.json');
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsPlugin as unknown as (a: Ajv) => void;

type Svc = { command: string[]; environment: Record<string, string>; ports?: string[]; image?: string };

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

  it('runs nats with JetStream, redis with AOF and the four services', () => {
    const names = Object.keys(compose.services).sort();
    expect(names).toEqual([...SERVICES, 'nats', 'redis'].sort());
    expect(compose.services.nats.command).toContain('-js');
    expect(compose.services.redis.command.join(' ')).toContain('--appendonly yes');
  });

  it('starts each service with the same entry point and variables as npm start', () => {
    const start = readFileSync(join(repoRoot, 'scripts', 'start.ts'), 'utf8');
    expect(start).toMatch(/NATS_URL/);
    expect(start).toMatch(/REDIS_URL/);
    for (const name of SERVICES) {
      const svc = compose.services[name] as Svc;
      const entry = `services/${name}/src/main.ts`;
      expect(svc.command).toEqual(['node', '--import', 'tsx', entry]);
      expect(existsSync(join(repoRoot, entry)), `${entry} exists`).toBe(true);
      expect(svc.environment.NATS_URL).toBe('nats://nats:4222');
      expect(svc.environment.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(compose.services.gateway.ports).toEqual(['8080:8080']);
  });
});

describe('k8s manifests', () => {
  const docs = readdirSync(join(repoRoot, 'k8s'))
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(readFileSync(join(repoRoot, 'k8s', f), 'utf8')).map((d) => d.toJS()));

  it('parse as YAML and are all listed in the kustomization', () => {
    const kust = parse(readFileSync(join(repoRoot, 'k8s', 'kustomization.yaml'), 'utf8'));
    const files = readdirSync(join(repoRoot, 'k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kust.resources].sort()).toEqual(files.sort());
    expect(docs.every((d) => typeof d.kind === 'string' && d.metadata?.name)).toBe(true);
  });

  it('deploy each service with the compose command, and NATS as a 3-node JetStream cluster', () => {
    for (const name of SERVICES) {
      const dep = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === name);
      expect(dep, `Deployment ${name}`).toBeDefined();
      expect(dep.spec.template.spec.containers[0].command).toEqual(compose.services[name].command);
    }
    const nats = docs.find((d) => d.kind === 'StatefulSet' && d.metadata.name === 'nats');
    expect(nats.spec.replicas).toBe(3);
    const conf = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'nats-config').data['nats.conf'];
    expect(conf).toMatch(/jetstream/);
    expect(conf).toMatch(/cluster/);
  });
});
