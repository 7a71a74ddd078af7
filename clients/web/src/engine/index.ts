/**
 * The engine's public face: everything the views (ui/) and the page's entry point may use. Views
 * import from here only; they never reach into the engine's parts, the store or the adapters.
 */
export { b64Bytes } from '../core/b64.js';
export { MAX_TEXT_CHARS } from '../core/content.js';
export { MIN_PASSPHRASE_CHARS } from '../core/limits.js';
export {
  type ChatMessage,
  type Conversation,
  dayLabel,
  type EncryptionStatus,
  encryptionStatus,
  formatClock,
  formatLastSeen,
  formatTime,
  groupSafetyNumber,
  statusLabel,
  type Tick,
  type WireRecord,
} from '../core/model.js';
export type { DeviceRow, Devices, DevicesView, LinkState } from './devices.js';
export { Engine, type EngineDeps } from './engine.js';
export type { StateStore } from './store.js';
export type { Actions, AppState, ConnectionState, Me, Presence, SafetyInfo } from './types.js';
