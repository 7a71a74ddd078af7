import { deserializeSessionSet, type SessionSet, serializeSessionSet } from './ratchet/state.js';
import type { Address, CryptoStore } from './storage/types.js';

const addrKey = (a: Address) => `${a.userId}\u0000${a.deviceId}`;

/**
 * The session sets of SessionManager in its store, with a parsed copy of the last state written
 * per peer, reused while the store still holds exactly that JSON (another tab or a restore may
 * have replaced it).
 */
export class SessionRecords {
  private readonly cache = new Map<string, { json: string; set: SessionSet }>();

  constructor(private readonly store: CryptoStore) {}

  async load(peer: Address): Promise<SessionSet> {
    const json = await this.store.loadSessions(peer);
    if (json === undefined) return { sessions: [] };
    const hit = this.cache.get(addrKey(peer));
    if (hit && hit.json === json) return { sessions: [...hit.set.sessions] };
    const set = deserializeSessionSet(json);
    this.cache.set(addrKey(peer), { json, set: { sessions: [...set.sessions] } });
    return set;
  }

  async save(peer: Address, set: SessionSet): Promise<void> {
    const json = serializeSessionSet(set);
    await this.store.storeSessions(peer, json);
    this.cache.set(addrKey(peer), { json, set: { sessions: [...set.sessions] } });
  }

  /** Drops the parsed copy (the caller deletes the stored sessions). */
  forget(peer: Address): void {
    this.cache.delete(addrKey(peer));
  }
}
