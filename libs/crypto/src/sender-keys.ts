/**
 * Sender Keys for groups (Signal's "sender key" construction, as libsignal's `group_cipher`): each
 * member has one sending chain per group — a chain key ratcheted with the Double Ratchet's KDF_CK and
 * an Ed25519 signing key — handed to the other members in a distribution message sent over the
 * pairwise sessions (SessionManager.encrypt). A group message is then encrypted once for everyone
 * and signed, so members can tell which member sent it. When a member leaves, the others rotate
 * (`rotate`) and send new distribution messages to the remaining members only.
 *
 * Distribution message: version(1)=1 ‖ type(1)=3 ‖ lp(groupId) ‖ chainId(u32) ‖ iteration(u32)
 *                       ‖ chainKey(32) ‖ signingKey(32)
 * Group message:        version(1)=2 ‖ type(1)=4 ‖ lp(groupId) ‖ chainId(u32) ‖ iteration(u32)
 *                       ‖ nonce(24) ‖ ciphertext+tag ‖ Ed25519 signature(64) over every preceding byte
 * The AEAD key comes from the message key by HKDF ("hush/sender-key-message/v2"); the nonce is
 * random (a restored chain state must not repeat key and nonce); the AEAD's associated data is the
 * header with the nonce (every byte before the ciphertext).
 */
import { aeadDecrypt, aeadEncrypt } from './aead.js';
import { AEAD_TAG_BYTES, MAX_SKIP_PER_CHAIN, MESSAGE_VERSION, XCHACHA_NONCE_BYTES } from './constants.js';
import { concat, fromBase64, fromUtf8, lpString, toBase64, u32be } from './encoding.js';
import { CryptoError } from './errors.js';
import { hkdfSha256, kdfChain } from './kdf.js';
import { pad, unpad } from './padding.js';
import type { Primitives, RandomBytes } from './primitives/types.js';
import type { Address } from './storage/types.js';

export const TYPE_SENDER_KEY_DISTRIBUTION = 3;
export const TYPE_SENDER_KEY_MESSAGE = 4;
const LABEL_SENDER_KEY_MESSAGE = new TextEncoder().encode('hush/sender-key-message/v2');
/** Chains kept per (group, sender): messages sent just before a rotation still decrypt. */
export const MAX_SENDER_KEY_CHAINS = 5;
/** Skipped message keys kept per chain (out-of-order group messages). */
export const MAX_SENDER_KEY_SKIPPED = 200;

/** Where sender-key state lives: one opaque string per (group, sender device). */
export interface SenderKeyStore {
  loadSenderKeys(groupId: string, sender: Address): Promise<string | undefined>;
  storeSenderKeys(groupId: string, sender: Address, serialized: string): Promise<void>;
}

interface Chain {
  chainId: number;
  iteration: number;
  chainKey: Uint8Array;
  signingPublic: Uint8Array;
  /** Present only on our own sending chain. */
  signingSeed?: Uint8Array;
  skipped: Map<number, Uint8Array>;
}

function toJson(chains: Chain[]): string {
  return JSON.stringify({
    v: 1,
    chains: chains.map((c) => ({
      id: c.chainId,
      it: c.iteration,
      ck: toBase64(c.chainKey),
      pub: toBase64(c.signingPublic),
      seed: c.signingSeed ? toBase64(c.signingSeed) : null,
      skipped: [...c.skipped].map(([i, k]) => [i, toBase64(k)]),
    })),
  });
}

function fromJson(s: string | undefined): Chain[] {
  if (s === undefined) return [];
  try {
    const j = JSON.parse(s) as { v: number; chains: Record<string, unknown>[] };
    if (j.v !== 1) throw new Error('version');
    return j.chains.map((c) => ({
      chainId: c.id as number,
      iteration: c.it as number,
      chainKey: fromBase64(c.ck as string),
      signingPublic: fromBase64(c.pub as string),
      ...(c.seed ? { signingSeed: fromBase64(c.seed as string) } : {}),
      skipped: new Map((c.skipped as [number, string][]).map(([i, k]) => [i, fromBase64(k)])),
    }));
  } catch (e) {
    throw new CryptoError('E2E_BAD_STATE', 'Malformed sender-key state', { cause: e });
  }
}

function header(type: number, groupId: string, chainId: number, iteration: number): Uint8Array {
  return concat(new Uint8Array([MESSAGE_VERSION, type]), lpString(groupId), u32be(chainId), u32be(iteration));
}

function parseHeader(
  b: Uint8Array,
  type: number,
): { groupId: string; chainId: number; iteration: number; end: number } {
  if (b.length < 12 || b[0] !== MESSAGE_VERSION || b[1] !== type) throw new CryptoError('E2E_BAD_MESSAGE');
  const len = (b[2]! << 8) | b[3]!;
  const end = 4 + len + 8;
  if (b.length < end) throw new CryptoError('E2E_BAD_MESSAGE');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let groupId: string;
  try {
    groupId = fromUtf8(b.subarray(4, 4 + len));
  } catch (e) {
    throw new CryptoError('E2E_BAD_MESSAGE', undefined, { cause: e });
  }
  return { groupId, chainId: dv.getUint32(4 + len), iteration: dv.getUint32(8 + len), end };
}

function groupMessageKey(mk: Uint8Array): Uint8Array {
  return hkdfSha256(mk, new Uint8Array(32), LABEL_SENDER_KEY_MESSAGE, 32);
}

export class GroupCipher {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(
    private readonly opts: { primitives: Primitives; store: SenderKeyStore; randomBytes: RandomBytes; self: Address },
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async newChain(): Promise<Chain> {
    const seed = this.opts.randomBytes(32);
    const id = new DataView(this.opts.randomBytes(4).buffer).getUint32(0);
    return {
      chainId: id,
      iteration: 0,
      chainKey: this.opts.randomBytes(32),
      signingSeed: seed,
      signingPublic: await this.opts.primitives.ed25519PublicKey(seed),
      skipped: new Map(),
    };
  }

  private async own(groupId: string, rotate: boolean): Promise<Chain> {
    const chains = fromJson(await this.opts.store.loadSenderKeys(groupId, this.opts.self));
    if (chains[0] && !rotate) return chains[0];
    const c = await this.newChain();
    await this.opts.store.storeSenderKeys(groupId, this.opts.self, toJson([c]));
    return c;
  }

  private static distribution(groupId: string, c: Chain): Uint8Array {
    return concat(header(TYPE_SENDER_KEY_DISTRIBUTION, groupId, c.chainId, c.iteration), c.chainKey, c.signingPublic);
  }

  /** Our distribution message for the group (creating our chain on first use); send it pairwise. */
  distributionMessage(groupId: string): Promise<Uint8Array> {
    return this.serial(async () => GroupCipher.distribution(groupId, await this.own(groupId, false)));
  }

  /** A new sending chain (a member left): send the result pairwise to the remaining members only. */
  rotate(groupId: string): Promise<Uint8Array> {
    return this.serial(async () => GroupCipher.distribution(groupId, await this.own(groupId, true)));
  }

  /** Stores a member's chain from a distribution message that arrived over our pairwise session. */
  processDistribution(from: Address, message: Uint8Array): Promise<{ groupId: string }> {
    return this.serial(async () => {
      const h = parseHeader(message, TYPE_SENDER_KEY_DISTRIBUTION);
      if (message.length !== h.end + 64) throw new CryptoError('E2E_BAD_MESSAGE');
      const chain: Chain = {
        chainId: h.chainId,
        iteration: h.iteration,
        chainKey: message.slice(h.end, h.end + 32),
        signingPublic: message.slice(h.end + 32, h.end + 64),
        skipped: new Map(),
      };
      const chains = fromJson(await this.opts.store.loadSenderKeys(h.groupId, from)).filter(
        (c) => c.chainId !== chain.chainId,
      );
      const next = [chain, ...chains].slice(0, MAX_SENDER_KEY_CHAINS);
      await this.opts.store.storeSenderKeys(h.groupId, from, toJson(next));
      return { groupId: h.groupId };
    });
  }

  /** Encrypts once for the whole group. */
  encrypt(groupId: string, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.serial(async () => {
      const c = await this.own(groupId, false);
      const { chainKey, messageKey } = kdfChain(c.chainKey);
      const head = concat(
        header(TYPE_SENDER_KEY_MESSAGE, groupId, c.chainId, c.iteration),
        this.opts.randomBytes(XCHACHA_NONCE_BYTES),
      );
      const key = groupMessageKey(messageKey);
      const body = concat(
        head,
        aeadEncrypt(key, head.subarray(head.length - XCHACHA_NONCE_BYTES), pad(plaintext), head),
      );
      key.fill(0);
      const signature = await this.opts.primitives.ed25519Sign(
        { seed: c.signingSeed!, publicKey: c.signingPublic },
        body,
      );
      const chains = fromJson(await this.opts.store.loadSenderKeys(groupId, this.opts.self));
      chains[0] = { ...c, chainKey, iteration: c.iteration + 1 };
      await this.opts.store.storeSenderKeys(groupId, this.opts.self, toJson(chains));
      return concat(body, signature);
    });
  }

  /** Verifies the sender's signature, then decrypts; refusals are typed and change no state. */
  decrypt(from: Address, message: Uint8Array): Promise<{ groupId: string; plaintext: Uint8Array }> {
    return this.serial(async () => {
      const h = parseHeader(message, TYPE_SENDER_KEY_MESSAGE);
      const end = h.end + XCHACHA_NONCE_BYTES;
      if (message.length < end + AEAD_TAG_BYTES + 64) throw new CryptoError('E2E_BAD_MESSAGE');
      const chains = fromJson(await this.opts.store.loadSenderKeys(h.groupId, from));
      const i = chains.findIndex((c) => c.chainId === h.chainId);
      if (i < 0) throw new CryptoError('E2E_SESSION_NOT_FOUND', 'No sender key for that chain');
      const c = { ...chains[i]!, skipped: new Map(chains[i]!.skipped) };
      const body = message.subarray(0, message.length - 64);
      const ok = await this.opts.primitives.ed25519Verify(c.signingPublic, body, message.subarray(message.length - 64));
      if (!ok) throw new CryptoError('E2E_BAD_SIGNATURE', 'The group message is not signed by its sender');
      let mk = c.skipped.get(h.iteration);
      if (mk) c.skipped.delete(h.iteration);
      else {
        if (h.iteration < c.iteration) throw new CryptoError('E2E_DUPLICATE_MESSAGE');
        if (h.iteration - c.iteration > MAX_SKIP_PER_CHAIN) throw new CryptoError('E2E_TOO_MANY_SKIPPED');
        let ck = c.chainKey;
        for (let it = c.iteration; it < h.iteration; it++) {
          const s = kdfChain(ck);
          c.skipped.set(it, s.messageKey);
          if (c.skipped.size > MAX_SENDER_KEY_SKIPPED) c.skipped.delete(c.skipped.keys().next().value!);
          ck = s.chainKey;
        }
        const s = kdfChain(ck);
        mk = s.messageKey;
        c.chainKey = s.chainKey;
        c.iteration = h.iteration + 1;
      }
      const key = groupMessageKey(mk);
      const plaintext = unpad(aeadDecrypt(key, body.subarray(h.end, end), body.subarray(end), body.subarray(0, end)));
      key.fill(0);
      chains[i] = c;
      await this.opts.store.storeSenderKeys(h.groupId, from, toJson(chains));
      return { groupId: h.groupId, plaintext };
    });
  }
}
