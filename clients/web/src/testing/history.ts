import type { Session } from '@hush/protocol';
import type { ChatMessage, Conversation } from '../core/model.js';
import type { HistoryPort } from '../engine/ports.js';
import type { OwnProfile } from '../engine/profile.js';

/**
 * A HistoryPort whose writes can be made to fail as a full or broken IndexedDB does
 * (QuotaExceededError), in front of a real one.
 */
export class FlakyHistory implements HistoryPort {
  failWrites = false;
  constructor(private readonly inner: HistoryPort) {}
  private check(): void {
    if (this.failWrites) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  }
  get hasLock() {
    return this.inner.hasLock;
  }
  getSession() {
    return this.inner.getSession();
  }
  async putSession(s: Session) {
    this.check();
    await this.inner.putSession(s);
  }
  deleteSession() {
    return this.inner.deleteSession();
  }
  getOwner() {
    return this.inner.getOwner();
  }
  async putOwner(userId: string) {
    this.check();
    await this.inner.putOwner(userId);
  }
  conversations() {
    return this.inner.conversations();
  }
  messages(peer: string) {
    return this.inner.messages(peer);
  }
  async putConversation(c: Conversation) {
    this.check();
    await this.inner.putConversation(c);
  }
  async putMessage(m: ChatMessage) {
    this.check();
    await this.inner.putMessage(m);
  }
  async putAttachment(id: string, bytes: Uint8Array) {
    this.check();
    await this.inner.putAttachment(id, bytes);
  }
  getAttachment(id: string) {
    return this.inner.getAttachment(id);
  }
  async deleteMessage(conv: string, id: string) {
    this.check();
    await this.inner.deleteMessage(conv, id);
  }
  async deleteAttachment(id: string) {
    this.check();
    await this.inner.deleteAttachment(id);
  }
  getProfile() {
    return this.inner.getProfile();
  }
  async putProfile(p: OwnProfile) {
    this.check();
    await this.inner.putProfile(p);
  }
  getSearchIndex() {
    return this.inner.getSearchIndex();
  }
  async putSearchIndex(encoded: string) {
    this.check();
    await this.inner.putSearchIndex(encoded);
  }
  async putMany(messages: readonly ChatMessage[], conversations?: readonly Conversation[]) {
    this.check();
    await this.inner.putMany(messages, conversations);
  }
  wipe() {
    return this.inner.wipe();
  }
  setLock(passphrase: string) {
    return this.inner.setLock(passphrase);
  }
  removeLock() {
    return this.inner.removeLock();
  }
}
