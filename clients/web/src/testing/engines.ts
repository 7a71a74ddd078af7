/** Engines over the fake hub and fake crypto, and a way to let them settle: the engine's unit tests share these. */
import { expect } from 'vitest';
import { VaultHistory } from '../adapters/vault-history.js';
import type { Conversation } from '../core/model.js';
import { Engine } from '../engine/engine.js';
import { MemoryRecordStore } from '../store/records.js';
import { Vault } from '../store/vault.js';
import { FakeCrypto } from './crypto.js';
import { FakeHub, type FakeLink, fakeServer } from './hub.js';

export async function device(hub: FakeHub, records = new MemoryRecordStore(), crypto = new FakeCrypto()) {
  const open = async () => new VaultHistory(await Vault.open(records));
  const e = new Engine({
    history: await open(),
    crypto,
    server: fakeServer(hub),
    reopenHistory: open,
    clock: hub.clock,
  });
  await e.boot();
  return { e, records, crypto };
}

/**
 * Runs every engine until nothing moves: each round waits for their queued and background work,
 * then lets the fake hub's deliveries (microtasks) land; done when a whole round changed no state.
 * Event-driven: no wall-clock waits.
 */
export async function settle(...engines: Engine[]): Promise<void> {
  for (let round = 0; round < 200; round++) {
    const before = engines.map((e) => e.state);
    await Promise.all(engines.map((e) => e.idle()));
    await new Promise((r) => setImmediate(r));
    await Promise.all(engines.map((e) => e.idle()));
    if (engines.every((e, i) => e.state === before[i])) return;
  }
  throw new Error('the engines never settled');
}

export const conv = (e: Engine, peer: string): Conversation => {
  const c = e.state.conversations.find((x) => x.peer === peer);
  if (!c) throw new Error(`no conversation with ${peer}`);
  return c;
};

export async function pair() {
  const hub = new FakeHub();
  const a = await device(hub);
  const b = await device(hub);
  await a.e.register('alice', 'password1');
  await b.e.register('bob', 'password2');
  await settle(a.e, b.e);
  expect([a.e.state.connection, b.e.state.connection]).toEqual(['online', 'online']);
  const bobId = (await a.e.startChat('bob'))!;
  return { hub, a, b, bobId, aliceId: a.e.state.me!.userId };
}

export const linkOf = (hub: FakeHub, e: Engine) =>
  hub.links.get(`${e.state.me!.userId}.${e.state.me!.deviceId}`) as FakeLink;
