/**
 * Backup benchmark (`npm run bench:backup`, also run by `npm run bench`): the web client's backup
 * engine (clients/web/src/engine/backup.ts, with the real codec: JSON, deflate, padding,
 * XChaCha20-Poly1305) against a real gateway and a private nats-server with JetStream, over HTTP.
 * The chat side is the client's in-memory twin (fake hub and crypto), so the figures are the
 * backup's own: a full backup of 10 000 messages, what one new message costs afterwards, and a
 * restore of the whole history into a fresh device. Prints a table; nothing is asserted.
 *
 *   npm run bench:backup -- --messages 10000 --increments 20
 */
import { cpus, loadavg } from 'node:os';
import { HushClient } from '@hush/client';
import type { Session } from '@hush/protocol';
import { backupServer } from '../clients/web/src/adapters/backup.js';
import { VaultHistory } from '../clients/web/src/adapters/vault-history.js';
import type { ChatMessage } from '../clients/web/src/core/model.js';
import type { BackupServer } from '../clients/web/src/engine/backup-ports.js';
import { Engine } from '../clients/web/src/engine/engine.js';
import { MemoryRecordStore } from '../clients/web/src/store/records.js';
import { Vault } from '../clients/web/src/store/vault.js';
import { memoryBackupStore, testCodec } from '../clients/web/src/testing/backup.js';
import { FakeCrypto } from '../clients/web/src/testing/crypto.js';
import { FakeHub, fakeServer } from '../clients/web/src/testing/hub.js';
import { settle } from '../clients/web/src/testing/settle.js';
import { harness } from '../services/gateway/src/test-support.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const MESSAGES = arg('messages', 10_000);
const INCREMENTS = arg('increments', 20);

const WORDS =
  'the a to and of in is it you that for on with this be are have not at we can was what but so do if just about like will get when from my one all your up out there time they know how would me see then now yes here today tomorrow meeting lunch coffee great thanks sounds good okay later call maybe home work train late sorry love weekend plan'.split(
    ' ',
  );
/** Chat-like text of 3-40 words from a fixed seed (compresses like real chat, not like random bytes). */
function text(i: number): string {
  let x = (i * 2654435761) >>> 0;
  const n = 3 + (x % 38);
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    x = (Math.imul(x ^ (x >>> 15), 2246822507) + k) >>> 0;
    out.push(WORDS[x % WORDS.length]!);
  }
  return out.join(' ');
}

async function main() {
  const h = await harness();
  const hub = new FakeHub();
  // The chat runs on the in-memory hub; backup calls go to the real gateway over HTTP, with a token
  // the harness signs for the same (user, device) the hub handed out.
  const gatewayBackup = (s: Session): BackupServer => {
    let real: Promise<BackupServer> | null = null;
    const get = () => {
      real ??= h
        .token(s.userId, s.deviceId, { expSeconds: 600 })
        .then((accessToken) =>
          backupServer(
            new HushClient({ baseUrl: h.url, session: { ...s, accessToken, accessExpiresAt: Date.now() + 600_000 } }),
          ),
        );
      return real;
    };
    return {
      status: async () => (await get()).status(),
      create: async (v) => (await get()).create(v),
      remove: async () => (await get()).remove(),
      claim: async (a) => (await get()).claim(a),
      get: async (a, w) => (await get()).get(a, w),
      put: async (a, w, d) => (await get()).put(a, w, d),
      deleteChunk: async (a, c) => (await get()).deleteChunk(a, c),
    };
  };
  const makeDevice = async () => {
    const records = new MemoryRecordStore();
    const crypto = new FakeCrypto();
    const open = async () => new VaultHistory(await Vault.open(records));
    const base = fakeServer(hub);
    const e = new Engine({
      history: await open(),
      crypto,
      server: (s) => (s ? { ...base(s), backup: gatewayBackup(s) } : base(s)),
      reopenHistory: open,
      clock: hub.clock,
      backup: { codec: testCodec(crypto), store: memoryBackupStore() },
    });
    await e.boot();
    return e;
  };

  const alice = await makeDevice();
  const bob = await makeDevice();
  await alice.register('alice', 'password1');
  await bob.register('bob', 'password1');
  const bobId = (await alice.startChat('bob'))!;
  await settle(alice, bob);

  // 10 000 messages in one conversation, half each way, already delivered and read.
  const t0 = hub.clock.now() - MESSAGES * 60_000;
  const msgs: ChatMessage[] = Array.from({ length: MESSAGES }, (_, i) => ({
    id: `m${String(i).padStart(8, '0')}`,
    conv: bobId,
    dir: i % 2 ? 'in' : 'out',
    text: text(i),
    sentAt: t0 + i * 60_000,
    ts: t0 + i * 60_000 + 40,
    tick: 'read',
    wire: null,
    n: i,
  }));
  alice.store.update((s) => ({ messages: { ...s.messages, [bobId]: msgs } }));
  const plain = msgs.reduce((n, m) => n + JSON.stringify(m).length, 0);

  const b = alice.backup!;
  b.begin();
  const key = b.view.key!;
  b.keyNoted();
  const groups = key.split(' ');
  let t = performance.now();
  if (!(await b.confirm(b.view.ask.map((p) => groups[p - 1]!)))) throw new Error(b.view.error ?? 'confirm failed');
  const fullMs = performance.now() - t;
  const full = b.view.uploaded.last;
  const status = b.view.server!;

  // One new message at a time, each backed up on its own (the worst case: no batching).
  const perMessage: number[] = [];
  const perMessageMs: number[] = [];
  for (let k = 0; k < INCREMENTS; k++) {
    const i = MESSAGES + k;
    const m: ChatMessage = {
      ...msgs[0]!,
      id: `m${String(i).padStart(8, '0')}`,
      text: text(i),
      n: i,
      sentAt: hub.clock.now(),
    };
    alice.store.update((s) => ({ messages: { ...s.messages, [bobId]: [...s.messages[bobId]!, m] } }));
    t = performance.now();
    await b.backupNow();
    perMessageMs.push(performance.now() - t);
    perMessage.push(b.view.uploaded.last);
  }
  // Ten new messages in one run (the background timer batches what arrives within its delay).
  const batch = Array.from({ length: 10 }, (_, k) => ({
    ...msgs[0]!,
    id: `b${k}`,
    text: text(k + 7),
    n: MESSAGES + INCREMENTS + k,
  }));
  alice.store.update((s) => ({ messages: { ...s.messages, [bobId]: [...s.messages[bobId]!, ...batch] } }));
  await b.backupNow();
  const batch10 = b.view.uploaded.last;

  // Restore into a fresh device of the same account.
  const fresh = await makeDevice();
  await fresh.login('alice', 'password1');
  await settle(fresh);
  if (fresh.state.phase !== 'link') throw new Error(`expected the link screen, got ${fresh.state.phase}`);
  t = performance.now();
  if (!(await fresh.backup!.restore(key))) throw new Error(fresh.backup!.view.error ?? 'restore failed');
  const restoreMs = performance.now() - t;
  const restored = fresh.state.messages[bobId]?.length ?? 0;

  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(
    `\nBackup benchmark, ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log(`history: ${MESSAGES} messages, ${kib(plain)} of message JSON\n`);
  console.log('| measure | value |');
  console.log('| --- | --- |');
  console.log(`| full backup: time (turn on → first backup stored) | ${fullMs.toFixed(0)} ms |`);
  console.log(
    `| full backup: bytes uploaded (sealed, as the server stores them) | ${kib(full)} (${((full / plain) * 100).toFixed(1)} % of the JSON) |`,
  );
  console.log(`| server copy after it | ${kib(status.bytes)} in ${status.chunks} chunks + manifest |`);
  console.log(
    `| one new message, backed up alone: bytes uploaded (median of ${INCREMENTS}) | ${med(perMessage)} bytes (chunk + manifest; min ${Math.min(...perMessage)}, max ${Math.max(...perMessage)}) |`,
  );
  console.log(`| one new message, backed up alone: time (median) | ${med(perMessageMs).toFixed(0)} ms |`);
  console.log(
    `| ten new messages in one run: bytes uploaded | ${batch10} bytes (${(batch10 / 10).toFixed(0)} per message) |`,
  );
  console.log(
    `| restore into a fresh device: time (manifest, ${b.view.server?.chunks ?? '?'} chunks, identity, history stored) | ${restoreMs.toFixed(0)} ms |`,
  );
  console.log(`| restored messages | ${restored} |`);
  await h.close();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
