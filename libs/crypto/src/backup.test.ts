import { createHash, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/helpers.js';
import {
  BACKUP_MIN_PAD,
  backupPaddedLength,
  deriveBackupKeys,
  formatRecoveryKey,
  generateRecoveryKey,
  LABEL_BACKUP_AUTH,
  LABEL_BACKUP_ENCRYPTION,
  LABEL_BACKUP_VERIFIER,
  openBackupObject,
  parseRecoveryKey,
  sealBackupObject,
} from './backup.js';
import { fromHex, toHex, utf8 } from './encoding.js';
import { isCryptoError } from './errors.js';

const key = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const user = 'aliceuser00000000001';

const expectCode = (f: () => unknown, code: string) => {
  try {
    f();
  } catch (e) {
    expect(isCryptoError(e) && e.code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
};

describe('the recovery key', () => {
  it('is 32 random bytes shown as 64 hexadecimal digits in 16 groups, and reads back however it is typed', () => {
    const k = generateRecoveryKey(seededRandom(7));
    const text = formatRecoveryKey(k);
    expect(text).toMatch(/^([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
    expect(parseRecoveryKey(text)).toEqual(k);
    expect(parseRecoveryKey(text.toUpperCase().replace(/ /g, '-'))).toEqual(k);
    expect(parseRecoveryKey(` ${text.replace(/ /g, '\n')} `)).toEqual(k);
    expect(formatRecoveryKey(key)).toBe(
      '0001 0203 0405 0607 0809 0a0b 0c0d 0e0f 1011 1213 1415 1617 1819 1a1b 1c1d 1e1f',
    );
  });

  it('refuses text that is not exactly 64 hexadecimal digits', () => {
    const text = formatRecoveryKey(key);
    expectCode(() => parseRecoveryKey(text.slice(0, -1)), 'E2E_BAD_KEY');
    expectCode(() => parseRecoveryKey(`${text}0`), 'E2E_BAD_KEY');
    expectCode(() => parseRecoveryKey(text.replace('0a0b', '0g0b')), 'E2E_BAD_KEY');
    expectCode(() => formatRecoveryKey(new Uint8Array(31)), 'E2E_BAD_KEY');
  });
});

describe('the backup keys (PROTOCOL.md §12.2)', () => {
  it('are HKDF-SHA-256 of the recovery key salted with the account, as an independent RFC 5869 implementation computes them', () => {
    const k = deriveBackupKeys(key, user);
    const node = (info: Uint8Array) => new Uint8Array(hkdfSync('sha256', key, utf8(user), info, 32));
    expect(toHex(k.encryption)).toBe(toHex(node(LABEL_BACKUP_ENCRYPTION)));
    expect(toHex(k.authenticator)).toBe(toHex(node(LABEL_BACKUP_AUTH)));
    const v = createHash('sha256').update(LABEL_BACKUP_VERIFIER).update(k.authenticator).digest('hex');
    expect(toHex(k.verifier)).toBe(v);
    expect(toHex(k.encryption)).not.toBe(toHex(k.authenticator));
  });

  it('differ for another account with the same recovery key', () => {
    const a = deriveBackupKeys(key, user);
    const b = deriveBackupKeys(key, 'bobuser0000000000001');
    expect(toHex(a.encryption)).not.toBe(toHex(b.encryption));
    expect(toHex(a.verifier)).not.toBe(toHex(b.verifier));
  });
});

describe('a sealed backup object (PROTOCOL.md §12.3)', () => {
  const keys = deriveBackupKeys(key, user);
  const rnd = seededRandom(1);

  it('opens under the same key, account and name, and is padded to a power-of-two bucket', () => {
    const plain = utf8('{"messages":[]}');
    const sealed = sealBackupObject(keys, user, 'chunk:abc', plain, rnd);
    expect(sealed.length).toBe(1 + 24 + BACKUP_MIN_PAD + 16);
    expect(openBackupObject(keys, user, 'chunk:abc', sealed)).toEqual(plain);
    const big = new Uint8Array(5000).fill(7);
    const sealedBig = sealBackupObject(keys, user, 'manifest', big, rnd);
    expect(sealedBig.length).toBe(1 + 24 + 8192 + 16);
    expect(openBackupObject(keys, user, 'manifest', sealedBig)).toEqual(big);
    expect(backupPaddedLength(1023)).toBe(1024);
    expect(backupPaddedLength(1024)).toBe(2048);
  });

  it('refuses a wrong recovery key, another name, another account and any flipped byte', () => {
    const sealed = sealBackupObject(keys, user, 'chunk:abc', utf8('history'), rnd);
    const wrong = deriveBackupKeys(fromHex('ff'.repeat(32)), user);
    expectCode(() => openBackupObject(wrong, user, 'chunk:abc', sealed), 'E2E_DECRYPT_FAILED');
    expectCode(() => openBackupObject(keys, user, 'chunk:abd', sealed), 'E2E_DECRYPT_FAILED');
    expectCode(() => openBackupObject(keys, 'bobuser0000000000001', 'chunk:abc', sealed), 'E2E_DECRYPT_FAILED');
    for (const i of [0, 1, 30, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[i] = bad[i]! ^ 1;
      expectCode(() => openBackupObject(keys, user, 'chunk:abc', bad), 'E2E_DECRYPT_FAILED');
    }
    expectCode(() => openBackupObject(keys, user, 'chunk:abc', sealed.slice(0, 20)), 'E2E_DECRYPT_FAILED');
  });

  it('uses a fresh nonce each time, so the same history never seals to the same bytes', () => {
    const a = sealBackupObject(keys, user, 'manifest', utf8('x'), rnd);
    const b = sealBackupObject(keys, user, 'manifest', utf8('x'), rnd);
    expect(toHex(a)).not.toBe(toHex(b));
  });
});
