import { createHash } from 'node:crypto';
import { HushError, type Session } from '@hush/protocol';
import { backupCodec } from '../adapters/backup.js';
import type { BackupCodec, BackupLocal, BackupServer, BackupStore } from '../engine/backup-ports.js';
import type { FakeCrypto } from './crypto.js';

/**
 * The gateway's backup routes as an in-memory twin (services/gateway/src/http/backup.ts is tested
 * against real NATS): one backup per account, the verifier check with a failure count, one writer.
 */
export class FakeBackupServer {
  readonly accounts = new Map<
    string,
    { verifier: string; writer: string; failures: number; objects: Map<string, string>; updatedAt: number | null }
  >();
  /** Every object body uploaded, in order (sizes for the incremental checks). */
  readonly uploads: { name: string; bytes: number }[] = [];

  api(session: () => Session | null): BackupServer {
    const me = () => {
      const s = session();
      if (!s) throw new HushError('AUTH_TOKEN_MISSING');
      return s;
    };
    const authorized = (auth: string) => {
      const a = this.accounts.get(me().userId);
      if (!a) throw new HushError('BACKUP_NOT_FOUND');
      if (a.failures >= 10) throw new HushError('BACKUP_RATE_LIMITED');
      const v = createHash('sha256')
        .update('hush/backup/verifier/v1')
        .update(Buffer.from(auth, 'base64'))
        .digest('base64');
      if (v !== a.verifier) {
        a.failures++;
        throw new HushError(
          'BACKUP_WRONG_KEY',
          `That recovery key does not open this backup (${10 - a.failures} tries left today)`,
        );
      }
      return a;
    };
    const name = (w: 'manifest' | { chunk: string }) => (w === 'manifest' ? 'manifest' : `chunk:${w.chunk}`);
    return {
      status: async () => {
        const a = this.accounts.get(me().userId);
        const bytes = a ? [...a.objects.values()].reduce((n, d) => n + d.length, 0) : 0;
        return a
          ? { enabled: true, createdAt: 1, updatedAt: a.updatedAt, bytes, chunks: a.objects.size, writer: a.writer }
          : { enabled: false, createdAt: null, updatedAt: null, bytes: 0, chunks: 0, writer: null };
      },
      create: async (verifier) => {
        this.accounts.set(me().userId, {
          verifier,
          writer: me().deviceId,
          failures: 0,
          objects: new Map(),
          updatedAt: null,
        });
      },
      remove: async () => {
        this.accounts.delete(me().userId);
      },
      claim: async (auth) => {
        authorized(auth).writer = me().deviceId;
      },
      get: async (auth, what) => {
        const d = authorized(auth).objects.get(name(what));
        if (d === undefined) throw new HushError('BACKUP_NOT_FOUND');
        return d;
      },
      put: async (auth, what, data) => {
        const a = authorized(auth);
        if (a.writer !== me().deviceId) throw new HushError('BACKUP_OTHER_WRITER');
        a.objects.set(name(what), data);
        if (what === 'manifest') a.updatedAt = Date.now();
        this.uploads.push({ name: name(what), bytes: data.length });
      },
      deleteChunk: async (auth, chunk) => {
        authorized(auth).objects.delete(`chunk:${chunk}`);
      },
    };
  }
}

/** The real codec (sealing, deflate) over the fake crypto: restoring adopts the identity as linking does. */
export function testCodec(crypto: FakeCrypto): BackupCodec {
  const real = backupCodec(crypto);
  return {
    ...real,
    restoreIdentity: (identity, _bundle, userId, deviceId) => crypto.adoptIdentity(identity, userId, deviceId),
  };
}

export function memoryBackupStore(): BackupStore {
  let b: BackupLocal | undefined;
  return {
    load: async () => b,
    save: async (x) => {
      b = structuredClone(x);
    },
    clear: async () => {
      b = undefined;
    },
  };
}
