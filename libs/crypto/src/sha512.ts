/**
 * Iterated SHA-512 for safety numbers: h = SHA-512(start); then h = SHA-512(h ‖ suffix), `iterations`
 * hashes in all (libsignal's displayable fingerprint: 5200 per side).
 *
 * Why not just @noble/hashes in a loop: SHA-512 works on 64-bit words, which JavaScript must emulate
 * with 32-bit halves (~2 µs a block here), so 2 × 5200 blocks take ~25 ms, 10× libsignal. With a
 * 32-byte suffix every iteration is exactly one block whose padding is constant, so the loop runs
 * inside a ~500-byte WebAssembly function (native i64 arithmetic, FIPS 180-4 §6.4.2) generated below
 * by a few lines of code, with no JS↔Wasm crossing per iteration. Where WebAssembly is unavailable
 * (or a Content-Security-Policy without 'wasm-unsafe-eval' forbids it) the @noble/hashes loop runs
 * instead; tests check both give the same bytes.
 */
import { sha512 } from '@noble/hashes/sha2.js';
import { concat } from './encoding.js';

// ---- constants (FIPS 180-4 §4.2.3, §5.3.5), derived rather than transcribed ----

function firstPrimes(n: number): number[] {
  const out: number[] = [];
  for (let c = 2; out.length < n; c++) if (out.every((p) => c % p !== 0)) out.push(c);
  return out;
}
function iroot(x: bigint, k: bigint): bigint {
  // Newton's method for floor(x^(1/k)).
  let r = 1n << (BigInt(x.toString(2).length) / k + 1n);
  for (;;) {
    const next = ((k - 1n) * r + x / r ** (k - 1n)) / k;
    if (next >= r) return r;
    r = next;
  }
}
const MASK64 = (1n << 64n) - 1n;
/** K: first 64 bits of the fractional parts of the cube roots of the first 80 primes. */
const K = firstPrimes(80).map((p) => iroot(BigInt(p) << 192n, 3n) & MASK64);
/** H(0): first 64 bits of the fractional parts of the square roots of the first 8 primes. */
const IV = firstPrimes(8).map((p) => iroot(BigInt(p) << 128n, 2n) & MASK64);

// ---- the WebAssembly function ----

const K_AT = 0;
const W_AT = 640;
const IV_AT = 1280;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Builds `run(n)`: n times, W[0..7] <- SHA-512 compression of the block W[0..15] from IV. */
function buildModule(): Uint8Array {
  // locals: 0 n (param), 1 t (i32), 2..9 a..h, 10 t1, 11 x (i64)
  const N = 0;
  const T = 1;
  const [A, B, C, D, E, F, G, H] = [2, 3, 4, 5, 6, 7, 8, 9];
  const T1 = 10;
  const X = 11;
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const tee = (i: number) => [0x22, i];
  // Every constant used has bit 6 of its last LEB byte clear, so its unsigned LEB is also its signed one.
  const i32c = (v: number) => [0x41, ...uleb(v)];
  const i64c = (v: number) => [0x42, ...uleb(v)];
  const load = (offset: number) => [0x29, 3, ...uleb(offset)];
  const store = (offset: number) => [0x37, 3, ...uleb(offset)];
  const [add, and, or, xor, shrU, rotr] = [0x7c, 0x83, 0x84, 0x85, 0x88, 0x8a];
  const rot = (v: number, r: number) => [...get(v), ...i64c(r), rotr];
  const code: number[] = [
    0x02,
    0x40,
    0x03,
    0x40, // block, loop
    ...get(N),
    0x45,
    0x0d,
    1, // if n == 0 break
  ];
  // message schedule W[16..79]
  code.push(...i32c(128), ...set(T), 0x03, 0x40);
  code.push(...get(T));
  code.push(
    ...get(T),
    ...load(W_AT - 16),
    ...tee(X),
    ...i64c(19),
    rotr,
    ...rot(X, 61),
    xor,
    ...get(X),
    ...i64c(6),
    shrU,
    xor,
  );
  code.push(...get(T), ...load(W_AT - 56), add);
  code.push(
    ...get(T),
    ...load(W_AT - 120),
    ...tee(X),
    ...i64c(1),
    rotr,
    ...rot(X, 8),
    xor,
    ...get(X),
    ...i64c(7),
    shrU,
    xor,
    add,
  );
  code.push(...get(T), ...load(W_AT - 128), add, ...store(W_AT));
  code.push(...get(T), ...i32c(8), 0x6a, ...tee(T), ...i32c(640), 0x49, 0x0d, 0, 0x0b); // while t < 640
  // a..h = IV
  for (const [i, v] of [A, B, C, D, E, F, G, H].entries()) code.push(...i32c(0), ...load(IV_AT + 8 * i), ...set(v));
  // 80 rounds
  code.push(...i32c(0), ...set(T), 0x03, 0x40);
  // T1 = h + Σ1(e) + Ch(e,f,g) + K[t] + W[t]
  code.push(...get(H), ...rot(E, 14), ...rot(E, 18), xor, ...rot(E, 41), xor, add);
  code.push(...get(G), ...get(E), ...get(F), ...get(G), xor, and, xor, add);
  code.push(...get(T), ...load(K_AT), add, ...get(T), ...load(W_AT), add, ...set(T1));
  // h=g g=f f=e e=d+T1 d=c c=b b=a
  code.push(...get(G), ...set(H), ...get(F), ...set(G), ...get(E), ...set(F));
  code.push(...get(D), ...get(T1), add, ...set(E));
  code.push(...get(C), ...set(D), ...get(B), ...set(C), ...get(A), ...set(B));
  // a = T1 + Σ0(b) + Maj(b,c,d)   (b,c,d now hold the old a,b,c)
  code.push(...get(T1), ...rot(B, 28), ...rot(B, 34), xor, ...rot(B, 39), xor, add);
  code.push(...get(B), ...get(C), ...get(D), or, and, ...get(C), ...get(D), and, or, add, ...set(A));
  code.push(...get(T), ...i32c(8), 0x6a, ...tee(T), ...i32c(640), 0x49, 0x0d, 0, 0x0b);
  // W[i] = IV[i] + var_i (the digest, which is also the next block's first 8 words)
  for (const [i, v] of [A, B, C, D, E, F, G, H].entries()) {
    code.push(...i32c(0), ...i32c(0), ...load(IV_AT + 8 * i), ...get(v), add, ...store(W_AT + 8 * i));
  }
  code.push(...get(N), ...i32c(1), 0x6b, ...set(N), 0x0c, 0, 0x0b, 0x0b, 0x0b);
  const locals = [2, 1, 0x7f, 10, 0x7e]; // 1 x i32, 10 x i64
  const body = [...locals, ...code];
  const func = [...uleb(body.length), ...body];
  const enc = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 1, 0x7f, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [2, ...enc('mem'), 2, 0, ...enc('run'), 0, 0]),
    ...section(10, [1, ...func]),
  ]);
}

interface Engine {
  run(n: number): void;
  view: DataView;
}

let engine: Engine | null | undefined;

function getEngine(): Engine | null {
  if (engine !== undefined) return engine;
  try {
    const mod = new WebAssembly.Module(buildModule() as Uint8Array<ArrayBuffer>);
    const inst = new WebAssembly.Instance(mod, {});
    const mem = inst.exports.mem as WebAssembly.Memory;
    const view = new DataView(mem.buffer);
    for (const [i, k] of K.entries()) view.setBigUint64(K_AT + 8 * i, k, true);
    for (const [i, v] of IV.entries()) view.setBigUint64(IV_AT + 8 * i, v, true);
    engine = { run: inst.exports.run as (n: number) => void, view };
  } catch {
    engine = null; // no WebAssembly, or CSP forbids compiling it
  }
  return engine;
}

/** The portable loop (also the reference the Wasm path is tested against). */
export function iteratedSha512Portable(start: Uint8Array, suffix: Uint8Array, iterations: number): Uint8Array {
  let h = sha512(start);
  for (let i = 1; i < iterations; i++) h = sha512(concat(h, suffix));
  return h;
}

export function iteratedSha512(start: Uint8Array, suffix: Uint8Array, iterations: number): Uint8Array {
  const e = suffix.length === 32 ? getEngine() : null;
  if (!e || iterations < 2) return iteratedSha512Portable(start, suffix, iterations);
  const first = sha512(start);
  const v = e.view;
  const src = new DataView(first.buffer, first.byteOffset, 64);
  const key = new DataView(suffix.buffer, suffix.byteOffset, 32);
  for (let i = 0; i < 8; i++) v.setBigUint64(W_AT + 8 * i, src.getBigUint64(8 * i, false), true);
  for (let i = 0; i < 4; i++) v.setBigUint64(W_AT + 64 + 8 * i, key.getBigUint64(8 * i, false), true);
  // FIPS 180-4 §5.1.2 padding of a 96-byte message: 0x80, zeros, 128-bit length 768.
  v.setBigUint64(W_AT + 96, 0x8000000000000000n, true);
  v.setBigUint64(W_AT + 104, 0n, true);
  v.setBigUint64(W_AT + 112, 0n, true);
  v.setBigUint64(W_AT + 120, 768n, true);
  e.run(iterations - 1);
  const out = new Uint8Array(64);
  const o = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) o.setBigUint64(8 * i, v.getBigUint64(W_AT + 8 * i, true), false);
  return out;
}

/** For tests: whether the WebAssembly path is in use. */
export function sha512Engine(): 'wasm' | 'portable' {
  return getEngine() ? 'wasm' : 'portable';
}
