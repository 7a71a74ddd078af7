import type { Session } from '@hush/protocol';
import { VaultHistory } from '../adapters/vault-history.js';
import { Engine } from '../engine/engine.js';
import { MemoryRecordStore } from '../store/records.js';
import { Vault } from '../store/vault.js';
import { type FakeBackupServer, memoryBackupStore, testCodec } from './backup.js';
import { FakeCrypto } from './crypto.js';
import { FlakyHistory } from './history.js';
import { FakeHub, type FakeLink, fakeServer } from './hub.js';
import { settle } from './settle.js';

/** One browser: an engine over a real vault (in memory), fake crypto and the fake hub. */
export async function device(
  hub: FakeHub,
  records = new MemoryRecordStore(),
  crypto = new FakeCrypto(),
  backups?: FakeBackupServer,
) {
  const open = async () => new VaultHistory(await Vault.open(records));
  const history = new FlakyHistory(await open());
  const base = fakeServer(hub);
  const server = backups
    ? (s: Session | null) => ({ ...base(s), backup: backups.api(() => s) })
    : (s: Session | null) => base(s);
  const backup = backups ? { codec: testCodec(crypto), store: memoryBackupStore() } : undefined;
  const e = new Engine({
    history,
    crypto,
    server,
    reopenHistory: open,
    clock: hub.clock,
    ...(backup ? { backup } : {}),
  });
  await e.boot();
  return { e, records, crypto, history };
}

/** Alice and Bob registered and online, Alice with a conversation open to Bob. */
export async function pair(backups?: FakeBackupServer) {
  const hub = new FakeHub();
  const a = await device(hub, undefined, undefined, backups);
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
