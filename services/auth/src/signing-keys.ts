import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { MAX_ACCESS_TTL_MS } from './config.js';

/** The server's own Ed25519 signing key as kept in Redis (never logged, never served). */
interface StoredKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: number;
}
/** A retired key's public half and when it stopped signing. */
interface RetiredKey {
  publicJwk: JWK;
  retiredAt: number;
}
interface StoredKeys {
  current: StoredKey;
  /** Earlier signing keys, served in the JWKS until every token they signed has expired. */
  previous: Array<RetiredKey | JWK>;
}
/** What Redis holds when a sealing secret is configured: AES-256-GCM over the StoredKeys JSON. */
interface SealedKeys {
  sealed: 1;
  /** base64: 12-byte IV | ciphertext | 16-byte tag. */
  box: string;
}

/**
 * A retired public key stays in the JWKS for the longest access-token lifetime plus a minute of
 * clock skew, so every token it signed verifies until it expires, and not longer.
 */
export const RETIRED_KEY_SERVED_MS = MAX_ACCESS_TTL_MS + 60_000;

async function newKey(): Promise<StoredKey> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  // kid = RFC 7638 JWK thumbprint of the public key, so every copy derives the same id.
  const kid = await calculateJwkThumbprint(publicJwk);
  const pub: JWK = { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' };
  return { kid, privateJwk: { ...privateJwk, kid, alg: 'EdDSA' }, publicJwk: pub, createdAt: Date.now() };
}

/** Key-encryption key from the operator's secret (RFC 5869 HKDF-SHA256, fixed label). */
function kek(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), 'hush auth signing keys v1', 32));
}

export function seal(keys: StoredKeys, secret: string): SealedKeys {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek(secret), iv);
  c.setAAD(Buffer.from('auth:signing'));
  const ct = Buffer.concat([c.update(JSON.stringify(keys), 'utf8'), c.final()]);
  return { sealed: 1, box: Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64') };
}

export function unseal(s: SealedKeys, secret: string): StoredKeys {
  const box = Buffer.from(s.box, 'base64');
  const d = createDecipheriv('aes-256-gcm', kek(secret), box.subarray(0, 12));
  d.setAAD(Buffer.from('auth:signing'));
  d.setAuthTag(box.subarray(box.length - 16));
  try {
    const pt = Buffer.concat([d.update(box.subarray(12, box.length - 16)), d.final()]);
    return JSON.parse(pt.toString('utf8')) as StoredKeys;
  } catch (e) {
    throw new Error('signing keys in Redis do not open with SIGNING_KEY_SECRET_FILE (wrong secret?)', { cause: e });
  }
}

export interface AccessTokenInput {
  userId: string;
  deviceId: string;
  username: string;
  jti: string;
  issuer: string;
  audience: string;
  /** Unix seconds. */
  expiresAt: number;
}

const retired = (p: RetiredKey | JWK, now: number): RetiredKey =>
  'publicJwk' in p ? (p as RetiredKey) : { publicJwk: p as JWK, retiredAt: now };

/**
 * The EdDSA signing key shared by every auth copy through one Redis key, sealed with AES-256-GCM
 * under the operator's secret (SIGNING_KEY_SECRET_FILE, a Kubernetes Secret or a file under
 * `.data/secrets`) when one is configured, so a Redis dump or replica alone cannot forge tokens.
 * The first copy to start creates it with SET NX, so concurrent starts agree on one key (and an
 * unsealed key from an older version is sealed on the next start); `rotate()` (the admin CLI's
 * `rotate-key`) replaces it and keeps the old public key in the JWKS until its tokens expired.
 * Each copy re-reads the key periodically (`load()`).
 */
export class SigningKeys {
  private current: { kid: string; key: CryptoKey | Uint8Array } | undefined;
  private jwks: JWK[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly redisKey: string,
    private readonly secret = '',
    private readonly now: () => number = Date.now,
  ) {}

  private encode(k: StoredKeys): string {
    return JSON.stringify(this.secret ? seal(k, this.secret) : k);
  }

  private decode(raw: string): StoredKeys {
    const v = JSON.parse(raw) as StoredKeys | SealedKeys;
    if ('sealed' in v) {
      if (!this.secret) throw new Error('signing keys in Redis are sealed but SIGNING_KEY_SECRET_FILE is not set');
      return unseal(v, this.secret);
    }
    return v;
  }

  async init(): Promise<void> {
    const candidate: StoredKeys = { current: await newKey(), previous: [] };
    await this.redis.set(this.redisKey, this.encode(candidate), 'NX');
    const raw = await this.redis.get(this.redisKey);
    if (raw && this.secret && !('sealed' in JSON.parse(raw))) {
      // Written by a copy without a secret: seal it now (compare-and-set, another copy may race).
      await this.redis.watch(this.redisKey);
      await this.redis
        .multi()
        .set(this.redisKey, this.encode(this.decode(raw)))
        .exec();
    }
    await this.load();
  }

  async load(): Promise<void> {
    const raw = await this.redis.get(this.redisKey);
    if (!raw) throw new Error('signing key missing from Redis');
    const stored = this.decode(raw);
    if (this.current?.kid !== stored.current.kid) {
      this.current = { kid: stored.current.kid, key: await importJWK(stored.current.privateJwk, 'EdDSA') };
    }
    const t = this.now();
    const served = stored.previous.map((p) => retired(p, t)).filter((p) => t - p.retiredAt < RETIRED_KEY_SERVED_MS);
    this.jwks = [stored.current.publicJwk, ...served.map((p) => p.publicJwk)];
  }

  /** Replaces the signing key; earlier public keys stay in the JWKS while tokens they signed live. */
  async rotate(): Promise<string> {
    const fresh = await newKey();
    for (;;) {
      await this.redis.watch(this.redisKey);
      const raw = await this.redis.get(this.redisKey);
      const old = raw ? this.decode(raw) : undefined;
      const t = this.now();
      const next: StoredKeys = {
        current: fresh,
        previous: old
          ? [{ publicJwk: old.current.publicJwk, retiredAt: t }, ...old.previous.map((p) => retired(p, t))].filter(
              (p) => t - p.retiredAt < RETIRED_KEY_SERVED_MS,
            )
          : [],
      };
      const res = await this.redis.multi().set(this.redisKey, this.encode(next)).exec();
      if (res !== null) break;
    }
    await this.load();
    return fresh.kid;
  }

  /** The kid signing now and every kid still served. */
  status(): { current: string; served: string[] } {
    return { current: this.current?.kid ?? '', served: this.jwks.map((k) => String(k.kid)) };
  }

  publicJwks(): { keys: JWK[] } {
    return { keys: this.jwks.map((k) => ({ ...k })) };
  }

  async signAccessToken(i: AccessTokenInput): Promise<string> {
    if (!this.current) throw new Error('signing key not loaded');
    return new SignJWT({ dev: i.deviceId, usr: i.username })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.current.kid, typ: 'JWT' })
      .setSubject(i.userId)
      .setIssuer(i.issuer)
      .setAudience(i.audience)
      .setJti(i.jti)
      .setIssuedAt()
      .setExpirationTime(i.expiresAt)
      .sign(this.current.key);
  }
}
