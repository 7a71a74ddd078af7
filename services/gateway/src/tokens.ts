import { HushError, JWT_AUDIENCE, JWT_ISSUER, MAX_ACCESS_TTL_MS } from '@hush/protocol';
import { createLocalJWKSet, errors, type JSONWebKeySet, jwtVerify } from 'jose';
import { JWKS_REFETCH_MIN_MS, REVOKED_MEMORY_MS } from './constants.js';

/** Who a verified access token speaks for. */
export interface TokenIdentity {
  userId: string;
  deviceId: string;
  username: string;
  jti: string;
  /** Unix ms. */
  expiresAt: number;
}

/** Fetches auth's public JWKS (over NATS `auth.jwks` in production, anything in tests). */
export type JwksSource = () => Promise<JSONWebKeySet>;

/** Access tokens live at most MAX_ACCESS_TTL_MS (libs/protocol): an older or longer one is refused. */
const MAX_LIFETIME_S = MAX_ACCESS_TTL_MS / 1000;
const MAX_TOKEN_AGE = `${MAX_LIFETIME_S}s`;

/**
 * Verifies access JWTs like jose's createRemoteJWKSet, but the key set comes over NATS: cached,
 * refetched when a token names an unknown `kid` (at most once per JWKS_REFETCH_MIN_MS, so forged
 * kids cannot make us hammer auth). Only EdDSA is accepted, which refuses `alg: none` and any
 * HMAC-with-the-public-key confusion. Revoked devices are remembered from `events.device.revoked`.
 */
export class TokenVerifier {
  private keyset: ReturnType<typeof createLocalJWKSet> | undefined;
  private lastFetch = 0;
  private inflight: Promise<void> | undefined;
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly source: JwksSource,
    private readonly now: () => number = Date.now,
    private readonly expect: { issuer: string; audience: string } = { issuer: JWT_ISSUER, audience: JWT_AUDIENCE },
  ) {}

  /** Marks a device revoked: its tokens are refused until they could have expired anyway. */
  revoke(userId: string, deviceId: string): void {
    this.revoked.set(`${userId}/${deviceId}`, this.now() + REVOKED_MEMORY_MS);
    if (this.revoked.size > 10_000) this.sweep();
  }

  isRevoked(userId: string, deviceId: string): boolean {
    const until = this.revoked.get(`${userId}/${deviceId}`);
    if (until === undefined) return false;
    if (until < this.now()) {
      this.revoked.delete(`${userId}/${deviceId}`);
      return false;
    }
    return true;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, until] of this.revoked) if (until < t) this.revoked.delete(k);
  }

  private async refresh(force: boolean): Promise<void> {
    if (this.inflight) return this.inflight;
    if (!force && this.keyset) return;
    if (this.keyset && this.now() - this.lastFetch < JWKS_REFETCH_MIN_MS) return;
    this.inflight = (async () => {
      try {
        const jwks = await this.source();
        this.keyset = createLocalJWKSet(jwks);
        this.lastFetch = this.now();
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /** Returns the identity or throws AUTH_TOKEN_INVALID / AUTH_TOKEN_EXPIRED / AUTH_DEVICE_REVOKED. */
  async verify(token: string): Promise<TokenIdentity> {
    await this.refresh(false);
    let id: TokenIdentity;
    try {
      id = await this.verifyOnce(token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw mapJoseError(e);
      await this.refresh(true); // auth may have rotated its key
      try {
        id = await this.verifyOnce(token);
      } catch (e2) {
        throw mapJoseError(e2);
      }
    }
    if (this.isRevoked(id.userId, id.deviceId)) throw new HushError('AUTH_DEVICE_REVOKED');
    return id;
  }

  private async verifyOnce(token: string): Promise<TokenIdentity> {
    if (!this.keyset) throw new HushError('UPSTREAM_UNAVAILABLE', 'No JWKS from auth yet');
    const { payload } = await jwtVerify(token, this.keyset, {
      algorithms: ['EdDSA'],
      issuer: this.expect.issuer,
      audience: this.expect.audience,
      maxTokenAge: MAX_TOKEN_AGE,
      requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      currentDate: new Date(this.now()),
    });
    const { sub, dev, usr, jti, exp, iat } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || typeof dev !== 'string' || typeof jti !== 'string') {
      throw new HushError('AUTH_TOKEN_INVALID', 'The token lacks user or device claims');
    }
    if (typeof exp !== 'number' || typeof iat !== 'number' || exp - iat > MAX_LIFETIME_S) {
      throw new HushError('AUTH_TOKEN_INVALID', 'The token lives longer than 15 minutes');
    }
    return { userId: sub, deviceId: dev, username: typeof usr === 'string' ? usr : '', jti, expiresAt: exp * 1000 };
  }
}

function mapJoseError(e: unknown): HushError {
  if (e instanceof HushError) return e;
  if (e instanceof errors.JWTExpired) return new HushError('AUTH_TOKEN_EXPIRED', undefined, { cause: e });
  return new HushError('AUTH_TOKEN_INVALID', undefined, { cause: e });
}
