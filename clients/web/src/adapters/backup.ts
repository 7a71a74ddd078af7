import type { HushClient } from '@hush/client';
import {
  createPrimitives,
  defaultRandomBytes,
  deriveBackupKeys,
  formatRecoveryKey,
  fromBase64,
  generateRecoveryKey,
  isCryptoError,
  openBackupObject,
  type Primitives,
  parseRecoveryKey,
  sealBackupObject,
  signDeviceList,
  toBase64,
  verifyDeviceList,
  wipeBackupKeys,
} from '@hush/crypto';
import type { BackupCodec, BackupLocal, BackupServer, BackupStore } from '../engine/backup-ports.js';
import type { CryptoPort } from '../engine/ports.js';
import type { Vault } from '../store/vault.js';

/**
 * The backup's codec: recovery keys and sealing from @hush/crypto (PROTOCOL.md §12), with JSON
 * deflated (the platform's CompressionStream, "deflate-raw") before padding and encryption.
 * Compressing before encrypting can leak through sizes when attacker text and secrets share one
 * object; chunks are padded to power-of-two buckets, and the manifest (which holds the identity
 * key) carries no text a contact chose (docs/SECURITY.md, "Encrypted backup").
 */
export function backupCodec(crypto: Pick<CryptoPort, 'adoptIdentity'>): BackupCodec {
  const prims: Promise<Primitives> = createPrimitives();
  const keysOf = (s: { encryption: string }) => ({ encryption: fromBase64(s.encryption) });
  return {
    newRecoveryKey: () => formatRecoveryKey(generateRecoveryKey(defaultRandomBytes)),
    async derive(text, userId) {
      let key: Uint8Array;
      try {
        key = parseRecoveryKey(text);
      } catch (e) {
        if (isCryptoError(e, 'E2E_BAD_KEY')) throw new Error(`That is not a recovery key. ${e.message}.`);
        throw e;
      }
      const k = deriveBackupKeys(key, userId);
      key.fill(0);
      const out = {
        userId,
        encryption: toBase64(k.encryption),
        authenticator: toBase64(k.authenticator),
        verifier: toBase64(k.verifier),
      };
      wipeBackupKeys(k);
      return out;
    },
    async seal(s, name, value) {
      const packed = await deflate(new TextEncoder().encode(JSON.stringify(value)));
      return toBase64(sealBackupObject(keysOf(s), s.userId, name, packed, defaultRandomBytes));
    },
    async open<T>(s: { encryption: string; userId: string }, name: string, data: string): Promise<T> {
      const packed = openBackupObject(keysOf(s), s.userId, name, fromBase64(data));
      return JSON.parse(new TextDecoder().decode(await inflate(packed))) as T;
    },
    chunkId: () => toBase64(defaultRandomBytes(16)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
    positions(n, of) {
      const picked = new Set<number>();
      while (picked.size < Math.min(n, of)) picked.add(1 + (defaultRandomBytes(1)[0]! % of));
      return [...picked].sort((a, b) => a - b);
    },
    bytes: (data) => Math.floor((data.length * 3) / 4) - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0),
    async restoreIdentity(identity, bundle, userId, deviceId, now, oneTimePrekeys) {
      const p = await prims;
      const seed = fromBase64(identity.seed);
      const publicKey = await p.ed25519PublicKey(seed);
      if (toBase64(publicKey) !== identity.publicKey) throw new Error('The backup’s identity key is damaged.');
      if (bundle.identityKey !== identity.publicKey) {
        throw new Error('This backup holds an identity your account no longer uses (it was reset after the backup).');
      }
      // The account's current list, checked under the restored identity, plus this device.
      const current = await verifyDeviceList(p, userId, publicKey, bundle.deviceList);
      const devices = [...new Set([...current.devices, deviceId])];
      const list = await signDeviceList(
        p,
        { seed, publicKey },
        { userId, version: current.version + 1, devices, issuedAt: now },
      );
      return crypto.adoptIdentity(identity, userId, deviceId, list, now, oneTimePrekeys);
    },
  };
}

async function pipe(bytes: Uint8Array, t: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(t));
  return new Uint8Array(await out.arrayBuffer());
}
const deflate = (b: Uint8Array) => pipe(b, new CompressionStream('deflate-raw'));
const inflate = (b: Uint8Array) => pipe(b, new DecompressionStream('deflate-raw'));

/** This device's backup record, in the vault (encrypted at rest like every other record). */
export function vaultBackupStore(getVault: () => Vault): BackupStore {
  const KEY = 'b:backup';
  return {
    load: () => getVault().get<BackupLocal>(KEY),
    save: (b) => getVault().put(KEY, b),
    clear: () => getVault().delete(KEY),
  };
}

/** The gateway's backup routes over @hush/client. */
export function backupServer(client: HushClient): BackupServer {
  return {
    status: () => client.backupStatus(),
    create: (verifier) => client.backupCreate(verifier),
    remove: () => client.backupDelete(),
    claim: (auth) => client.backupClaim(auth),
    get: (auth, what) => client.backupGet(auth, what),
    put: (auth, what, data) => client.backupPut(auth, what, data),
    deleteChunk: (auth, chunk) => client.backupDeleteChunk(auth, chunk),
  };
}
