import { describe, expect, it } from 'vitest';
import { linkOf, pair } from '../testing/engines.js';
import { settle } from '../testing/settle.js';
import { SIGNED_OUT_ELSEWHERE } from './signed-out.js';

describe('a 4409 "replaced" close', () => {
  it('pauses this window while the session lives, and "Use here" connects again', async () => {
    const { hub, a, b } = await pair();
    linkOf(hub, a.e).replace();
    await settle(a.e, b.e);
    expect(a.e.state.phase).toBe('ready');
    expect(a.e.state.connection).toBe('replaced');
    a.e.useHere();
    await settle(a.e, b.e);
    expect(a.e.state.connection).toBe('online');
  });

  it('is told apart from a sign-out that it overtook: the device is signed out, in words, at once', async () => {
    const { hub, a, b } = await pair();
    hub.revokedDevices.add(a.e.state.me!.deviceId);
    linkOf(hub, a.e).replace();
    await settle(a.e, b.e);
    expect(a.e.state.phase).toBe('signed-out');
    expect(a.e.state.notice).toBe(SIGNED_OUT_ELSEWHERE);
    expect(a.e.state.conversations).toEqual([]);
  });
});
