import { VaultHistory } from '../adapters/vault-history.js';
import { Engine } from '../engine/engine.js';
import { MemoryRecordStore } from '../store/records.js';
import { Vault } from '../store/vault.js';
import { FakeCrypto } from './crypto.js';
import { FlakyHistory } from './history.js';
import { FakeHub, type FakeLink, fakeServer } from './hub.js';
import { settle } from './settle.js';

/** One browser: an engine over a real vault (in memory), fake crypto and the fake hub. */
export async function device(hub: FakeHub, records = new MemoryRecordStore(), crypto = new FakeCrypto()) {
  const open = async () => new VaultHistory(await Vault.open(records));
  const history = new FlakyHistory(await open());
  const e = new Engine({ history, crypto, server: fakeServer(hub), reopenHistory: open, clock: hub.clock });
  await e.boot();
  return { e, records, crypto, history };
}

/** Alice and Bob registered and online, Alice with a conversation open to Bob. */
export async function pair() {
  const hub = new FakeHub();
  const a = await device(hub);
  const b = await device(hub);
  await a.e.register('alice', 'password1');
  await b.e.register('bob', 'password2');
  await settle(a.e, b.e);
  const bobId = (await a.e.startChat('bob'))!;
  return { hub, a, b, bobId, aliceId: a.e.state.me!.userId };
}

const key = (e: Engine) => `${e.state.me!.userId}.${e.state.me!.deviceId}`;
export const linkOf = (hub: FakeHub, e: Engine) => hub.links.get(key(e)) as FakeLink;
/** What the gateway still holds for that device (delivered, not acked). */
export const mailboxOf = (hub: FakeHub, e: Engine) => hub.mailboxes.get(key(e)) ?? [];
