import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromSeed } from '@nats-io/nkeys';
import { NATS_ROLES, type NatsAuditRole, newRoleKey, type RoleKey, renderNatsAuthorization } from './nats-auth.js';

/**
 * The secrets of one deployment, as files in one folder (`.data/secrets` for `npm start`, a
 * volume for compose, a temporary folder per test stack, Kubernetes Secrets built from them):
 *
 *   nats-users.conf        nkey users + permissions (public keys only), included by nats-server
 *   nats/<role>.nk         each role's nkey seed (0600)
 *   redis.acl              Redis ACL file: the `hush` user with a SHA-256-hashed password
 *   redis.password         the `hush` user's password (0600)
 *   signing-key.secret     seals auth's token-signing keys in Redis (0600), see services/auth
 */
export interface SecretsLayout {
  dir: string;
  natsUsers: string;
  nkey(role: NatsAuditRole): string;
  redisAcl: string;
  redisPassword: string;
  signingKeySecret: string;
  /** Password of the NATS cluster-route user (Kubernetes: hush-nats-routes). */
  natsRoutePassword: string;
}

export const REDIS_USER = 'hush';

export function secretsLayout(dir: string): SecretsLayout {
  return {
    dir,
    natsUsers: join(dir, 'nats-users.conf'),
    nkey: (role) => join(dir, 'nats', `${role}.nk`),
    redisAcl: join(dir, 'redis.acl'),
    redisPassword: join(dir, 'redis.password'),
    signingKeySecret: join(dir, 'signing-key.secret'),
    natsRoutePassword: join(dir, 'nats-route.password'),
  };
}

export interface GenerateOptions {
  /** SUBJECT_PREFIX values the permissions are written for (default: the empty prefix). */
  prefixes?: string[];
  /** STREAM_NAME of the mailboxes. */
  stream?: string;
  /** Also create the subscribe-only `observer` role (tests that watch every subject). */
  observer?: boolean;
}

/**
 * Redis ACL: the services' user may run every command except the @dangerous ones (FLUSHALL,
 * CONFIG, KEYS, DEBUG, ...), plus INFO, which ioredis sends for its ready check. `default` is
 * off, so an unauthenticated client can do nothing; `health` may only PING (healthchecks).
 */
export function renderRedisAcl(password: string): string {
  const hash = createHash('sha256').update(password).digest('hex');
  return [
    'user default off',
    `user ${REDIS_USER} on #${hash} ~* &* +@all -@dangerous +info`,
    'user health on nopass -@all +ping',
    '',
  ].join('\n');
}

const secret = () => randomBytes(24).toString('base64url');

/**
 * Creates whatever is missing in `dir` (existing files are kept, so a restart reuses the same
 * credentials) and returns the layout. `nats-users.conf` is rewritten every time from the seeds,
 * so a changed prefix or stream name is picked up.
 */
export function ensureSecrets(dir: string, o: GenerateOptions = {}): SecretsLayout {
  const l = secretsLayout(dir);
  mkdirSync(join(dir, 'nats'), { recursive: true, mode: 0o700 });
  const roles: NatsAuditRole[] = [...NATS_ROLES, ...(o.observer ? (['observer'] as const) : [])];
  const keys: RoleKey[] = roles.map((role) => {
    const file = l.nkey(role);
    if (existsSync(file)) {
      const seed = readFileSync(file, 'utf8').trim();
      return { role, seed, publicKey: publicKeyOf(seed) };
    }
    const k = newRoleKey(role);
    writeFileSync(file, `${k.seed}\n`, { mode: 0o600 });
    return k;
  });
  writeFileSync(l.natsUsers, renderNatsAuthorization(keys, o.prefixes ?? [''], o.stream ?? 'MAILBOX'));
  if (!existsSync(l.redisPassword)) writeFileSync(l.redisPassword, `${secret()}\n`, { mode: 0o600 });
  if (!existsSync(l.natsRoutePassword)) writeFileSync(l.natsRoutePassword, `${secret()}\n`, { mode: 0o600 });
  if (!existsSync(l.signingKeySecret)) writeFileSync(l.signingKeySecret, `${secret()}\n`, { mode: 0o600 });
  // Only a SHA-256 of the password: readable by the redis user of a container.
  writeFileSync(l.redisAcl, renderRedisAcl(readFileSync(l.redisPassword, 'utf8').trim()), { mode: 0o644 });
  return l;
}

function publicKeyOf(seed: string): string {
  return fromSeed(new TextEncoder().encode(seed)).getPublicKey();
}

/** A redis:// URL with the `hush` user's credentials (for processes that take one URL). */
export function redisUrlWithAuth(url: string, password: string): string {
  const u = new URL(url);
  u.username = REDIS_USER;
  u.password = password;
  return u.toString();
}
