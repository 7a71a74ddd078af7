import { describe, expect, it } from 'vitest';
import { FakeBackupServer } from '../testing/backup.js';
import { device, pair } from '../testing/engines.js';
import { settle } from '../testing/settle.js';
import type { Backup } from './backup.js';
import type { Engine } from './engine.js';

/** Waits for a condition reached through async work (polled, not timed). */
const until = async (cond: () => boolean, what: string, ...engines: Engine[]) => {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await settle(...engines);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
};

/** "Turn on backup": the key shown once, the asked groups typed back. Returns the key as written down. */
async function turnOn(b: Backup): Promise<string> {
  b.begin();
  const key = b.view.key!;
  expect(key).toMatch(/^([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
  b.keyNoted();
  expect(b.view.ask).toHaveLength(3);
  const groups = key.split(' ');
  expect(await b.confirm(b.view.ask.map(() => 'zzzz'))).toBe(false);
  expect(b.view.error).toMatch(/do not match/);
  expect(await b.confirm(b.view.ask.map((p) => groups[p - 1]!))).toBe(true);
  expect(b.view.key).toBeNull();
  return key;
}

describe('engine encrypted backup', () => {
  it('backs up everything once, then only what changed: a new message uploads one small chunk and the manifest', async () => {
    const server = new FakeBackupServer();
    const { hub, a, b, bobId } = await pair(server);
    for (let i = 0; i < 40; i++) await a.e.send(bobId, `message ${i} ${'x'.repeat(100)}`);
    await settle(a.e, b.e);
    const backup = a.e.backup!;
    await turnOn(backup);
    expect(backup.view.stage).toBe('on');
    expect(backup.view.lastBackupAt).toBe(hub.clock.now());
    const full = server.uploads.length;
    expect(full).toBeGreaterThanOrEqual(2);

    await a.e.send(bobId, 'one more');
    await settle(a.e, b.e);
    server.uploads.length = 0;
    hub.clock.advance(10_000); // the background timer
    await until(() => server.uploads.some((u) => u.name === 'manifest'), 'background run', a.e, b.e);
    await a.e.idle();
    const names = server.uploads.map((u) => u.name.split(':')[0]);
    expect(names.filter((n) => n === 'chunk')).toHaveLength(1);
    expect(names.filter((n) => n === 'manifest')).toHaveLength(1);
    // One message (and its conversation's new last line) padded to 1 KiB, plus the manifest: base64 of ~2 KiB.
    expect(server.uploads.reduce((n, u) => n + u.bytes, 0)).toBeLessThan(4 * 1400);
    // Nothing changed: a run uploads nothing.
    server.uploads.length = 0;
    await backup.backupNow();
    expect(server.uploads).toEqual([]);
  });

  it('restores on a new browser: the same identity, history and verification, and takes over writing the backup', async () => {
    const server = new FakeBackupServer();
    const { hub, a, b, bobId } = await pair(server);
    await a.e.send(bobId, 'before the loss');
    await settle(a.e, b.e);
    await a.e.markVerified(bobId);
    const key = await turnOn(a.e.backup!);

    const a2 = await device(hub, undefined, undefined, server);
    await a2.e.login('alice', 'password1');
    expect(a2.e.state.phase).toBe('link');
    const r = a2.e.backup!;
    expect(await r.restore('not a key')).toBe(false);
    expect(r.view.error).toMatch(/not a recovery key/);
    const wrong = key.replace(/^./, key[0] === 'a' ? 'b' : 'a');
    expect(await r.restore(wrong)).toBe(false);
    expect(r.view.error).toMatch(/does not open this backup \(9 tries left today\)/);
    expect(await r.restore(key.toUpperCase())).toBe(true);
    await until(() => a2.e.state.phase === 'ready', 'restored device ready', a.e, b.e, a2.e);
    expect(a2.crypto.identity).toBe(a.crypto.identity);
    expect(a2.e.state.messages[bobId]!.map((m) => m.text)).toEqual(['before the loss']);
    const c = a2.e.state.conversations.find((x) => x.peer === bobId)!;
    expect(c.verifiedKey).toBe(b.crypto.identity);
    expect(r.view.stage).toBe('on');
    expect(server.accounts.get(a.e.state.me!.userId)!.writer).toBe(a2.e.state.me!.deviceId);

    // The old device, still around, stops writing instead of overwriting the restored device's backup.
    await a.e.send(bobId, 'from the old one');
    await settle(a.e, b.e);
    await a.e.backup!.backupNow();
    expect(a.e.backup!.view.stage).toBe('off');
    expect(a.e.backup!.view.error).toMatch(/Another of your devices now writes the backup/);
  });

  it('a new recovery key replaces the backup, and turning backup off deletes the server copy', async () => {
    const server = new FakeBackupServer();
    const { a, b, bobId } = await pair(server);
    await a.e.send(bobId, 'hello');
    await settle(a.e, b.e);
    const first = await turnOn(a.e.backup!);
    const second = await turnOn(a.e.backup!);
    expect(second).not.toBe(first);
    expect(a.e.backup!.view.stage).toBe('on');
    await a.e.backup!.turnOff();
    expect(a.e.backup!.view.stage).toBe('off');
    expect(server.accounts.size).toBe(0);
  });

  it('keeps writing after this browser signs in again under a new device id, unless another device took over', async () => {
    const server = new FakeBackupServer();
    const { a, b, bobId } = await pair(server);
    await turnOn(a.e.backup!);
    const account = server.accounts.get(a.e.state.me!.userId)!;
    // As after an expired session: the backup was written under this browser's previous device id.
    const local = (a.e.backup as unknown as { local: { deviceId: string } }).local;
    local.deviceId = 'olddevice01';
    account.writer = 'olddevice01';
    await a.e.send(bobId, 'after signing in again');
    await settle(a.e, b.e);
    await a.e.backup!.backupNow();
    expect(account.writer).toBe(a.e.state.me!.deviceId);
    expect(a.e.backup!.view.stage).toBe('on');
    // Another device restored meanwhile: this one does not take the backup back.
    local.deviceId = 'olddevice01';
    account.writer = 'restored0001';
    await a.e.send(bobId, 'one more');
    await settle(a.e, b.e);
    await a.e.backup!.backupNow();
    expect(account.writer).toBe('restored0001');
    expect(a.e.backup!.view.stage).toBe('off');
  });
});
