/**
 * The leaf binding: every MLS leaf's signature key is vouched for by its account's identity key.
 *
 * A leaf's credential (RFC 9420 §5.3, type `basic`) carries, instead of a bare name,
 *   version(1) ‖ lp(userId) ‖ lp(deviceId) ‖ identityKey(32) ‖ signature(64)
 * where `signature` is the account identity's Ed25519 signature over
 *   lp(LABEL_MLS_LEAF) ‖ lp(userId) ‖ lp(deviceId) ‖ leafSignatureKey(32).
 * RFC 9420 §5.3.1 leaves credential validation to the application's Authentication Service; ours
 * (`bindingAuthService`) checks this signature against the leaf's actual signature key and then asks
 * the caller whether `identityKey` is the account's identity and the device is on its signed
 * device list. ts-mls calls it for every leaf of a welcome's tree, every added key package and
 * every committer's new leaf, so the server (which can only route bytes) cannot add a leaf.
 */
import type { AuthenticationService, Credential } from 'ts-mls';
import { concat, equalBytes, lpString } from '../encoding.js';
import { CryptoError } from '../errors.js';
import type { Primitives } from '../primitives/types.js';
import type { IdentityKeyPair } from '../storage/types.js';

export const LABEL_MLS_LEAF = 'hush/sig/mls-leaf/v1';
const BINDING_VERSION = 1;

/** Who a leaf claims to be; trusted only after `verifyLeafBinding`. */
export interface LeafIdentity {
  userId: string;
  deviceId: string;
  /** The account's Ed25519 identity key that signed the binding. */
  identityKey: Uint8Array;
}

/**
 * The caller's word on a verified claim: is `identityKey` the identity it knows for `userId`
 * (keydir + trust on first use or a verified safety number), and is `deviceId` on that account's
 * signed device list? Return false to refuse the leaf.
 */
export type MemberCheck = (leaf: LeafIdentity) => boolean | Promise<boolean>;

export function leafBindingStatement(userId: string, deviceId: string, leafSignatureKey: Uint8Array): Uint8Array {
  return concat(lpString(LABEL_MLS_LEAF), lpString(userId), lpString(deviceId), leafSignatureKey);
}

export async function signLeafBinding(
  prims: Primitives,
  identity: IdentityKeyPair,
  userId: string,
  deviceId: string,
  leafSignatureKey: Uint8Array,
): Promise<Credential> {
  const sig = await prims.ed25519Sign(identity, leafBindingStatement(userId, deviceId, leafSignatureKey));
  return {
    credentialType: 'basic',
    identity: concat(new Uint8Array([BINDING_VERSION]), lpString(userId), lpString(deviceId), identity.publicKey, sig),
  };
}

interface DecodedBinding extends LeafIdentity {
  signature: Uint8Array;
}

function readLp(b: Uint8Array, at: number): [string, number] {
  if (at + 2 > b.length) throw new CryptoError('E2E_GROUP_BAD_CREDENTIAL', 'Truncated leaf binding');
  const len = ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
  const end = at + 2 + len;
  if (end > b.length) throw new CryptoError('E2E_GROUP_BAD_CREDENTIAL', 'Truncated leaf binding');
  const s = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(at + 2, end));
  return [s, end];
}

/** Parses a credential into its claim; throws E2E_GROUP_BAD_CREDENTIAL for anything malformed. */
export function decodeLeafBinding(credential: Credential): DecodedBinding {
  if (credential.credentialType !== 'basic') {
    throw new CryptoError('E2E_GROUP_BAD_CREDENTIAL', 'Leaf credential is not a Hush leaf binding');
  }
  const b = credential.identity;
  if (b.length < 1 || b[0] !== BINDING_VERSION) {
    throw new CryptoError('E2E_GROUP_BAD_CREDENTIAL', 'Unknown leaf binding version');
  }
  const [userId, a] = readLp(b, 1);
  const [deviceId, c] = readLp(b, a);
  if (b.length !== c + 32 + 64) throw new CryptoError('E2E_GROUP_BAD_CREDENTIAL', 'Leaf binding has the wrong length');
  if (userId === '' || deviceId === '') throw new CryptoError('E2E_GROUP_BAD_CREDENTIAL', 'Empty user or device id');
  return { userId, deviceId, identityKey: b.slice(c, c + 32), signature: b.slice(c + 32) };
}

/** Checks the identity's signature over (user, device, leaf key); returns the claim it proves. */
export async function verifyLeafBinding(
  prims: Primitives,
  credential: Credential,
  leafSignatureKey: Uint8Array,
): Promise<LeafIdentity> {
  const d = decodeLeafBinding(credential);
  const ok = await prims.ed25519Verify(
    d.identityKey,
    leafBindingStatement(d.userId, d.deviceId, leafSignatureKey),
    d.signature,
  );
  if (!ok) throw new CryptoError('E2E_GROUP_BAD_CREDENTIAL');
  return { userId: d.userId, deviceId: d.deviceId, identityKey: d.identityKey };
}

/** ts-mls's Authentication Service hook: a leaf is valid iff its binding verifies and the caller accepts it. */
export function bindingAuthService(prims: Primitives, check: MemberCheck): AuthenticationService {
  return {
    async validateCredential(credential, signaturePublicKey) {
      try {
        const leaf = await verifyLeafBinding(prims, credential, signaturePublicKey);
        return await check(leaf);
      } catch (e) {
        if (e instanceof CryptoError) return false;
        throw e;
      }
    },
  };
}

export function sameLeafIdentity(a: LeafIdentity, b: LeafIdentity): boolean {
  return a.userId === b.userId && a.deviceId === b.deviceId && equalBytes(a.identityKey, b.identityKey);
}
