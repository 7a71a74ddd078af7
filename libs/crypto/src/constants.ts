/**
 * Every limit and label of the protocol, each with its reason (as libsignal's `consts.rs`).
 * Changing a label breaks compatibility with existing sessions and signatures: bump the version.
 */

// ---- limits ----

/**
 * Most message keys we derive and keep for one receiving chain in one step (Double Ratchet §4,
 * "MAX_SKIP"). Bounds the work a forged header with a huge `n` can make us do, while covering
 * realistic loss/reordering on one chain (a burst of 1000 unacknowledged messages).
 */
export const MAX_SKIP_PER_CHAIN = 1000;
/**
 * Most skipped message keys kept across all chains of one session. Old ones are evicted first.
 * Bounds memory and storage per session; a key evicted means that very late message is lost.
 */
export const MAX_SKIPPED_KEYS_TOTAL = 2000;
/**
 * How many earlier receiving-chain ratchet keys we remember (only their public keys and counters)
 * to tell a replayed old-chain message (E2E_DUPLICATE_MESSAGE) from a corrupt one.
 */
export const MAX_OLD_CHAINS = 8;
/**
 * Sessions kept per peer device (Sesame §3: one active plus inactive ones). Inactive sessions keep
 * decrypting messages that were in flight when a newer session took over (simultaneous initiation).
 */
export const MAX_SESSIONS_PER_DEVICE = 5;
/**
 * Earlier device-list versions remembered per account (version, digest, devices). A list whose
 * version we saw before but whose content differs is a fork (E2E_DEVICE_LIST_CONFLICT), and a device
 * found in an earlier version but not the newest is reported as removed (E2E_DEVICE_REMOVED). 32
 * changes cover years of normal use; older versions are still refused as stale by number alone.
 */
export const DEVICE_LIST_HISTORY = 32;
/** Most devices in one signed list; the same bound as keydir's schema (MAX_DEVICES_PER_USER). */
export const MAX_DEVICES_PER_ACCOUNT = 16;
/** One-time prekeys generated per batch (keydir accepts up to 200 per upload). */
export const DEFAULT_ONE_TIME_PREKEY_BATCH = 100;
/** Signed prekeys older than this should be replaced (X3DH §4.2 suggests weekly or monthly). */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600 * 1000;
/**
 * A replaced signed prekey's private half is kept this long, so prekey messages that were already
 * in flight (offline recipient) can still be decrypted, then deleted for forward secrecy.
 */
export const SIGNED_PREKEY_GRACE_MS = 30 * 24 * 3600 * 1000;
/**
 * Retry requests per (message, requesting device) a sender answers (WhatsApp retries a few times,
 * then shows the message as failed). Each answer is a new X3DH session, so this bounds what a
 * replayed or looping request costs; 5 covers a restore during recovery with room to spare.
 */
export const MAX_RETRY_ATTEMPTS = 5;
/** A retry request older than this is refused: the sender no longer keeps the plaintext anyway. */
export const RETRY_REQUEST_MAX_AGE_MS = 14 * 24 * 3600 * 1000;
/** How far ahead of our clock a retry request may be dated (clocks of two devices differ). */
export const RETRY_REQUEST_MAX_SKEW_MS = 24 * 3600 * 1000;
/** Largest plaintext we pad and encrypt (64 KiB); bigger payloads go as encrypted attachments. */
export const MAX_PLAINTEXT_BYTES = 64 * 1024;

// ---- sizes ----
export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const XCHACHA_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;

// ---- versions ----
/**
 * First byte of every encrypted message. 2: random nonce on the wire, the sender's device list in
 * prekey messages (version 1 derived the nonce from the message key; refused since).
 */
export const MESSAGE_VERSION = 2;
/** Version of serialised session state. */
export const SESSION_STATE_VERSION = 1;
/** Safety-number format version (Signal's displayable fingerprint version). */
export const SAFETY_NUMBER_VERSION = 0;
/** Version byte of the QR payload. */
export const QR_PAYLOAD_VERSION = 1;
/** Signal's displayable fingerprint iteration count (5200 rounds of SHA-512 per side). */
export const SAFETY_NUMBER_ITERATIONS = 5200;

// ---- KDF and signature labels (domain separation) ----
const enc = (s: string) => new TextEncoder().encode(s);
/** X3DH §2.2 info string. */
export const LABEL_X3DH = enc('hush/x3dh/v1');
/** Double Ratchet §5.2 KDF_RK info string. */
export const LABEL_ROOT = enc('hush/ratchet-root/v1');
/** Expands a message key into the AEAD key (Double Ratchet §5.2 recommends HKDF here). */
export const LABEL_MESSAGE_KEY = enc('hush/message-key/v2');
/** Double Ratchet §5.2 KDF_CK: HMAC(ck, 0x01) -> message key, HMAC(ck, 0x02) -> next chain key. */
export const CHAIN_MESSAGE_KEY_INPUT = new Uint8Array([0x01]);
export const CHAIN_NEXT_KEY_INPUT = new Uint8Array([0x02]);
/** Ed25519 signature statements: each starts with its own label, so one can never pass for another. */
export const LABEL_SIG_DEVICE_KEY = 'hush/sig/device-key/v1';
export const LABEL_SIG_SIGNED_PREKEY = 'hush/sig/signed-prekey/v1';
export const LABEL_SIG_ONE_TIME_PREKEY = 'hush/sig/one-time-prekey/v1';
export const LABEL_SIG_DEVICE_LIST = 'hush/sig/device-list/v1';
export const LABEL_SIG_RETRY_REQUEST = 'hush/sig/retry-request/v1';
/** Prefix of the safety-number QR payload. */
export const QR_MAGIC = enc('HUSHQR');
