/**
 * Seeded mutators for the fuzz test: byte-level (flip, insert, delete, truncate, splice) and
 * structure-aware (a JSON value of the wrong type, size or depth in a random place). Seeded so
 * that a failure names the seed and input number that reproduce it.
 */

/** mulberry32: a small, fast, seedable PRNG (not for secrets). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Mutator {
  constructor(readonly next: () => number) {}

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** A JSON value of any type, including the awkward ones (huge, negative, deep, unicode). */
  value(depth = 0): unknown {
    switch (this.int(depth > 3 ? 9 : 12)) {
      case 0:
        return null;
      case 1:
        return this.next() < 0.5;
      case 2:
        return this.pick([0, -1, 1, 2 ** 53, -(2 ** 63), 1e308, 0.5, Number.MAX_SAFE_INTEGER + 2]);
      case 3:
        return '';
      case 4:
        return 'A'.repeat(this.pick([1, 3, 4, 63, 64, 65, 1000, 20_000]));
      case 5:
        return this.pick(['\u0000', '\ud800', '😀', '../../etc/passwd', '%00', '$ne', '__proto__', '<script>']);
      case 6:
        return this.pick(['hello', 'send', 'ack', 'ping', 'presence.sub', 'constructor', 'toString']);
      case 7:
        return 'a'.repeat(this.pick([10, 12, 20, 21])); // id-shaped
      case 8:
        return this.int(1_000_000);
      case 9:
        return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      case 10:
        return Object.fromEntries(
          Array.from({ length: this.int(4) }, () => [
            this.pick(['type', 'id', 'x', '__proto__']),
            this.value(depth + 1),
          ]),
        );
      default:
        return JSON.parse(`${'['.repeat(50)}${']'.repeat(50)}`);
    }
  }

  /** Replaces, removes or adds one field somewhere inside a JSON object. */
  structural(seed: unknown): unknown {
    const copy = structuredClone(seed) as Record<string, unknown>;
    const paths: (Record<string, unknown> | unknown[])[] = [];
    const walk = (v: unknown) => {
      if (v && typeof v === 'object') {
        paths.push(v as Record<string, unknown>);
        for (const x of Object.values(v)) walk(x);
      }
    };
    walk(copy);
    const target = this.pick(paths);
    const keys = Object.keys(target);
    const op = this.int(3);
    if (op === 0 && keys.length > 0) (target as Record<string, unknown>)[this.pick(keys)] = this.value();
    else if (op === 1 && keys.length > 0) delete (target as Record<string, unknown>)[this.pick(keys)];
    else (target as Record<string, unknown>)[this.pick(['extra', 'type', 'id', '0'])] = this.value();
    return copy;
  }

  /** Byte-level damage to a text. */
  bytes(text: string): string {
    const b = [...text];
    switch (this.int(6)) {
      case 0: {
        const i = this.int(b.length + 1);
        b.splice(i, 0, String.fromCharCode(this.int(128)));
        break;
      }
      case 1:
        b.splice(this.int(b.length), 1 + this.int(8));
        break;
      case 2:
        b.length = this.int(b.length);
        break;
      case 3: {
        const i = this.int(b.length);
        b[i] = this.pick(['"', '{', '}', '[', ']', ',', ':', '\\', '0', ' ', 'x']);
        break;
      }
      case 4: {
        const i = this.int(b.length);
        b.splice(i, 0, ...b.slice(this.int(b.length), this.int(b.length)));
        break;
      }
      default:
        return this.pick(['', ' ', 'null', '[]', '""', '0', 'true', '{}', '{"type":null}', '\u0000']);
    }
    return b.join('');
  }

  /** One mutated text from a seed object: structural, byte-level, or both. */
  mutate(seed: unknown): string {
    const r = this.int(3);
    if (r === 0) return JSON.stringify(this.structural(seed));
    if (r === 1) return this.bytes(JSON.stringify(seed));
    return this.bytes(JSON.stringify(this.structural(seed)));
  }
}
