import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, type Harness, harness, WsProbe } from '../test-support.js';

let h: Harness;
const alice = { user: 'alice00000001', device: 'adev01' };
const bob1 = { user: 'bob0000000001', device: 'bdev01' };
const bob2 = { user: 'bob0000000001', device: 'bdev02' };
const carol = { user: 'carol00000001', device: 'cdev01' };
type Dev = typeof alice;

beforeAll(async () => {
  h = await harness();
  h.devices.set(alice.user, [alice.device]);
  h.devices.set(bob1.user, [bob1.device, bob2.device]);
  h.devices.set(carol.user, [carol.device]);
});
afterAll(async () => {
  const { jetstreamManager } = await import('@nats-io/jetstream');
  await (await jetstreamManager(h.nc)).streams.delete(`MBOX_${h.prefix}_GROUPS`).catch(() => undefined);
  await h?.close();
});

const auth = async (who: Dev) => ({ authorization: `Bearer ${await h.token(who.user, who.device)}` });
const gid = () => randomBytes(16).toString('hex');
const mid = () => randomBytes(12).toString('base64url');
const create = async (who: Dev, groupId: string) =>
  h.app.inject({ method: 'PUT', url: `/v1/groups/${groupId}`, headers: await auth(who) });
const commit = async (who: Dev, groupId: string, body: Record<string, unknown>) =>
  h.app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/commits`,
    headers: await auth(who),
    payload: { id: mid(), commit: b64('commit'), add: [], remove: [], ...body },
  });
const send = async (who: Dev, groupId: string, body: string, id = mid()) =>
  h.app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/messages`,
    headers: await auth(who),
    payload: { id, body },
  });
const code = (r: { json(): unknown }) => (r.json() as { error?: { code: string } }).error?.code;

/** A group of Alice, Bob's two devices and Carol at epoch 1. */
async function fourDevices(): Promise<string> {
  const g = gid();
  expect((await create(alice, g)).statusCode).toBe(201);
  const r = await commit(alice, g, { epoch: 0, add: [bob1, bob2, carol], welcome: b64('welcome') });
  expect(r.statusCode).toBe(200);
  expect(r.json()).toEqual({ epoch: 1, delivered: 3 });
  return g;
}

describe('group routing', () => {
  it('fans one message out to every other member device, tagged with the group', async () => {
    const g = await fourDevices();
    const probe = await WsProbe.connect(h.wsUrl, await h.token(bob2.user, bob2.device));
    const welcome = await probe.nextType<{ body: string; group: unknown }>('deliver');
    expect(welcome.group).toEqual({ id: g, kind: 'welcome' });
    const r = await send(alice, g, b64('ciphertext'));
    expect(r.statusCode).toBe(200);
    expect(r.json().delivered).toBe(3);
    const d = await probe.nextType<{ body: string; from: unknown; group: unknown }>('deliver');
    expect(d).toMatchObject({ body: b64('ciphertext'), from: alice, group: { id: g, kind: 'message' } });
    probe.close();
    const info = await h.app.inject({ method: 'GET', url: `/v1/groups/${g}`, headers: await auth(carol) });
    expect(info.json()).toEqual({ groupId: g, epoch: 1, members: [alice, bob1, bob2, carol] });
  });

  it('accepts one commit per epoch: a concurrent second one gets GROUP_EPOCH_MISMATCH', async () => {
    const g = await fourDevices();
    const [a, b] = await Promise.all([commit(alice, g, { epoch: 1, remove: [carol] }), commit(bob1, g, { epoch: 1 })]);
    const codes = [a, b].map((x) => (x.statusCode === 200 ? 'ok' : code(x))).sort();
    expect(codes).toEqual(['GROUP_EPOCH_MISMATCH', 'ok']);
    // The loser rebuilds on epoch 2 and goes through.
    const loser = a.statusCode === 200 ? bob1 : alice;
    const again = await commit(loser, g, { epoch: 2 });
    expect(again.json().epoch).toBe(3);
    expect(code(await commit(alice, g, { epoch: 1 }))).toBe('GROUP_EPOCH_MISMATCH');
  });

  it('a retried commit (lost answer) is delivered again, not refused', async () => {
    const g = await fourDevices();
    const id = mid();
    const first = await commit(alice, g, { id, epoch: 1 });
    const retry = await commit(alice, g, { id, epoch: 1 });
    expect(first.json()).toEqual({ epoch: 2, delivered: 3 });
    expect(retry.json()).toEqual({ epoch: 2, delivered: 3 });
  });

  it('a removed device can no longer post or read the routing list', async () => {
    const g = await fourDevices();
    expect((await commit(alice, g, { epoch: 1, remove: [carol] })).json()).toEqual({ epoch: 2, delivered: 3 });
    expect(code(await send(carol, g, b64('still here')))).toBe('GROUP_NOT_MEMBER');
    expect((await send(carol, g, b64('x'))).statusCode).toBe(403);
    expect(code(await h.app.inject({ method: 'GET', url: `/v1/groups/${g}`, headers: await auth(carol) }))).toBe(
      'GROUP_NOT_MEMBER',
    );
    expect(code(await commit(carol, g, { epoch: 2 }))).toBe('GROUP_NOT_MEMBER');
    expect((await send(bob1, g, b64('after'))).json().delivered).toBe(2);
  });

  it('refuses bad input with stable codes', async () => {
    const g = await fourDevices();
    expect(code(await create(alice, g))).toBe('GROUP_EXISTS');
    expect(code(await create(alice, 'NOT-A-GROUP'))).toBe('VALIDATION_FAILED');
    expect(code(await send(alice, gid(), b64('x')))).toBe('GROUP_NOT_FOUND');
    expect(code(await send(alice, g, 'not base64!'))).toBe('VALIDATION_FAILED');
    expect(code(await commit(alice, g, { epoch: 1, add: [carol], welcome: b64('w') }))).toBe('VALIDATION_FAILED');
    expect(
      code(await commit(alice, g, { epoch: 1, add: [{ user: 'dave000000001', device: 'ddev01' }], welcome: b64('w') })),
    ).toBe('GW_UNKNOWN_RECIPIENT');
    expect(code(await commit(alice, g, { epoch: 1, add: [], welcome: b64('w') }))).toBe('VALIDATION_FAILED');
    expect(code(await commit(alice, g, { epoch: 1, remove: [alice] }))).toBe('VALIDATION_FAILED');
    expect(code(await commit(alice, g, { epoch: 1, extra: true }))).toBe('VALIDATION_FAILED');
    const noAuth = await h.app.inject({
      method: 'POST',
      url: `/v1/groups/${g}/messages`,
      payload: { id: mid(), body: b64('x') },
    });
    expect(code(noAuth)).toBe('AUTH_TOKEN_MISSING');
  });
});
