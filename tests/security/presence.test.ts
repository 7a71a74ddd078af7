import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, register, type SecurityStack, securityStack, sleep, Ws } from './stack.js';

// Presence is shared only with contacts (docs/ARCHITECTURE.md 9), on the query and on the live path.
let st: SecurityStack;
beforeAll(async () => {
  st = await securityStack('secpres');
});
afterAll(async () => {
  await st?.stop();
});

describe('presence privacy against the real presence service', () => {
  it('never streams the live presence of a user who did not add the watcher, and still streams it to a contact', async () => {
    const [target, stranger, friend] = await Promise.all([
      register(st.gw, 'target'),
      register(st.gw, 'stranger'),
      register(st.gw, 'friend'),
    ]);
    // The target shares presence with `friend` only.
    const add = await http(st.gw, 'PUT', `/v1/contacts/${friend.addr.user}`, { token: target.session.accessToken });
    expect(add.status).toBe(204);

    const watcher = await Ws.connect(st.gw.wsUrl, stranger.session.accessToken);
    const contact = await Ws.connect(st.gw.wsUrl, friend.session.accessToken);
    watcher.send({ type: 'presence.sub', users: [target.addr.user] });
    contact.send({ type: 'presence.sub', users: [target.addr.user] });
    // Both get the query answer first; the stranger's says nothing (never seen, offline).
    expect(await watcher.nextType('presence')).toMatchObject({ user: target.addr.user, online: false, lastSeen: null });
    expect(await contact.nextType('presence')).toMatchObject({ user: target.addr.user, online: false });

    // The target comes online and goes offline again.
    const t = await Ws.connect(st.gw.wsUrl, target.session.accessToken);
    expect(await contact.next((f) => f.type === 'presence' && f.online === true)).toMatchObject({
      user: target.addr.user,
    });
    t.close();
    const off = await contact.next((f) => f.type === 'presence' && f.online === false);
    expect(off.lastSeen).toBeTypeOf('number');

    // The contact has seen both transitions, so the stranger would have too: it must have none.
    await sleep(200);
    expect(watcher.frames.filter((f) => f.type === 'presence')).toEqual([]);
    watcher.close();
    contact.close();
  });

  it('answers a non-contact the same on the HTTP query as for a user never seen', async () => {
    const [target, stranger] = await Promise.all([register(st.gw, 'target2'), register(st.gw, 'strang2')]);
    const t = await Ws.connect(st.gw.wsUrl, target.session.accessToken);
    const r = await http<{ users: unknown[] }>(st.gw, 'GET', `/v1/presence?users=${target.addr.user}`, {
      token: stranger.session.accessToken,
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ users: [{ userId: target.addr.user, online: false, lastSeen: null }] });
    t.close();
  });
});
