/**
 * The Double Ratchet (Signal's Double Ratchet specification, §3.3-§3.5, with the skipped-key
 * handling of §3.5 and the limits of §4). Functions mutate the state they are given: callers pass a
 * clone and keep it only when decryption succeeded, so a refused message leaves state unchanged.
 */
import { aeadDecrypt, aeadEncrypt } from '../aead.js';
import { MAX_OLD_CHAINS, MAX_SKIP_PER_CHAIN, MAX_SKIPPED_KEYS_TOTAL, XCHACHA_NONCE_BYTES } from '../constants.js';
import { concat, toHex } from '../encoding.js';
import { CryptoError } from '../errors.js';
import { kdfChain, kdfRoot, messageKey } from '../kdf.js';
import { generateX25519KeyPair } from '../keys.js';
import type { Primitives, RandomBytes } from '../primitives/types.js';
import type { KeyPair } from '../storage/types.js';
import { encodeHeader, type ParsedMessage, type PrekeyInfo } from './message.js';
import type { RatchetState } from './state.js';

export interface RatchetLimits {
  /** MAX_SKIP of §4 (per receiving chain). */
  maxSkipPerChain: number;
  /** Bound on stored skipped keys across chains (oldest evicted first). */
  maxSkippedTotal: number;
}

export const DEFAULT_LIMITS: RatchetLimits = {
  maxSkipPerChain: MAX_SKIP_PER_CHAIN,
  maxSkippedTotal: MAX_SKIPPED_KEYS_TOTAL,
};

/**
 * §3.3 RatchetInitAlice: Alice knows Bob's signed prekey, which is his first ratchet key.
 * `first` is her first ratchet key pair and DH(first, SPK_B), computed alongside X3DH's DHs.
 */
export function initInitiator(
  sharedKey: Uint8Array,
  remoteRatchetKey: Uint8Array,
  first: { keyPair: KeyPair; dh: Uint8Array },
): RatchetState {
  const { rootKey, chainKey } = kdfRoot(sharedKey, first.dh);
  return {
    dhSelf: first.keyPair,
    dhRemote: remoteRatchetKey,
    rootKey,
    sendChainKey: chainKey,
    recvChainKey: null,
    sendN: 0,
    recvN: 0,
    prevSendN: 0,
    skipped: new Map(),
    oldChains: new Map(),
  };
}

/** A fresh ratchet key pair and its DH with the peer's ratchet key. */
export async function ratchetKeyAndDh(
  prims: Primitives,
  randomBytes: RandomBytes,
  remoteRatchetKey: Uint8Array,
): Promise<{ keyPair: KeyPair; dh: Uint8Array }> {
  const keyPair = await generateX25519KeyPair(prims, randomBytes);
  return { keyPair, dh: await prims.x25519(keyPair, remoteRatchetKey) };
}

/** §3.3 RatchetInitBob: Bob's first ratchet key pair is his signed prekey. */
export function initResponder(sharedKey: Uint8Array, signedPrekey: KeyPair): RatchetState {
  return {
    dhSelf: signedPrekey,
    dhRemote: null,
    rootKey: sharedKey,
    sendChainKey: null,
    recvChainKey: null,
    sendN: 0,
    recvN: 0,
    prevSendN: 0,
    skipped: new Map(),
    oldChains: new Map(),
  };
}

/**
 * §3.4 RatchetEncrypt. `prekey` is repeated in the header while the session is unconfirmed. The
 * 24-byte XChaCha20 nonce is fresh randomness, so even a message key used twice (state restored
 * from a backup, or opened in two tabs) never meets the same nonce twice.
 */
export function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array,
  ad: Uint8Array,
  prekey: PrekeyInfo | null,
  randomBytes: RandomBytes,
): Uint8Array {
  if (!state.sendChainKey) throw new CryptoError('E2E_SESSION_NOT_FOUND', 'This session cannot send yet');
  const { chainKey, messageKey: mk } = kdfChain(state.sendChainKey);
  const nonce = randomBytes(XCHACHA_NONCE_BYTES);
  const headerBytes = encodeHeader({ dh: state.dhSelf.publicKey, pn: state.prevSendN, n: state.sendN }, prekey, nonce);
  state.sendChainKey = chainKey;
  state.sendN += 1;
  const key = messageKey(mk);
  const ct = aeadEncrypt(key, nonce, plaintext, concat(ad, headerBytes));
  mk.fill(0);
  key.fill(0);
  return concat(headerBytes, ct);
}

function decryptWith(mk: Uint8Array, msg: ParsedMessage, ad: Uint8Array): Uint8Array {
  const key = messageKey(mk);
  try {
    return aeadDecrypt(key, msg.nonce, msg.ciphertext, concat(ad, msg.headerBytes));
  } finally {
    key.fill(0);
  }
}

/**
 * §3.5 SkipMessageKeys. Strict (the current chain): more than maxSkipPerChain keys to derive is
 * refused with E2E_TOO_MANY_SKIPPED. Lenient (closing the previous chain on a DH step): derive at
 * most maxSkipPerChain and give up on the rest, so one burst of lost messages cannot wedge the
 * session forever (libsignal behaves alike by bounding work per chain).
 */
function skipMessageKeys(state: RatchetState, until: number, limits: RatchetLimits, lenient: boolean): void {
  if (!state.recvChainKey || !state.dhRemote) return;
  if (until - state.recvN > limits.maxSkipPerChain) {
    if (!lenient) throw new CryptoError('E2E_TOO_MANY_SKIPPED');
    until = state.recvN + limits.maxSkipPerChain;
  }
  const prefix = `${toHex(state.dhRemote)}:`;
  let ck = state.recvChainKey;
  while (state.recvN < until) {
    const { chainKey, messageKey: mk } = kdfChain(ck);
    state.skipped.set(prefix + state.recvN, mk);
    ck = chainKey;
    state.recvN += 1;
    if (state.skipped.size > limits.maxSkippedTotal) state.skipped.delete(state.skipped.keys().next().value!);
  }
  state.recvChainKey = ck;
}

/** §3.5 DHRatchet. */
async function dhRatchet(
  prims: Primitives,
  randomBytes: RandomBytes,
  state: RatchetState,
  remoteRatchetKey: Uint8Array,
): Promise<void> {
  if (state.dhRemote) {
    state.oldChains.set(toHex(state.dhRemote), state.recvN);
    if (state.oldChains.size > MAX_OLD_CHAINS) state.oldChains.delete(state.oldChains.keys().next().value!);
  }
  state.prevSendN = state.sendN;
  state.sendN = 0;
  state.recvN = 0;
  state.dhRemote = remoteRatchetKey;
  // Both DHs at once: DH(DHs, DHr) and DH(new DHs, DHr) are independent (only the KDF chain is serial).
  const nextPair = generateX25519KeyPair(prims, randomBytes);
  const [recvDh, [next, sendDh]] = await Promise.all([
    prims.x25519(state.dhSelf, remoteRatchetKey),
    nextPair.then(async (k) => [k, await prims.x25519(k, remoteRatchetKey)] as const),
  ]);
  const r1 = kdfRoot(state.rootKey, recvDh);
  state.recvChainKey = r1.chainKey;
  state.dhSelf = next;
  const r2 = kdfRoot(r1.rootKey, sendDh);
  state.rootKey = r2.rootKey;
  state.sendChainKey = r2.chainKey;
}

/** §3.5 RatchetDecrypt, plus replay detection (E2E_DUPLICATE_MESSAGE). */
export async function ratchetDecrypt(
  prims: Primitives,
  randomBytes: RandomBytes,
  state: RatchetState,
  msg: ParsedMessage,
  ad: Uint8Array,
  limits: RatchetLimits = DEFAULT_LIMITS,
): Promise<Uint8Array> {
  const { header } = msg;
  const dhHex = toHex(header.dh);
  const skippedId = `${dhHex}:${header.n}`;
  const skippedKey = state.skipped.get(skippedId);
  if (skippedKey) {
    const pt = decryptWith(skippedKey, msg, ad);
    state.skipped.delete(skippedId); // §3.5: a skipped key is deleted once used
    return pt;
  }
  const current = state.dhRemote !== null && dhHex === toHex(state.dhRemote);
  if (!current) {
    const oldLast = state.oldChains.get(dhHex);
    if (oldLast !== undefined) {
      // A closed chain whose key for n is gone: used already, or never derived (beyond the bound).
      throw new CryptoError(header.n < oldLast ? 'E2E_DUPLICATE_MESSAGE' : 'E2E_TOO_MANY_SKIPPED');
    }
    // Bound the work an unauthenticated header can cause before doing any DH.
    if (header.n > limits.maxSkipPerChain) throw new CryptoError('E2E_TOO_MANY_SKIPPED');
    skipMessageKeys(state, header.pn, limits, true);
    await dhRatchet(prims, randomBytes, state, header.dh);
  } else if (header.n < state.recvN) {
    throw new CryptoError('E2E_DUPLICATE_MESSAGE');
  }
  skipMessageKeys(state, header.n, limits, false);
  const { chainKey, messageKey: mk } = kdfChain(state.recvChainKey!);
  state.recvChainKey = chainKey;
  state.recvN += 1;
  return decryptWith(mk, msg, ad);
}
