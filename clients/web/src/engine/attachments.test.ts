import { describe, expect, it } from 'vitest';
import { decodeContent, encodeContent } from '../core/content.js';
import { pair } from '../testing/engines.js';
import { settle } from '../testing/settle.js';

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256);

describe('attachments in the engine', () => {
  it('sends a file as ciphertext plus its key in the message; the peer fetches, checks and keeps it', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    const file = bytes(5000);
    await a.e.sendFile(bobId, { name: 'notes.txt', mime: 'text/plain', bytes: file });
    await settle(a.e, b.e);
    const sent = a.e.state.messages[bobId]!.at(-1)!;
    expect(sent.file).toMatchObject({ name: 'notes.txt', mime: 'text/plain', size: 5000 });
    expect(a.e.state.conversations.find((c) => c.peer === bobId)!.lastText).toBe('File: notes.txt');
    const got = b.e.state.messages[aliceId]!.at(-1)!;
    expect(got.file?.id).toBe(sent.file!.id);
    // Fetched on arrival: every named device has it, so the server copy is gone.
    expect(hub.attachments.has(sent.file!.id)).toBe(false);
    expect(await b.e.attachment(got.file!)).toEqual(file);
    expect(await a.e.attachment(sent.file!)).toEqual(file);
  });

  it('sends a voice message: the peer gets its length, the list says "Voice message"', async () => {
    const { a, b, bobId, aliceId } = await pair();
    const audio = bytes(3000);
    await a.e.sendFile(bobId, { name: 'voice.webm', mime: 'audio/webm;codecs=opus', bytes: audio, voiceMs: 4200 });
    await settle(a.e, b.e);
    const got = b.e.state.messages[aliceId]!.at(-1)!;
    expect(got.file).toMatchObject({ mime: 'audio/webm', voiceMs: 4200 });
    expect(b.e.state.conversations.find((c) => c.peer === aliceId)!.lastText).toBe('Voice message (0:04)');
    expect(await b.e.attachment(got.file!)).toEqual(audio);
  });

  it('reports progress while a file is encrypted and uploaded, and while it is fetched', async () => {
    const { a, b, bobId, aliceId } = await pair();
    const seen: string[] = [];
    const unsub = a.e.store.subscribe(() => {
      for (const t of Object.values(a.e.state.transfers)) seen.push(`${t.phase}:${t.done}/${t.total}`);
    });
    await a.e.sendFile(bobId, { name: 'big.bin', mime: 'application/octet-stream', bytes: bytes(300_000) });
    unsub();
    expect(seen.some((x) => x.startsWith('encrypting:'))).toBe(true);
    expect(seen.some((x) => x.startsWith('uploading:'))).toBe(true);
    expect(a.e.state.transfers).toEqual({});
    await settle(a.e, b.e);
    const got = b.e.state.messages[aliceId]!.at(-1)!;
    expect(await b.e.attachment(got.file!)).toHaveLength(300_000);
    expect(b.e.state.transfers).toEqual({});
  });

  it('refuses a file over 100 MB before encrypting it, and sends nothing', async () => {
    const { hub, a, bobId } = await pair();
    const big = { length: 100 * 1024 * 1024 + 1 } as Uint8Array;
    await a.e.sendFile(bobId, { name: 'huge.bin', mime: 'application/octet-stream', bytes: big });
    expect(a.e.state.notice).toMatch(/at most 100 MB/);
    expect(hub.attachments.size).toBe(0);
  });

  it('validates a received file reference field by field', () => {
    const base = { v: 1, t: 'text', id: 'abcdefgh12', to: 'bob0000000001', text: '', sentAt: 1 };
    const file = {
      id: 'A'.repeat(22),
      key: `${'k'.repeat(43)}=`,
      digest: `${'d'.repeat(43)}=`,
      size: 3,
      name: 'a',
      mime: 'image/png',
    };
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    expect(decodeContent(encodeContent({ ...base, file } as never))).toMatchObject({ file });
    for (const bad of [
      { ...file, id: '../x' },
      { ...file, key: 'short' },
      { ...file, size: -1 },
      { ...file, size: 200 * 1024 * 1024 },
      { ...file, name: '' },
      { ...file, mime: 'text/html; charset=x' },
      { ...file, mime: 'audio/webm', voiceMs: -5 },
      { ...file, mime: 'audio/webm', voiceMs: 1.5 },
      { ...file, mime: 'audio/webm', voiceMs: 16 * 60_000 },
      { ...file, voiceMs: 3000 }, // a "voice message" that is an image
    ])
      expect(() => decodeContent(enc({ ...base, file: bad }))).toThrow();
    const voice = { ...file, mime: 'audio/webm', voiceMs: 7250 };
    expect(decodeContent(encodeContent({ ...base, file: voice } as never))).toMatchObject({ file: voice });
    // No text and no file: refused as before.
    expect(() => decodeContent(enc(base))).toThrow();
  });
});
