import { ATTACHMENT_MAX_BLOB_BYTES } from '@hush/protocol';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness } from '../test-support.js';
import { attachmentFetchStream } from './attachments.js';

let h: Harness;
const alice = { user: 'alice00000001', device: 'adev01' };
const bob = { user: 'bob000000001', device: 'bdev01' };
const bob2 = { user: 'bob000000001', device: 'bdev02' };

beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h?.close();
});

const auth = async (who: { user: string; device: string }) => ({
  authorization: `Bearer ${await h.token(who.user, who.device)}`,
});
const upload = async (who: typeof alice, blob: Buffer, recipients = 2) =>
  h.app.inject({
    method: 'POST',
    url: `/v1/attachments?recipients=${recipients}`,
    headers: { ...(await auth(who)), 'content-type': 'application/octet-stream' },
    payload: blob,
  });
const download = async (who: typeof alice, id: string) =>
  h.app.inject({ method: 'GET', url: `/v1/attachments/${id}`, headers: await auth(who) });

describe('encrypted attachments in the NATS object store', () => {
  it('stores a blob, serves it byte for byte, and deletes it once every named device fetched it', async () => {
    const blob = Buffer.alloc(300_000);
    for (let i = 0; i < blob.length; i += 65_536) crypto.getRandomValues(blob.subarray(i, i + 65_536));
    const up = await upload(alice, blob, 2);
    expect(up.statusCode).toBe(201);
    const { id, bytes } = up.json() as { id: string; bytes: number };
    expect(id).toMatch(/^[A-Za-z0-9]{22}$/);
    expect(bytes).toBe(blob.length);
    const first = await download(bob, id);
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('application/octet-stream');
    expect(first.headers['cache-control']).toBe('no-store');
    expect(Buffer.compare(first.rawPayload, blob)).toBe(0);
    // The same device again does not count twice.
    expect((await download(bob, id)).statusCode).toBe(200);
    expect((await download(bob2, id)).statusCode).toBe(200);
    const gone = await download(bob, id);
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe('ATTACH_NOT_FOUND');
    const jsm = await jetstreamManager(h.nc);
    const si = await jsm.streams.info(attachmentFetchStream(`MBOX_${h.prefix}`), {
      subjects_filter: h.s.attachmentFetch(id, '*'),
    });
    expect(Object.keys(si.state.subjects ?? {})).toEqual([]);
  });

  it('refuses what it must with stable codes, and keeps serving', async () => {
    expect((await download(bob, 'AAAAAAAAAAAAAAAAAAAAAA')).json().error.code).toBe('ATTACH_NOT_FOUND');
    expect((await download(bob, '../../etc/passwd')).statusCode).toBe(404);
    const bad = await h.app.inject({ method: 'GET', url: '/v1/attachments/short', headers: await auth(bob) });
    expect(bad.json().error.code).toBe('VALIDATION_FAILED');
    const anon = await h.app.inject({ method: 'GET', url: '/v1/attachments/AAAAAAAAAAAAAAAAAAAAAA' });
    expect(anon.statusCode).toBe(401);
    const noRecipients = await h.app.inject({
      method: 'POST',
      url: '/v1/attachments',
      headers: { ...(await auth(alice)), 'content-type': 'application/octet-stream' },
      payload: Buffer.from('x'),
    });
    expect(noRecipients.json().error.code).toBe('VALIDATION_FAILED');
    const tooBig = await upload(alice, Buffer.alloc(ATTACHMENT_MAX_BLOB_BYTES + 1), 1);
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().error.code).toBe('ATTACH_TOO_LARGE');
    const json = await h.app.inject({
      method: 'POST',
      url: '/v1/attachments?recipients=1',
      headers: await auth(alice),
      payload: { not: 'a blob' },
    });
    expect(json.json().error.code).toBe('VALIDATION_FAILED');
    const ok = await upload(alice, Buffer.from('still here'), 1);
    expect(ok.statusCode).toBe(201);
  });
});
