/**
 * "Restore from backup" on a device that signed in but is not linked (engine/backup.ts calls it):
 * fetch and open the manifest and chunks with keys derived from the recovery key, take the
 * identity (the account's next device list, signed by it, adds this device), store the history,
 * and take over writing the backup. Nothing is stored before every chunk opened.
 */
import { isHushError, type Session } from '@hush/protocol';
import { type BackupRecords, fingerprints, mergeRecords } from '../core/backup.js';
import type { BackupDeps, BackupLocal, BackupManifest } from './backup-ports.js';
import type { EngineContext } from './context.js';
import type { ServerApi } from './ports.js';

const damaged = (): never => {
  throw new Error('The backup could not be opened: it is damaged or was changed on the server.');
};

export async function restoreBackup(
  ctx: EngineContext,
  d: BackupDeps,
  pending: { api: ServerApi; session: Session },
  recoveryKey: string,
  prekeys: number,
  progress: (done: number, total: number) => void,
): Promise<BackupLocal> {
  const { api, session } = pending;
  if (!api.backup) throw new Error('This server has no backup');
  const srv = api.backup;
  const secrets = await d.codec.derive(recoveryKey, session.userId);
  const auth = secrets.authenticator;
  const manifest = await d.codec
    .open<BackupManifest>(secrets, 'manifest', await srv.get(auth, 'manifest'))
    .catch(damaged);
  const chunks: BackupRecords[] = [];
  progress(0, manifest.segments.length);
  for (const seg of manifest.segments) {
    const data = await srv.get(auth, { chunk: seg.id });
    chunks.push(await d.codec.open<BackupRecords>(secrets, `chunk:${seg.id}`, data).catch(damaged));
    progress(chunks.length, manifest.segments.length);
  }
  const records = mergeRecords(chunks);
  const bundle = await api.fetchBundle(session.userId);
  const keys = await ctx.serial(() =>
    d.codec.restoreIdentity(manifest.identity, bundle, session.userId, session.deviceId, ctx.now(), prekeys),
  );
  await api.publishKeys(keys);
  for (const c of records.conversations) await ctx.history.putConversation({ ...c, deviceNotice: null });
  for (const m of records.messages) await ctx.history.putMessage(m);
  d.settings?.apply(manifest.settings);
  ctx.store.update({ showWire: manifest.showWire });
  // This device writes the backup from now on, under the same key, appending to the same chunks.
  await srv.claim(auth);
  const local: BackupLocal = {
    secrets,
    segments: manifest.segments,
    fp: fingerprints(records),
    lastBackupAt: manifest.at,
    deviceId: session.deviceId,
  };
  await d.store.save(local);
  return local;
}

/** When a backup run's failure means this device no longer writes the backup: what to tell the user. */
export function stoppedNotice(e: unknown): string | null {
  if (!isHushError(e)) return null;
  if (e.code === 'BACKUP_OTHER_WRITER') return 'Another of your devices now writes the backup; this one stopped.';
  if (e.code === 'BACKUP_NOT_FOUND') return 'The backup was turned off on another device.';
  if (e.code === 'BACKUP_WRONG_KEY')
    return 'The backup was given a new recovery key on another device; this one stopped.';
  return null;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error && e.message) return e.message;
  return 'Something went wrong. Try again.';
}

/** What the restore screen says for each failure: a wrong key, no backup, too many tries. */
export function restoreMessage(e: unknown): string {
  if (isHushError(e)) {
    if (e.code === 'BACKUP_NOT_FOUND') return 'This account has no backup.';
    if (e.code === 'BACKUP_RATE_LIMITED') {
      const h = Math.max(1, Math.round((e.retryAfter ?? 3600) / 3600));
      return `Too many wrong recovery keys. Try again in about ${h} hour${h === 1 ? '' : 's'}.`;
    }
    if (e.code === 'BACKUP_WRONG_KEY') return `${e.message}.`;
  }
  return errorMessage(e);
}
