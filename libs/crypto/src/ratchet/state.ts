/**
 * Double Ratchet state (Double Ratchet §3.2 "State variables") plus what Sesame and X3DH need
 * around it, and its versioned serialisation. Serialised form: JSON, bytes as standard base64,
 * `{"v":1,...}`; anything else is refused with E2E_BAD_STATE.
 */
import { SESSION_STATE_VERSION } from '../constants.js';
import { fromBase64, toBase64 } from '../encoding.js';
import { CryptoError } from '../errors.js';
import type { KeyPair } from '../storage/types.js';

export interface RatchetState {
  /** DHs: our current ratchet key pair. */
  dhSelf: KeyPair;
  /** DHr: the peer's current ratchet public key (null until the first message arrives, for Bob). */
  dhRemote: Uint8Array | null;
  /** RK */
  rootKey: Uint8Array;
  /** CKs / CKr */
  sendChainKey: Uint8Array | null;
  recvChainKey: Uint8Array | null;
  /** Ns, Nr, PN */
  sendN: number;
  recvN: number;
  prevSendN: number;
  /**
   * MKSKIPPED: message keys of messages not yet received, keyed by `${hex(dh)}:${n}`, in insertion
   * order so the oldest are evicted first when MAX_SKIPPED_KEYS_TOTAL is reached.
   */
  skipped: Map<string, Uint8Array>;
  /** Earlier receiving chains (hex of the peer's ratchet key -> last n derived), to name replays. */
  oldChains: Map<string, number>;
}

/** X3DH facts an initiator repeats in every message until the responder answers (X3DH §3.3). */
export interface PendingPrekey {
  signedPrekeyId: number;
  oneTimePrekeyId: number | null;
  baseKey: Uint8Array;
}

export interface SessionState {
  /** Session id = the X3DH ephemeral ("base") public key, the same on both sides (hex). */
  id: string;
  role: 'initiator' | 'responder';
  /** X3DH §3.3 associated data: initiator identity ‖ device key ‖ responder identity ‖ device key. */
  ad: Uint8Array;
  peerIdentityKey: Uint8Array;
  peerDeviceKey: Uint8Array;
  ratchet: RatchetState;
  /** Present on the initiator until the first message from the responder decrypts. */
  pending: PendingPrekey | null;
  /** True once a message from the peer decrypted in this session (both sides hold it). */
  confirmed: boolean;
  createdAt: number;
}

/** All sessions with one peer device; `sessions[0]` is the active one (Sesame §3.1). */
export interface SessionSet {
  sessions: SessionState[];
}

export function cloneRatchet(r: RatchetState): RatchetState {
  return {
    ...r,
    dhSelf: { publicKey: r.dhSelf.publicKey, privateKey: r.dhSelf.privateKey },
    skipped: new Map(r.skipped),
    oldChains: new Map(r.oldChains),
  };
}

export function cloneSession(s: SessionState): SessionState {
  return { ...s, ratchet: cloneRatchet(s.ratchet) };
}

// ---- serialisation ----

type Json = { [k: string]: unknown };
const b = (u: Uint8Array) => toBase64(u);
const nb = (u: Uint8Array | null) => (u === null ? null : toBase64(u));

function ratchetToJson(r: RatchetState): Json {
  return {
    dhs: [b(r.dhSelf.publicKey), b(r.dhSelf.privateKey)],
    dhr: nb(r.dhRemote),
    rk: b(r.rootKey),
    cks: nb(r.sendChainKey),
    ckr: nb(r.recvChainKey),
    ns: r.sendN,
    nr: r.recvN,
    pn: r.prevSendN,
    skipped: [...r.skipped].map(([k, v]) => [k, b(v)]),
    old: [...r.oldChains],
  };
}

function sessionToJson(s: SessionState): Json {
  return {
    id: s.id,
    role: s.role,
    ad: b(s.ad),
    pik: b(s.peerIdentityKey),
    pdk: b(s.peerDeviceKey),
    ratchet: ratchetToJson(s.ratchet),
    pending: s.pending && {
      spk: s.pending.signedPrekeyId,
      opk: s.pending.oneTimePrekeyId,
      base: b(s.pending.baseKey),
    },
    confirmed: s.confirmed,
    createdAt: s.createdAt,
  };
}

export function serializeSessionSet(set: SessionSet): string {
  return JSON.stringify({ v: SESSION_STATE_VERSION, sessions: set.sessions.map(sessionToJson) });
}

function bad(msg: string): never {
  throw new CryptoError('E2E_BAD_STATE', msg);
}
function bytes(v: unknown, len?: number): Uint8Array {
  if (typeof v !== 'string') bad('expected base64');
  const out = fromBase64(v);
  if (len !== undefined && out.length !== len) bad('wrong key length');
  return out;
}
const nbytes = (v: unknown, len?: number) => (v === null ? null : bytes(v, len));
function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad('expected a counter');
  return v;
}

function ratchetFromJson(j: Json): RatchetState {
  const dhs = j.dhs as unknown[];
  if (!Array.isArray(dhs) || dhs.length !== 2) bad('dhs');
  if (!Array.isArray(j.skipped) || !Array.isArray(j.old)) bad('skipped');
  return {
    dhSelf: { publicKey: bytes(dhs[0], 32), privateKey: bytes(dhs[1], 32) },
    dhRemote: nbytes(j.dhr, 32),
    rootKey: bytes(j.rk, 32),
    sendChainKey: nbytes(j.cks, 32),
    recvChainKey: nbytes(j.ckr, 32),
    sendN: int(j.ns),
    recvN: int(j.nr),
    prevSendN: int(j.pn),
    skipped: new Map((j.skipped as [string, string][]).map(([k, v]) => [String(k), bytes(v, 32)])),
    oldChains: new Map((j.old as [string, number][]).map(([k, v]) => [String(k), int(v)])),
  };
}

function sessionFromJson(j: Json): SessionState {
  if (j.role !== 'initiator' && j.role !== 'responder') bad('role');
  const p = j.pending as Json | null;
  return {
    id: String(j.id),
    role: j.role,
    ad: bytes(j.ad),
    peerIdentityKey: bytes(j.pik, 32),
    peerDeviceKey: bytes(j.pdk, 32),
    ratchet: ratchetFromJson(j.ratchet as Json),
    pending: p
      ? {
          signedPrekeyId: int(p.spk),
          oneTimePrekeyId: p.opk === null ? null : int(p.opk),
          baseKey: bytes(p.base, 32),
        }
      : null,
    confirmed: j.confirmed === true,
    createdAt: int(j.createdAt),
  };
}

export function deserializeSessionSet(s: string): SessionSet {
  let j: Json;
  try {
    j = JSON.parse(s) as Json;
  } catch (e) {
    throw new CryptoError('E2E_BAD_STATE', 'Session state is not JSON', { cause: e });
  }
  if (j === null || typeof j !== 'object' || j.v !== SESSION_STATE_VERSION) bad('unknown session state version');
  if (!Array.isArray(j.sessions)) bad('sessions');
  try {
    return { sessions: (j.sessions as Json[]).map(sessionFromJson) };
  } catch (e) {
    if (e instanceof CryptoError && e.code === 'E2E_BAD_STATE') throw e;
    throw new CryptoError('E2E_BAD_STATE', 'Malformed session state', { cause: e });
  }
}
