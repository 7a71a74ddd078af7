import { createHash, randomBytes } from 'node:crypto';
import { BACKUP_MAX_ACCOUNT_BYTES, BACKUP_MAX_FAILURES, BACKUP_MAX_OBJECT_BYTES } from '@hush/protocol';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness } from '../test-support.js';

let h: Harness;
const logs: string[] = [];
const alice = { user: 'alice00000001', device: 'adev01' };
const alice2 = { user: 'alice00000001', device: 'adev02' };
const mallory = { user: 'mallory000001', device: 'mdev01' };

beforeAll(async () => {
  h = await harness({}, { logs });
});
afterAll(async () => {
  await h?.close();
});

/** A client's keys as libs/crypto derives them: an authenticator and the verifier the server stores. */
const newKey = () => {
  const auth = randomBytes(32);
  const verifier = createHash('sha256').update('hush/backup/verifier/v1').update(auth).digest('base64');
  return { auth: auth.toString('base64'), verifier };
};
type Who = typeof alice;
const call = async (
  who: Who,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  o: { auth?: string; payload?: unknown } = {},
) =>
  h.app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${await h.token(who.user, who.device)}`,
      ...(o.auth ? { 'x-backup-auth': o.auth } : {}),
    },
    ...(o.payload === undefined ? {} : { payload: o.payload as object }),
  });
const chunkId = () => randomBytes(16).toString('base64url');
const blob = (n: number) => ({ data: randomBytes(n).toString('base64') });

describe('the encrypted backup store', () => {
  it('turns on with a verifier, keeps sealed objects for the holder of the key, and shows no secret in its status', async () => {
    expect((await call(alice, 'GET', '/v1/backup')).json()).toMatchObject({ enabled: false });
    const k = newKey();
    expect((await call(alice, 'PUT', '/v1/backup', { payload: { verifier: k.verifier } })).statusCode).toBe(204);
    const id = chunkId();
    const chunk = blob(2000);
    expect((await call(alice, 'PUT', `/v1/backup/chunks/${id}`, { auth: k.auth, payload: chunk })).statusCode).toBe(
      204,
    );
    expect((await call(alice, 'PUT', '/v1/backup/manifest', { auth: k.auth, payload: blob(1100) })).statusCode).toBe(
      204,
    );
    expect((await call(alice, 'GET', `/v1/backup/chunks/${id}`, { auth: k.auth })).json()).toEqual(chunk);
    const status = (await call(alice, 'GET', '/v1/backup')).json();
    expect(status).toEqual({
      enabled: true,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
      bytes: 2000 + 1100,
      chunks: 1,
      writer: alice.device,
    });
    // The server keeps the verifier (a hash) and ciphertext; the authenticator itself appears nowhere.
    const jsm = await jetstreamManager(h.nc);
    const stream = (await jsm.streams.list().next()).find((s) => s.config.name.endsWith('_BACKUP'))!;
    const stored: string[] = [];
    for (let seq = stream.state.first_seq; seq <= stream.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream.config.name, { seq }).catch(() => null);
      if (m) stored.push(Buffer.from(m.data).toString('latin1'), Buffer.from(m.data).toString('base64'));
    }
    const raw = Buffer.from(k.auth, 'base64').toString('latin1');
    expect(stored.some((s) => s.includes(k.auth) || s.includes(raw))).toBe(false);
    expect(logs.some((l) => l.includes(k.auth))).toBe(false);
  });

  it('refuses a wrong key with the tries left, counts concurrent guesses exactly, then refuses every key for the window', async () => {
    const k = newKey();
    await call(alice, 'PUT', '/v1/backup', { payload: { verifier: k.verifier } });
    await call(alice, 'PUT', '/v1/backup/manifest', { auth: k.auth, payload: blob(1100) });
    const first = await call(alice, 'GET', '/v1/backup/manifest', { auth: newKey().auth });
    expect(first.statusCode).toBe(403);
    expect(first.json().error.code).toBe('BACKUP_WRONG_KEY');
    expect(first.json().error.message).toContain(`${BACKUP_MAX_FAILURES - 1} tries left`);
    const guesses = await Promise.all(
      Array.from({ length: 3 * BACKUP_MAX_FAILURES }, () =>
        call(alice2, 'GET', '/v1/backup/manifest', { auth: newKey().auth }),
      ),
    );
    const codes = guesses.map((g) => g.json().error.code);
    expect(codes.filter((c) => c === 'BACKUP_WRONG_KEY')).toHaveLength(BACKUP_MAX_FAILURES - 1);
    expect(codes.filter((c) => c === 'BACKUP_RATE_LIMITED')).toHaveLength(2 * BACKUP_MAX_FAILURES + 1);
    const right = await call(alice, 'GET', '/v1/backup/manifest', { auth: k.auth });
    expect(right.statusCode).toBe(429);
    expect(right.json().error).toMatchObject({ code: 'BACKUP_RATE_LIMITED', retryAfter: expect.any(Number) });
  });

  it('keeps each account to itself: another account has no backup to read', async () => {
    const k = newKey();
    await call(alice, 'PUT', '/v1/backup', { payload: { verifier: k.verifier } });
    await call(alice, 'PUT', '/v1/backup/manifest', { auth: k.auth, payload: blob(1100) });
    const other = await call(mallory, 'GET', '/v1/backup/manifest', { auth: k.auth });
    expect(other.json().error.code).toBe('BACKUP_NOT_FOUND');
    expect((await call(alice, 'GET', '/v1/backup/manifest', { auth: k.auth })).statusCode).toBe(200);
  });

  it('lets one device write at a time: another device reads with the key, and writes only after claiming', async () => {
    const k = newKey();
    await call(alice, 'PUT', '/v1/backup', { payload: { verifier: k.verifier } });
    const w = await call(alice2, 'PUT', '/v1/backup/manifest', { auth: k.auth, payload: blob(1100) });
    expect(w.json().error.code).toBe('BACKUP_OTHER_WRITER');
    expect((await call(alice2, 'POST', '/v1/backup/claim', { auth: k.auth })).statusCode).toBe(204);
    expect((await call(alice2, 'PUT', '/v1/backup/manifest', { auth: k.auth, payload: blob(1100) })).statusCode).toBe(
      204,
    );
    const old = await call(alice, 'PUT', `/v1/backup/chunks/${chunkId()}`, { auth: k.auth, payload: blob(100) });
    expect(old.json().error.code).toBe('BACKUP_OTHER_WRITER');
    expect((await call(alice, 'GET', '/v1/backup')).json().writer).toBe(alice2.device);
  });

  it('a new recovery key drops the old backup, and turning backup off deletes everything', async () => {
    const k1 = newKey();
    await call(alice, 'PUT', '/v1/backup', { payload: { verifier: k1.verifier } });
    const id = chunkId();
    await call(alice, 'PUT', `/v1/backup/chunks/${id}`, { auth: k1.auth, payload: blob(500) });
    const k2 = newKey();
    await call(alice, 'PUT', '/v1/backup', { payload: { verifier: k2.verifier } });
    expect((await call(alice, 'GET', `/v1/backup/chunks/${id}`, { auth: k1.auth })).json().error.code).toBe(
      'BACKUP_WRONG_KEY',
    );
    expect((await call(alice, 'GET', `/v1/backup/chunks/${id}`, { auth: k2.auth })).json().error.code).toBe(
      'BACKUP_NOT_FOUND',
    );
    expect((await call(alice, 'DELETE', '/v1/backup')).statusCode).toBe(204);
    expect((await call(alice, 'GET', '/v1/backup')).json()).toMatchObject({ enabled: false, bytes: 0 });
    expect((await call(alice, 'GET', '/v1/backup/manifest', { auth: k2.auth })).json().error.code).toBe(
      'BACKUP_NOT_FOUND',
    );
  });

  it('bounds objects and each account’s total, and frees space when chunks are deleted', async () => {
    const k = newKey();
    await call(alice, 'PUT', '/v1/backup', { payload: { verifier: k.verifier } });
    const tooBig = await call(alice, 'PUT', `/v1/backup/chunks/${chunkId()}`, {
      auth: k.auth,
      payload: blob(BACKUP_MAX_OBJECT_BYTES + 3),
    });
    expect(tooBig.statusCode).toBe(400);
    expect(tooBig.json().error.code).toBe('VALIDATION_FAILED');
    const n = Math.floor(BACKUP_MAX_ACCOUNT_BYTES / BACKUP_MAX_OBJECT_BYTES);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = chunkId();
      ids.push(id);
      const r = await call(alice, 'PUT', `/v1/backup/chunks/${id}`, {
        auth: k.auth,
        payload: blob(BACKUP_MAX_OBJECT_BYTES),
      });
      expect(r.statusCode).toBe(204);
    }
    const over = await call(alice, 'PUT', `/v1/backup/chunks/${chunkId()}`, {
      auth: k.auth,
      payload: blob(BACKUP_MAX_OBJECT_BYTES),
    });
    expect(over.json().error.code).toBe('BACKUP_TOO_LARGE');
    expect((await call(alice, 'DELETE', `/v1/backup/chunks/${ids[0]}`, { auth: k.auth })).statusCode).toBe(204);
    const again = await call(alice, 'PUT', `/v1/backup/chunks/${chunkId()}`, {
      auth: k.auth,
      payload: blob(BACKUP_MAX_OBJECT_BYTES),
    });
    expect(again.statusCode).toBe(204);
    expect((await call(alice, 'GET', '/v1/backup')).json().chunks).toBe(n);
  }, 180_000);

  it('answers a missing or malformed authenticator with VALIDATION_FAILED and counts nothing', async () => {
    const k = newKey();
    await call(alice, 'PUT', '/v1/backup', { payload: { verifier: k.verifier } });
    const none = await call(alice, 'GET', '/v1/backup/manifest');
    expect(none.json().error.code).toBe('VALIDATION_FAILED');
    const bad = await call(alice, 'GET', '/v1/backup/manifest', { auth: 'not base64!' });
    expect(bad.json().error.code).toBe('VALIDATION_FAILED');
    const noToken = await h.app.inject({ method: 'GET', url: '/v1/backup' });
    expect(noToken.json().error.code).toBe('AUTH_TOKEN_MISSING');
  });
});
