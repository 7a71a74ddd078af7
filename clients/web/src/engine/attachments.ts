import { type FileRef, MAX_FILE_BYTES } from '../core/content.js';
import { encryptionStatus } from '../core/model.js';
import { describe } from '../core/send-policy.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { Outbox } from './outbox.js';
import type { SendExtras } from './outgoing.js';

import type { Progress, Transfer } from './types.js';

/** A file the user picked, as the view read it (or a voice message it recorded). */
export interface PickedFile {
  name: string;
  mime: string;
  bytes: Uint8Array;
  /** Set for a voice message: its length in milliseconds. */
  voiceMs?: number;
}

/** Progress is shown in steps of at least this fraction (a re-render per network packet is waste). */
const PROGRESS_STEP = 0.01;
const MIME_RE = /^[a-z0-9][a-z0-9.+-]{0,63}\/[a-z0-9][a-z0-9.+-]{0,63}$/i;

let transferSeq = 0;

/**
 * Encrypted attachments (libs/crypto attachment.ts; the gateway's /v1/attachments): a file is
 * encrypted under a fresh key on this device, only the ciphertext is uploaded, and the key and
 * digest ride inside the end-to-end message. Received files are fetched at once (so the server
 * copy is deleted as soon as every device has it), checked against the digest, and kept
 * decrypted in the local history, which the vault encrypts at rest.
 */
export class Attachments {
  /** Downloads in flight, so a re-render asking again does not fetch twice. */
  private readonly fetching = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly outbox: Outbox,
  ) {}

  async sendFile(peer: string, file: PickedFile, caption = '', extras: SendExtras = {}): Promise<void> {
    const { ctx } = this;
    const c = this.history.conv(peer);
    if (!c || !ctx.api) return;
    if (encryptionStatus(c) === 'red') {
      ctx.store.update({ notice: `Cannot encrypt to ${c.username}; the file was not sent.` });
      return;
    }
    // Every device that will get the message fetches the blob once; then the server deletes it.
    const me = ctx.state.me!;
    const [theirs, mine] = await Promise.all([ctx.crypto.knownDevices(peer), ctx.crypto.knownDevices(me.userId)]);
    const recipients = Math.max(1, (theirs?.length ?? 1) + (mine ?? []).filter((d) => d !== me.deviceId).length);
    await this.upload(file, recipients, (ref) => this.outbox.send(peer, caption, ref, extras), peer);
  }

  /**
   * Encrypts a file under a fresh key, uploads the ciphertext for `recipients` devices, keeps the
   * plaintext in the local history and hands the reference to `send`. A forward comes here too, so
   * a forwarded file is a new blob under a new key (libs/crypto/PROTOCOL.md §13.2).
   */
  async upload(
    file: PickedFile,
    recipients: number,
    send: (ref: FileRef) => Promise<void>,
    /** The conversation whose composer shows the progress bar. */
    peer: string,
  ): Promise<void> {
    const { ctx } = this;
    const api = ctx.api;
    if (!api) return;
    if (file.bytes.length > MAX_FILE_BYTES) {
      ctx.store.update({ notice: `“${file.name}” is larger than 100 MB; files may be at most 100 MB.` });
      return;
    }
    ctx.store.update({ busy: true, notice: null });
    const tid = `up-${++transferSeq}`;
    const name = file.voiceMs === undefined ? file.name : 'Voice message';
    const bar = this.progress(tid, { name, peer, phase: 'encrypting', done: 0, total: file.bytes.length });
    try {
      const sealed = await ctx.crypto.sealAttachment(file.bytes, bar('encrypting'));
      const id = await api.uploadAttachment(sealed.blob, recipients, bar('uploading'));
      await ctx.history.putAttachment(id, file.bytes);
      // "audio/webm;codecs=opus" (MediaRecorder's type) is sent as its essence "audio/webm".
      const mime = file.mime.split(';')[0]!.trim();
      const ref: FileRef = {
        id,
        key: sealed.key,
        digest: sealed.digest,
        size: sealed.size,
        name: file.name.slice(0, 255) || 'file',
        mime: MIME_RE.test(mime) ? mime : 'application/octet-stream',
        ...(file.voiceMs === undefined ? {} : { voiceMs: Math.round(file.voiceMs) }),
      };
      await send(ref);
    } catch (e) {
      ctx.store.update({ notice: `“${name}” was not sent: ${describe(e)}` });
    } finally {
      this.done(tid);
      ctx.store.update({ busy: false });
    }
  }

  /**
   * Starts a progress bar; returns a maker of progress callbacks per phase, each of which moves
   * the bar only when it advanced by PROGRESS_STEP (or finished).
   */
  private progress(tid: string, start: Transfer): (phase: Transfer['phase']) => Progress {
    const { store } = this.ctx;
    store.update((s) => ({ transfers: { ...s.transfers, [tid]: start } }));
    return (phase) => (done, total) => {
      const cur = this.ctx.state.transfers[tid];
      if (!cur) return;
      const moved = cur.phase !== phase || done === total || (done - cur.done) / Math.max(1, total) >= PROGRESS_STEP;
      if (moved) store.update((s) => ({ transfers: { ...s.transfers, [tid]: { ...cur, phase, done, total } } }));
    };
  }

  private done(tid: string): void {
    if (!this.ctx.state.transfers[tid]) return;
    this.ctx.store.update((s) => {
      const { [tid]: _gone, ...rest } = s.transfers;
      return { transfers: rest };
    });
  }

  /**
   * The file's bytes: from this device's history, or fetched, checked against its digest,
   * decrypted and kept. Throws when the server no longer has it or it does not verify.
   */
  bytes(ref: FileRef): Promise<Uint8Array> {
    const running = this.fetching.get(ref.id);
    if (running) return running;
    const p = this.load(ref).finally(() => this.fetching.delete(ref.id));
    this.fetching.set(ref.id, p);
    return p;
  }

  private async load(ref: FileRef): Promise<Uint8Array> {
    const kept = await this.ctx.history.getAttachment(ref.id);
    if (kept) return kept;
    const api = this.ctx.api;
    if (!api) throw new Error('Not connected');
    const bar = this.progress(ref.id, { name: ref.name, phase: 'downloading', done: 0, total: ref.size });
    try {
      const blob = await api.downloadAttachment(ref.id, bar('downloading'));
      const bytes = await this.ctx.crypto.openAttachment(blob, ref, bar('decrypting'));
      await this.ctx.history.putAttachment(ref.id, bytes);
      return bytes;
    } finally {
      this.done(ref.id);
    }
  }

  /** A received file: fetched at once in the background (failures are retried when it is opened). */
  received(ref: FileRef): void {
    this.ctx.background(() =>
      this.bytes(ref)
        .then(() => undefined)
        .catch(() => undefined),
    );
  }
}
