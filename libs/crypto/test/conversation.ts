/** A two-party conversation over an unreliable network, for property tests. */
import { expect } from 'vitest';
import { isCryptoError, type Primitives, type RatchetLimits } from '../src/index.js';
import { bundleFor, FakeKeyDir, makeDevice, type TestDevice } from './helpers.js';

export interface InFlight {
  id: number;
  from: 'A' | 'B';
  ct: Uint8Array;
  pt: Uint8Array;
}

export class Conversation {
  readonly keydir = new FakeKeyDir();
  A!: TestDevice;
  B!: TestDevice;
  inFlight: InFlight[] = [];
  readonly delivered = new Set<number>();
  private next = 0;
  private started = false;

  static async create(prims: Primitives, seed: string, limits?: Partial<RatchetLimits>): Promise<Conversation> {
    const c = new Conversation();
    const opts = limits ? { limits } : {};
    c.A = await makeDevice(prims, c.keydir, 'aliceuser01', 'adev01', { seed: `${seed}/a`, ...opts });
    c.B = await makeDevice(prims, c.keydir, 'bobuser0001', 'bdev01', { seed: `${seed}/b`, ...opts });
    return c;
  }

  private pair(who: 'A' | 'B') {
    return who === 'A' ? { me: this.A, peer: this.B } : { me: this.B, peer: this.A };
  }

  /** Encrypts one message; Bob can only answer once he holds a session. Returns it (also in flight). */
  async send(who: 'A' | 'B'): Promise<InFlight | undefined> {
    const { me, peer } = this.pair(who);
    if (!(await me.manager.hasSession(peer.address))) {
      if (who === 'B' || this.started) return undefined;
    }
    const id = this.next++;
    const pt = new TextEncoder().encode(`${who} says #${id}`);
    const bundle = who === 'A' && !this.started ? await bundleFor(me, this.keydir, peer.address) : undefined;
    const ct = await me.manager.encrypt(peer.address, pt, bundle);
    if (who === 'A') this.started = true;
    const m = { id, from: who, ct, pt };
    this.inFlight.push(m);
    return m;
  }

  /** Delivers `m` to its recipient; returns the plaintext or the refusal. */
  async deliver(m: InFlight): Promise<{ ok: true; pt: Uint8Array } | { ok: false; error: unknown }> {
    const { me, peer } = this.pair(m.from);
    try {
      const r = await peer.manager.decrypt(me.address, m.ct);
      return { ok: true, pt: r.plaintext };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /**
   * Delivers and checks the exactly-once rule: the first delivery of a message yields its plaintext;
   * every later one is refused with a CryptoError and leaves the recipient's stored state unchanged.
   */
  async deliverChecked(m: InFlight): Promise<void> {
    const { me, peer } = this.pair(m.from);
    const before = await peer.store.loadSessions(me.address);
    const r = await this.deliver(m);
    if (this.delivered.has(m.id)) {
      expect(r.ok, `message ${m.id} decrypted twice`).toBe(false);
      if (!r.ok) expect(isCryptoError(r.error), String(r.error)).toBe(true);
      expect(await peer.store.loadSessions(me.address)).toBe(before);
    } else {
      if (!r.ok) throw new Error(`message ${m.id} from ${m.from} refused: ${String(r.error)}`);
      expect(new TextDecoder().decode(r.pt)).toBe(new TextDecoder().decode(m.pt));
      this.delivered.add(m.id);
    }
  }
}
