/**
 * Zero-knowledge encrypted backup (docs/ARCHITECTURE.md, "Encrypted backup"): "Turn on backup"
 * with a recovery key shown once, incremental background backups with a visible status, a new
 * recovery key, "Turn off backup", and "Restore from backup" on a device waiting to be linked.
 *
 * Layout on the server: a manifest (identity, settings, the chunk list) and append-only chunks of
 * changed records. A run uploads one chunk of what changed since the last run plus the manifest;
 * past BACKUP_MAX_SEGMENTS chunks it rewrites the whole history and deletes the old chunks.
 */
import type { Session } from '@hush/protocol';
import {
  BACKUP_CONFIRM_GROUPS,
  BACKUP_DELAY_MS,
  BACKUP_MAX_SEGMENTS,
  type BackupRecords,
  type BackupSegment,
  backupRecords,
  changedRecords,
  chunkRecords,
  confirmGroups,
  keyGroups,
  recordCount,
  splitRecords,
} from '../core/backup.js';
import type { BackupDeps, BackupLocal, BackupManifest, BackupServer, BackupView } from './backup-ports.js';
import { errorMessage, restoreBackup, restoreMessage, stoppedNotice } from './backup-restore.js';
import type { EngineContext } from './context.js';
import type { ServerApi } from './ports.js';

export type { BackupView } from './backup-ports.js';

/** Largest sealed object the server takes (@hush/protocol BACKUP_MAX_OBJECT_BYTES). */
const MAX_OBJECT = 128 * 1024 + 64;

export interface BackupHooks {
  /** The restored identity's keys are published and the history stored: start as a linked device. */
  onRestored(session: Session): Promise<void>;
  /** PREKEY_TARGET of the session. */
  prekeys: number;
}

export class Backup {
  private v: BackupView = {
    stage: 'off',
    key: null,
    ask: [],
    rotating: false,
    lastBackupAt: null,
    server: null,
    uploaded: { last: 0, total: 0 },
    running: false,
    busy: false,
    error: null,
    restore: null,
  };
  private readonly listeners = new Set<() => void>();
  private local: BackupLocal | null = null;
  private timer: unknown = null;
  private running: Promise<void> | null = null;
  private again = false;
  private pending: { api: ServerApi; session: Session } | null = null;
  private seen: { c: unknown; m: unknown; phase: string } = { c: null, m: null, phase: '' };

  constructor(
    private readonly ctx: EngineContext,
    private readonly d: BackupDeps,
    private readonly hooks: BackupHooks,
  ) {
    ctx.store.subscribe(() => this.onState());
  }

  get view(): BackupView {
    return this.v;
  }
  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  private set(p: Partial<BackupView>): void {
    this.v = { ...this.v, ...p };
    for (const l of this.listeners) l();
  }
  private server(api: ServerApi | null = this.ctx.api): BackupServer {
    if (!api?.backup) throw new Error('This server has no backup');
    return api.backup;
  }

  /** Starts (ready) or forgets (signed out) this device's backup; schedules a run after history changes. */
  private onState(): void {
    const s = this.ctx.state;
    if (s.phase !== this.seen.phase) {
      this.seen.phase = s.phase;
      if (s.phase === 'ready') this.ctx.background(() => this.load());
      else if (s.phase === 'signed-out') this.reset();
    }
    if (s.phase === 'ready' && this.local && (s.conversations !== this.seen.c || s.messages !== this.seen.m)) {
      this.seen.c = s.conversations;
      this.seen.m = s.messages;
      this.schedule();
    }
  }
  private reset(): void {
    if (this.timer !== null) this.ctx.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    this.local = null;
    this.pending = null;
    this.set({ stage: 'off', key: null, ask: [], lastBackupAt: null, server: null, error: null, restore: null });
  }
  private schedule(): void {
    if (this.timer !== null) return;
    this.timer = this.ctx.deps.clock.setTimeout(() => {
      this.timer = null;
      this.ctx.background(() => this.backupNow());
    }, BACKUP_DELAY_MS);
  }

  /** Reads this device's backup record and the server's status. */
  async load(): Promise<void> {
    this.local = (await this.d.store.load()) ?? null;
    if (this.local) this.set({ stage: 'on', lastBackupAt: this.local.lastBackupAt });
    try {
      this.set({ server: await this.server().status() });
    } catch {
      // offline: the status shows what this device knows
    }
    if (this.local) this.schedule();
  }

  // ------------------------------------------------------------------ turning on, new key, off

  /** "Turn on backup" (or "New recovery key"): a fresh key, shown once. */
  begin(): void {
    this.set({ stage: 'show-key', key: this.d.codec.newRecoveryKey(), rotating: this.local !== null, error: null });
  }
  /** "I have written it down": ask for a few of its groups. */
  keyNoted(): void {
    const n = keyGroups(this.v.key ?? '').length;
    this.set({ stage: 'confirm', ask: this.d.codec.positions(BACKUP_CONFIRM_GROUPS, n), error: null });
  }
  /** The user is correcting what the last error was about. */
  clearError(): void {
    if (this.v.error) this.set({ error: null });
  }
  /** Back to the key (to look again) or out of setup. */
  cancelSetup(): void {
    this.set({ stage: this.local ? 'on' : 'off', key: null, ask: [], rotating: false, error: null });
  }
  /** Checks the typed groups; on a match turns backup on under the new key and backs up everything. */
  async confirm(answers: string[]): Promise<boolean> {
    const key = this.v.key;
    const me = this.ctx.state.me;
    if (!key || !me) return false;
    if (!confirmGroups(key, this.v.ask, answers)) {
      this.set({ error: 'Those groups do not match your recovery key. Look at it again.' });
      return false;
    }
    this.set({ busy: true, error: null });
    try {
      const secrets = await this.d.codec.derive(key, me.userId);
      await this.server().create(secrets.verifier);
      // The old backup (if any) is gone with the new key; everything is uploaded again.
      this.local = { secrets, segments: [], fp: {}, lastBackupAt: null, deviceId: me.deviceId };
      await this.d.store.save(this.local);
      this.set({ stage: 'on', key: null, ask: [], rotating: false, busy: false });
      await this.backupNow();
      return true;
    } catch (e) {
      this.set({ busy: false, error: errorMessage(e) });
      return false;
    }
  }

  /** "Turn off backup": the server copy is deleted, this device forgets the keys. */
  async turnOff(): Promise<void> {
    this.set({ busy: true, error: null });
    try {
      await this.server().remove();
      await this.stopLocal();
      this.set({ busy: false, server: await this.server().status() });
    } catch (e) {
      this.set({ busy: false, error: errorMessage(e) });
    }
  }
  private async stopLocal(notice?: string): Promise<void> {
    this.local = null;
    await this.d.store.clear();
    this.set({ stage: 'off', lastBackupAt: null, error: notice ?? null });
  }

  // ------------------------------------------------------------------ backing up

  /** One run now (the background timer calls it too); runs never overlap. */
  async backupNow(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      this.set({ running: true });
      try {
        do {
          this.again = false;
          await this.runOnce();
        } while (this.again);
        this.set({ error: null });
      } catch (e) {
        const stopped = stoppedNotice(e);
        if (stopped) await this.stopLocal(stopped);
        else this.set({ error: `Backup failed: ${errorMessage(e)}` });
      } finally {
        this.running = null;
        this.set({ running: false });
      }
    })();
    return this.running;
  }

  private async runOnce(): Promise<void> {
    const local = this.local;
    const api = this.ctx.api;
    if (!local || !api || this.ctx.state.phase !== 'ready') return;
    const srv = this.server(api);
    const me = this.ctx.state.me?.deviceId;
    // This browser signed in again under a new device id (an expired session): it still writes,
    // unless another device took over meanwhile (then the write below stops it).
    if (me && local.deviceId && local.deviceId !== me && (await srv.status()).writer === local.deviceId) {
      await srv.claim(local.secrets.authenticator);
      local.deviceId = me;
    }
    const s = this.ctx.state;
    const all = backupRecords(s.conversations, s.messages);
    const rewrite = local.lastBackupAt === null || local.segments.length >= BACKUP_MAX_SEGMENTS;
    const { changed, fp } = changedRecords(all, rewrite ? {} : local.fp);
    if (!rewrite && recordCount(changed) === 0) return;
    let uploaded = 0;
    const fresh: BackupSegment[] = [];
    const upload = async (r: BackupRecords): Promise<void> => {
      const id = this.d.codec.chunkId();
      const data = await this.d.codec.seal(local.secrets, `chunk:${id}`, r);
      if (this.d.codec.bytes(data) > MAX_OBJECT && recordCount(r) > 1) {
        for (const half of splitRecords(r)) await upload(half);
        return;
      }
      await srv.put(local.secrets.authenticator, { chunk: id }, data);
      uploaded += this.d.codec.bytes(data);
      fresh.push({ id, n: recordCount(r) });
    };
    for (const chunk of chunkRecords(changed)) await upload(chunk);
    const segments = rewrite ? fresh : [...local.segments, ...fresh];
    const manifest: BackupManifest = {
      v: 1,
      identity: await this.ctx.crypto.exportIdentity(),
      settings: this.d.settings?.read() ?? {},
      showWire: s.showWire,
      segments,
      at: this.ctx.now(),
    };
    const sealed = await this.d.codec.seal(local.secrets, 'manifest', manifest);
    await srv.put(local.secrets.authenticator, 'manifest', sealed);
    uploaded += this.d.codec.bytes(sealed);
    if (rewrite) {
      for (const old of local.segments)
        await srv.deleteChunk(local.secrets.authenticator, old.id).catch(() => undefined);
    }
    this.local = { ...local, segments, fp: rewrite ? fp : { ...local.fp, ...fp }, lastBackupAt: manifest.at };
    await this.d.store.save(this.local);
    const total = this.v.uploaded.total + uploaded;
    const server = await srv.status().catch(() => this.v.server);
    this.set({ lastBackupAt: manifest.at, uploaded: { last: uploaded, total }, server });
  }

  // ------------------------------------------------------------------ restoring

  /** The device signed in but is not linked: it may restore instead of linking. */
  pendingDevice(api: ServerApi, session: Session): void {
    this.pending = { api, session };
    this.set({ error: null, restore: null });
  }

  /** "Restore from backup": the same identity and the history back, on this new device. */
  async restore(recoveryKey: string): Promise<boolean> {
    const p = this.pending;
    if (!p) return false;
    this.set({ busy: true, error: null, restore: { done: 0, total: 0 } });
    try {
      const local = await restoreBackup(this.ctx, this.d, p, recoveryKey, this.hooks.prekeys, (done, total) =>
        this.set({ restore: { done, total } }),
      );
      this.local = local;
      this.pending = null;
      this.set({ busy: false, restore: null, stage: 'on', lastBackupAt: local.lastBackupAt });
      await this.hooks.onRestored(p.session);
      return true;
    } catch (e) {
      this.set({ busy: false, restore: null, error: restoreMessage(e) });
      return false;
    }
  }
}
