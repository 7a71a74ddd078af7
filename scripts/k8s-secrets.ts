import { readFileSync } from 'node:fs';
import { NATS_ROLES, type SecretsLayout } from '@hush/service-kit';

/**
 * The credentials of a secrets folder as Kubernetes Secrets (`npm run admin -- secrets --k8s |
 * kubectl apply -f -`), in the names k8s/ mounts: one `hush-nats-<role>` per role, `hush-nats-users`
 * (public keys + permissions, included by nats.conf), `hush-redis` (password + ACL file) and
 * `hush-signing` (the secret sealing auth's signing keys).
 */
/**
 * Cluster routes authenticated (NATS "cluster authorization"): every node accepts routes only
 * from the `route` user and dials its peers with it. Included inside nats.conf's cluster block.
 */
function routesConf(l: SecretsLayout, namespace: string, nodes = 3): string {
  const pw = readFileSync(l.natsRoutePassword, 'utf8').trim();
  const routes = Array.from(
    { length: nodes },
    (_, i) => `    "nats://route:${pw}@nats-${i}.nats.${namespace}.svc:6222"`,
  );
  return `authorization { user: route, password: "${pw}", timeout: 2 }\nroutes = [\n${routes.join('\n')}\n]\n`;
}

export function k8sSecrets(l: SecretsLayout, namespace: string): string {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  const secret = (name: string, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name, namespace },
    data,
  });
  const docs = [
    ...NATS_ROLES.map((role) => secret(`hush-nats-${role}`, { [`${role}.nk`]: b64(l.nkey(role)) })),
    secret('hush-nats-users', { 'nats-users.conf': b64(l.natsUsers) }),
    secret('hush-redis', { password: b64(l.redisPassword), 'users.acl': b64(l.redisAcl) }),
    secret('hush-signing', { secret: b64(l.signingKeySecret) }),
    secret('hush-nats-routes', { 'routes.conf': Buffer.from(routesConf(l, namespace)).toString('base64') }),
  ];
  return docs.map((d) => JSON.stringify(d)).join('\n---\n');
}
