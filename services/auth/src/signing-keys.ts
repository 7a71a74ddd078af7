import type { Redis } from 'ioredis';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/** The server's own Ed25519 signing key as kept in Redis (never logged, never served). */
interface StoredKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: number;
}
interface StoredKeys {
  current: StoredKey;
  /** Public keys of earlier signing keys, still served in the JWKS so tokens they signed verify. */
  previous: JWK[];
}

/** How many retired public keys stay in the JWKS: one is enough, tokens live 15 minutes. */
export const RETAINED_PREVIOUS_KEYS = 1;

async function newKey(): Promise<StoredKey> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  // kid = RFC 7638 JWK thumbprint of the public key, so every copy derives the same id.
  const kid = await calculateJwkThumbprint(publicJwk);
  const pub: JWK = { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' };
  return { kid, privateJwk: { ...privateJwk, kid, alg: 'EdDSA' }, publicJwk: pub, createdAt: Date.now() };
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

/**
 * The EdDSA signing key shared by every auth copy through one Redis key. The first copy to start
 * creates it with SET NX, so concurrent starts agree on one key; `rotate()` replaces it and keeps
 * the old public key in the JWKS. Each copy re-reads the key periodically (`load()`).
 */
export class SigningKeys {
  private current: { kid: string; key: CryptoKey | Uint8Array } | undefined;
  private jwks: JWK[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly redisKey: string,
  ) {}

  async init(): Promise<void> {
    const candidate: StoredKeys = { current: await newKey(), previous: [] };
    await this.redis.set(this.redisKey, JSON.stringify(candidate), 'NX');
    await this.load();
  }

  async load(): Promise<void> {
    const raw = await this.redis.get(this.redisKey);
    if (!raw) throw new Error('signing key missing from Redis');
    const stored = JSON.parse(raw) as StoredKeys;
    if (this.current?.kid !== stored.current.kid) {
      this.current = { kid: stored.current.kid, key: await importJWK(stored.current.privateJwk, 'EdDSA') };
    }
    this.jwks = [stored.current.publicJwk, ...stored.previous];
  }

  /** Replaces the signing key; the previous public key stays in the JWKS. Safe under concurrency (WATCH). */
  async rotate(): Promise<string> {
    const fresh = await newKey();
    for (;;) {
      await this.redis.watch(this.redisKey);
      const raw = await this.redis.get(this.redisKey);
      const old = raw ? (JSON.parse(raw) as StoredKeys) : undefined;
      const next: StoredKeys = {
        current: fresh,
        previous: old ? [old.current.publicJwk, ...old.previous].slice(0, RETAINED_PREVIOUS_KEYS) : [],
      };
      const res = await this.redis.multi().set(this.redisKey, JSON.stringify(next)).exec();
      if (res !== null) break;
    }
    await this.load();
    return fresh.kid;
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
