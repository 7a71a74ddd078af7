/**
 * The engine's public face: everything the views (ui/) and the page's entry point may use. Views
 * import from here only; they never reach into the engine's parts, the store or the adapters.
 */
export { b64Bytes } from '../core/b64.js';
export { formatBackupAge, keyGroups } from '../core/backup.js';
export { type FileRef, MAX_TEXT_CHARS, MAX_VOICE_MS, voiceLabel } from '../core/content.js';
export { dayLabel, formatClock, formatLastSeen, formatTime, groupSafetyNumber } from '../core/format.js';
export {
  effectiveAdmins,
  type GroupPerson,
  type GroupRecord,
  groupStatus,
  groupStatusLabel,
  MAX_GROUP_NAME_CHARS,
} from '../core/groups.js';
export { MIN_PASSPHRASE_CHARS } from '../core/limits.js';
export { linkify, type TextPiece } from '../core/links.js';
export {
  MAX_TIMER_SECONDS,
  QUICK_REACTIONS,
  reactionSummary,
  TIMER_CHOICES,
  timerLabel,
} from '../core/message-ops.js';
export {
  type ChatMessage,
  type Conversation,
  type EncryptionStatus,
  encryptionStatus,
  statusLabel,
  type Tick,
  visibleMessages,
  type WireRecord,
} from '../core/model.js';
export { notificationText, titleWithUnread, unreadTotal } from '../core/notify.js';
export { AVATAR_PX, avatarColour, initials, MAX_NAME_CHARS, shownName } from '../core/profile.js';
export type { Backup, BackupView } from './backup.js';
export type { DeviceRow, Devices, DevicesView, LinkState } from './devices.js';
export { Engine, type EngineDeps } from './engine.js';
export type { Groups, GroupsView } from './groups.js';
export type { OwnProfile } from './profile.js';
export type { SearchHit } from './search.js';
export type { StateStore } from './store.js';
export type {
  Actions,
  AppState,
  ConnectionState,
  Me,
  MessageActions,
  Presence,
  SafetyInfo,
  Transfer,
} from './types.js';
