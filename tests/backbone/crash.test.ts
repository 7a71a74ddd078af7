import type { Stack } from '@hush/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addGateway, backbone, body, Inbox, msgId, newUser, sameDevice, sleep } from './support.js';

// A gateway process is SIGKILLed while messages flow through it: everything it acked to a sender
// must still reach the recipient (docs/RELIABILITY.md, "nothing is lost").
let stack: Stack;

beforeAll(async () => {
  stack = await backbone(2);
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

describe('a gateway killed with SIGKILL', () => {
  it('loses no message that had been acked to a sender; both ends carry on through the other gateway', async () => {
    const [victim, survivor] = stack.gateways as [NonNullable<Stack['gateways'][0]>, NonNullable<Stack['gateways'][1]>];
    const alice = await newUser(victim.url!, 'alice', { fallbackUrls: [survivor.url!] });
    const bob = await newUser(victim.url!, 'bob');
    // Both devices are on the victim; their clients know the survivor as a fallback.
    const a = alice.client.connect({ minBackoffMs: 50, maxBackoffMs: 500 });
    const b = sameDevice(bob, victim.url!, [survivor.url!]).connect({ minBackoffMs: 50, maxBackoffMs: 500 });
    await Promise.all([a.ready(), b.ready()]);
    const inbox = new Inbox().attach(b);

    const accepted = new Set<string>();
    const all: string[] = [];
    const sends: Promise<unknown>[] = [];
    let killed = false;
    for (let i = 0; i < 300; i++) {
      const id = `${msgId('k')}_${i}`;
      all.push(id);
      sends.push(
        a.send(id, [{ to: bob.addr, body: body(`n${i}`) }]).then(
          () => accepted.add(id),
          () => undefined,
        ),
      );
      if (i === 120) {
        // Mid-stream: some sends are accepted, some in flight, some deliveries unacked.
        await sleep(20);
        await victim.kill('SIGKILL');
        killed = true;
      } else if (i % 10 === 0) {
        await sleep(5);
      }
    }
    expect(killed).toBe(true);
    const acceptedBeforeKill = accepted.size;
    // The clients reconnect to the survivor and re-send what was waiting (same ids).
    await Promise.all(sends);
    expect(a.state).toBe('open');
    await inbox.waitForIds(accepted, 60_000);
    // Every accepted id arrived, each exactly once after client-side dedupe.
    expect([...accepted].every((id) => inbox.unique.has(id))).toBe(true);
    expect(inbox.unique.size).toBeLessThanOrEqual(all.length);
    expect(acceptedBeforeKill).toBeGreaterThan(0);
    expect(accepted.size).toBe(all.length);
    a.close();
    b.close();
    stack.gateways.splice(stack.gateways.indexOf(victim), 1);
  }, 120_000);
});

describe('a gateway stopped with SIGTERM', () => {
  it('closes its sockets with 4000 and the clients carry on through another gateway', async () => {
    const survivor = stack.gateways.find((g) => g.proc.exitCode === null && g.proc.signalCode === null)!;
    const leaving = await addGateway(stack);
    const alice = await newUser(leaving.url!, 'alice', { fallbackUrls: [survivor.url!] });
    const bob = await newUser(survivor.url!, 'bob');
    const a = alice.client.connect({ minBackoffMs: 50, maxBackoffMs: 500 });
    const b = bob.client.connect();
    await Promise.all([a.ready(), b.ready()]);
    const inbox = new Inbox().attach(b);
    const codes: number[] = [];
    a.on('state', (s) => s.state === 'offline' && s.code !== undefined && codes.push(s.code));
    const before = msgId('pre');
    await a.send(before, [{ to: bob.addr, body: body('before') }]);
    await leaving.kill('SIGTERM');
    expect(leaving.proc.exitCode).toBe(0);
    const after = msgId('post');
    await a.send(after, [{ to: bob.addr, body: body('after') }]);
    await inbox.waitForIds([before, after]);
    expect(codes[0]).toBe(4000);
    a.close();
    b.close();
    stack.gateways.splice(stack.gateways.indexOf(leaving), 1);
  }, 180_000);
});
