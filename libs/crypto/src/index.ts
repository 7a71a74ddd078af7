/**
 * @hush/crypto: the end-to-end protocol (X3DH, Double Ratchet, Sesame-style multi-device sessions,
 * safety numbers, padding). Pure and isomorphic: no I/O; randomness, time and storage are
 * parameters. See README.md for the API and PROTOCOL.md for the protocol as built.
 */

export * from './attachment.js';
export {
  BACKUP_MAX_PLAINTEXT,
  BACKUP_MIN_PAD,
  type BackupKeys,
  backupPaddedLength,
  backupVerifier,
  deriveBackupKeys,
  formatRecoveryKey,
  generateRecoveryKey,
  openBackupObject,
  parseRecoveryKey,
  RECOVERY_KEY_BYTES,
  RECOVERY_KEY_DIGITS,
  RECOVERY_KEY_GROUP,
  sealBackupObject,
  wipeBackupKeys,
} from './backup.js';
export {
  type BundleExpectations,
  type IdentityStatus,
  type VerifiedDevice,
  type VerifiedUserBundle,
  verifyDeviceBundle,
  verifyUserBundle,
} from './bundle.js';
export * from './constants.js';
export { type DeviceListContent, deviceListStatement, signDeviceList, verifyDeviceList } from './device-list.js';
export {
  acceptDeviceList,
  type DeviceListCheck,
  type DeviceListStatus,
  type DeviceListUpdate,
  deviceStanding,
  requireListedDevice,
} from './device-list-history.js';
export { fromBase64, fromHex, fromUtf8, toBase64, toHex, utf8 } from './encoding.js';
export { CryptoError, type CryptoErrorCode, CryptoErrorCodes, isCryptoError } from './errors.js';
export {
  deviceKeyStatement,
  expiredSignedPrekeys,
  type GenerateDeviceOptions,
  generateDeviceKeys,
  generateIdentity,
  generateOneTimePrekeys,
  generateX25519KeyPair,
  oneTimePrekeyStatement,
  rotateSignedPrekey,
  signedPrekeyStatement,
} from './keys.js';
export * from './mls/index.js';
export {
  acceptOwnDeviceList,
  addDeviceToList,
  type DeviceListChange,
  ownDeviceList,
  proposeDeviceList,
  removeDeviceFromList,
} from './own-device-list.js';
export { pad, paddedLength, unpad } from './padding.js';
export { maintainSignedPrekey, type SignedPrekeySchedule, signedPrekeySchedule } from './prekey-rotation.js';
export {
  createPrimitives,
  defaultRandomBytes,
  type Now,
  type Primitives,
  type RandomBytes,
  tweetnaclPrimitives,
  webcryptoPrimitives,
} from './primitives/index.js';
export {
  decodeLinkCode,
  decodeOpening,
  deriveProvisioningKeys,
  encodeLinkCode,
  encodeOpening,
  LABEL_PROVISIONING,
  LINK_CODE_PREFIX,
  type LinkCode,
  newChannelId,
  openProvisioningChannel,
  PROVISIONING_CHANNEL_PATTERN,
  PROVISIONING_CODE_DIGITS,
  PROVISIONING_VERSION,
  ProvisioningCipher,
  type ProvisioningKeys,
  type ProvisioningRole,
} from './provisioning.js';
export type { RatchetLimits } from './ratchet/double-ratchet.js';
export {
  createRetryRequest,
  isRetryableDecryptError,
  isRetryRequest,
  openRetryRequest,
  type RetryRequest,
} from './retry-request.js';
export {
  compareQrPayload,
  formatSafetyNumber,
  type QrComparison,
  qrPayload,
  type SafetyNumberSide,
  safetyNumber,
} from './safety-number.js';
export {
  type DecryptResult,
  type EncryptOptions,
  type SessionInfo,
  SessionManager,
  type SessionManagerOptions,
} from './session-cipher.js';
export { MemoryStore } from './storage/memory.js';
export type * from './storage/types.js';
