import type { Session } from '@hush/protocol';
import type { ChatMessage, Conversation } from '../core/model.js';
import type { HistoryPort } from '../engine/ports.js';
import type { OwnProfile } from '../engine/profile.js';
import type { RecordStore } from '../store/records.js';
import { Vault } from '../store/vault.js';

/** Record names: ids only, never content (store/records.ts). */
const K = {
  session: 's:session',
  owner: 's:owner',
  conv: (peer: string) => `conv:${peer}`,
  convPrefix: 'conv:',
  msg: (peer: string, id: string) => `msg:${peer}:${id}`,
  msgPrefix: (peer: string) => `msg:${peer}:`,
  att: (id: string) => `att:${id}`,
  profile: 's:profile',
  search: 's:search',
};

/** HistoryPort over the vault (AES-GCM at rest in IndexedDB). */
export class VaultHistory implements HistoryPort {
  constructor(readonly vault: Vault) {}
  get hasLock(): boolean {
    return this.vault.hasLock;
  }
  getSession() {
    return this.vault.get<Session>(K.session);
  }
  putSession(s: Session) {
    return this.vault.put(K.session, s);
  }
  deleteSession() {
    return this.vault.delete(K.session);
  }
  getOwner() {
    return this.vault.get<string>(K.owner);
  }
  putOwner(userId: string) {
    return this.vault.put(K.owner, userId);
  }
  conversations() {
    return this.vault.list<Conversation>(K.convPrefix);
  }
  messages(peer: string) {
    return this.vault.list<ChatMessage>(K.msgPrefix(peer));
  }
  putConversation(c: Conversation) {
    return this.vault.put(K.conv(c.peer), c);
  }
  putMessage(m: ChatMessage) {
    return this.vault.put(K.msg(m.conv, m.id), m);
  }

  putAttachment(id: string, bytes: Uint8Array): Promise<void> {
    return this.vault.put(K.att(id), bytes);
  }

  getAttachment(id: string): Promise<Uint8Array | undefined> {
    return this.vault.get<Uint8Array>(K.att(id));
  }
  deleteMessage(conv: string, id: string): Promise<void> {
    return this.vault.delete(K.msg(conv, id));
  }
  deleteAttachment(id: string): Promise<void> {
    return this.vault.delete(K.att(id));
  }
  getProfile() {
    return this.vault.get<OwnProfile>(K.profile);
  }
  putProfile(p: OwnProfile) {
    return this.vault.put(K.profile, p);
  }
  getSearchIndex() {
    return this.vault.get<string>(K.search);
  }
  putSearchIndex(encoded: string) {
    return this.vault.put(K.search, encoded);
  }
  putMany(messages: readonly ChatMessage[], conversations: readonly Conversation[] = []) {
    return this.vault.putMany([
      ...messages.map((m) => [K.msg(m.conv, m.id), m] as const),
      ...conversations.map((c) => [K.conv(c.peer), c] as const),
    ]);
  }
  wipe() {
    return this.vault.wipe();
  }
  setLock(passphrase: string) {
    return this.vault.setLock(passphrase);
  }
  removeLock() {
    return this.vault.removeLock();
  }
}

/**
 * The page's one record store and the vault currently open over it. Sign-out wipes the vault and
 * opens a fresh one; the crypto adapter follows `current` so keys land in the same vault.
 */
export class VaultSlot {
  current: VaultHistory | null = null;
  constructor(private readonly records: RecordStore) {}
  /** The open history, or null when an app lock must be opened first. */
  async open(): Promise<VaultHistory | null> {
    if (await Vault.isLocked(this.records)) return null;
    return this.reopen();
  }
  async reopen(): Promise<VaultHistory> {
    this.current = new VaultHistory(await Vault.open(this.records));
    return this.current;
  }
  /** Deletes every record and key without opening the vault (a forgotten app-lock passphrase). */
  async erase(): Promise<VaultHistory> {
    await this.records.clear();
    return this.reopen();
  }
  async unlock(passphrase: string): Promise<VaultHistory> {
    this.current = new VaultHistory(await Vault.unlock(this.records, passphrase));
    return this.current;
  }
  vault(): Vault {
    if (!this.current) throw new Error('the store is locked');
    return this.current.vault;
  }
}
