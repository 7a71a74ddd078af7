import { describe, expect, it } from 'vitest';
import { encryptionStatus } from '../core/model.js';
import { SearchIndex } from '../core/search.js';
import { device, pair } from '../testing/engines.js';
import { FakeHub } from '../testing/hub.js';
import { settle } from '../testing/settle.js';
import { SEARCH_SAVE_MS } from './search.js';

const AVATAR = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);

/** Alice and Bob registered, but Bob's first device has not published its keys yet (as a moment after signing up). */
async function bobWithoutKeys() {
  const hub = new FakeHub();
  const a = await device(hub);
  const b = await device(hub);
  await a.e.register('alice', 'password1');
  await b.e.register('bob', 'password2');
  await settle(a.e, b.e);
  const bob = hub.accounts.get('bob')!;
  const key = bob.identityKey;
  bob.identityKey = null;
  return { hub, a, b, bob, key };
}

describe('profiles, search and late registration (engine, fake gateway)', () => {
  it('sends the profile to contacts when it changes; the contact keeps the name and fetches the avatar', async () => {
    const { a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'hello');
    await settle(a.e, b.e);
    await a.e.setProfile('  Alice \u202E Liddell ', { bytes: AVATAR, mime: 'image/jpeg' });
    await settle(a.e, b.e);
    expect(a.e.state.profile?.name).toBe('Alice Liddell');
    const seen = b.e.state.conversations.find((c) => c.peer === aliceId)!;
    expect(seen.displayName).toBe('Alice Liddell');
    expect(seen.username).toBe('alice');
    expect(seen.avatar?.mime).toBe('image/jpeg');
    expect(await b.e.attachment(seen.avatar!)).toEqual(AVATAR);
    // Sent once per change: another message does not send it again.
    const at = a.e.state.profile!.at;
    expect(a.e.state.conversations.find((c) => c.peer === bobId)!.profileSent).toBe(at);
    // Removing the picture reaches the contact too.
    await a.e.setProfile('Alice', null);
    await settle(a.e, b.e);
    const after = b.e.state.conversations.find((c) => c.peer === aliceId)!;
    expect(after.displayName).toBe('Alice');
    expect(after.avatar).toBeNull();
  });

  it('gives a new contact the profile after the first message to them', async () => {
    const hub = new FakeHub();
    const a = await device(hub);
    const b = await device(hub);
    await a.e.register('alice', 'password1');
    await b.e.register('bob', 'password2');
    await a.e.setProfile('Alice L.');
    const bobId = (await a.e.startChat('bob'))!;
    await settle(a.e, b.e);
    expect(b.e.state.conversations).toEqual([]);
    await a.e.send(bobId, 'first');
    await settle(a.e, b.e);
    expect(b.e.state.conversations[0]!.displayName).toBe('Alice L.');
  });

  it('finds messages by word prefix, forgets deleted ones, and keeps the index in the vault across a reload', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'lunch at the harbour on friday');
    await settle(a.e, b.e);
    hub.clock.advance(1_000);
    await b.e.send(aliceId, 'Harbour lights tonight');
    await a.e.send(bobId, 'unrelated');
    await settle(a.e, b.e);
    const hits = a.e.searchMessages('harb');
    expect(hits.map((h) => h.snippet.match)).toEqual(['Harbour', 'harbour']);
    expect(hits.every((h) => h.conv === bobId)).toBe(true);
    expect(a.e.searchMessages('friday harb')).toHaveLength(1);
    a.e.search.forget(hits[0]!.id);
    expect(a.e.searchMessages('lights')).toEqual([]);
    hub.clock.advance(SEARCH_SAVE_MS);
    await settle(a.e, b.e);
    // Stored in the vault (encrypted at rest like the history) and decoded on the next boot.
    const stored = await a.history.getSearchIndex();
    expect(SearchIndex.decode(stored!).size).toBe(2);
    const again = await device(hub, a.records, a.crypto);
    await settle(again.e);
    expect(again.e.searchMessages('lunch').map((h) => h.conv)).toEqual([bobId]);
  });

  it('a chat started just before the contact published keys says "not registered yet" and turns usable by itself', async () => {
    const { hub, a, b, bob, key } = await bobWithoutKeys();
    const bobId = (await a.e.startChat('bob'))!;
    a.e.openConversation(bobId);
    await settle(a.e);
    const c = () => a.e.state.conversations.find((x) => x.peer === bobId)!;
    expect(encryptionStatus(c())).toBe('red');
    expect(c().keysMissing).toBe(true);
    expect(c().cannotEncrypt).toMatch(/not registered yet/);
    // Still nothing: the next looks back off (1 s, 2 s, 4 s, ...).
    hub.clock.advance(1_000);
    await settle(a.e);
    expect(encryptionStatus(c())).toBe('red');
    bob.identityKey = key;
    hub.clock.advance(2_000);
    await settle(a.e, b.e);
    expect(encryptionStatus(c())).toBe('yellow');
    expect(c().keysMissing).toBe(false);
    await a.e.send(bobId, 'made it');
    await settle(a.e, b.e);
    expect(b.e.state.messages[a.e.state.me!.userId]!.map((m) => m.text)).toEqual(['made it']);
  });

  it('looks for the keys again when the user presses Send on a waiting chat', async () => {
    const { a, b, bob, key } = await bobWithoutKeys();
    const bobId = (await a.e.startChat('bob'))!;
    await a.e.send(bobId, 'too early');
    expect(a.e.state.notice).toMatch(/not registered yet/);
    expect(a.e.state.messages[bobId]).toEqual([]);
    bob.identityKey = key;
    // No timer ran (the chat is not open): the send itself looks again.
    await a.e.send(bobId, 'now');
    await settle(a.e, b.e);
    expect(b.e.state.messages[a.e.state.me!.userId]!.map((m) => m.text)).toEqual(['now']);
  });
});
