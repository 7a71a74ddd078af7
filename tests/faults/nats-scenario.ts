import type { ClusterNode } from '@hush/testkit';
import { expect } from 'vitest';
import type { FaultClient } from './fault-client.js';
import {
  expectEachOnce,
  type FaultStack,
  outcomeFields,
  report,
  settle,
  sleep,
  startTraffic,
  stopAll,
} from './fault-stack.js';

/** How long delivery may take to settle after a NATS node kill (the test also spends 9 s on traffic). */
const NATS_SETTLE_MS = 20_000;
/** Traffic rate: steady, well below capacity, so the fault (not load) is tested. */
const RATE = 100;

/** Every node current with the meta leader, and the mailbox stream led with both followers current. */
export async function waitWhole(fs: FaultStack, timeoutMs = 30_000): Promise<void> {
  await fs.cluster.waitHealthy(timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const info = await fs.jsm.streams.info(fs.streamName).catch((e) => String(e));
    if (typeof info === 'string') last = info;
    else {
      const replicas = info.cluster?.replicas ?? [];
      last = JSON.stringify(info.cluster);
      if (info.cluster?.leader && replicas.length === 2 && replicas.every((r) => r.current && !r.offline)) return;
    }
    if (Date.now() > deadline) {
      throw new Error(`the mailbox stream is not whole after ${timeoutMs} ms: ${last}\n${fs.cluster.logs(30)}`);
    }
    await sleep(250);
  }
}

/** Asks the stream's leader to step down until another node than `name` leads it. */
export async function moveStreamLeaderOff(fs: FaultStack, name: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const leader = (await fs.jsm.streams.info(fs.streamName)).cluster?.leader;
    if (leader && leader !== name) return;
    await fs.nc
      .request(`$JS.API.STREAM.LEADER.STEPDOWN.${fs.streamName}`, undefined, { timeout: 5_000 })
      .catch(() => undefined);
    await sleep(1_000);
  }
  throw new Error(`the stream leader stayed on ${name}`);
}

/** Traffic; kill `node` after 2 s; restart it 5 s later; 2 s more traffic; everything must arrive. */
export async function natsNodeScenario(
  fs: FaultStack,
  clients: (n: number, tag: string) => Promise<FaultClient[]>,
  node: ClusterNode,
  tag: string,
  title: string,
): Promise<void> {
  // One fault at a time: three replicas survive the loss of one node, not of a second while one is
  // still catching up, so every node must be current with the meta leader and both followers of the
  // mailbox stream current before the kill, as an operator's rolling restart of NATS waits for the
  // restarted node (docs/RELIABILITY.md, "One fault at a time"). Each NATS kill is the last fault
  // of its cluster, so nothing waits for the cluster after it.
  await waitWhole(fs);
  const cs = await clients(12, tag);
  const leader = (await fs.jsm.streams.info(fs.streamName)).cluster?.leader;
  const traffic = startTraffic(cs, RATE, `${tag}msg`);
  await sleep(2_000);
  await node.kill();
  const killedAt = performance.now();
  await sleep(5_000);
  await node.restart();
  const restartedAt = performance.now();
  await sleep(2_000);
  traffic.stop();
  const o = await settle(cs, traffic.sent, NATS_SETTLE_MS);
  // Only for the report: right after a node restart nats-server 2.9.10 has answered "stream not
  // found" for a while, which says nothing about the messages (settle above already counted them).
  const after = await fs.jsm.streams.info(fs.streamName).catch(() => undefined);
  // Diagnosis when something is missing: is it still in the recipients' mailboxes (stuck, not
  // gone), and does it arrive once the clients reconnect (fresh consumers)?
  let waitingInMailboxes = 0;
  let inStream = 0;
  let missingConsumers = 0;
  let arrivedAfterReconnect = 0;
  if (o.lost.length > 0) {
    for (const c of cs) {
      const ci = await fs.jsm.consumers.info(fs.streamName, fs.consumerName(c.address)).catch(() => undefined);
      if (!ci) missingConsumers++;
      waitingInMailboxes += (ci?.num_pending ?? 0) + (ci?.num_ack_pending ?? 0);
    }
    // What the stream itself still holds (a missing consumer reads as 0 above).
    const si = await fs.jsm.streams.info(fs.streamName, { subjects_filter: '>' }).catch(() => undefined);
    inStream = Object.values(si?.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    // Each lost message: who it was for, when it was sent and accepted relative to the kill, and
    // what the recipient's consumer and mailbox subject hold now.
    for (const id of o.lost.slice(0, 5)) {
      const m = traffic.sent.get(id)!;
      const to = cs[m.to]!;
      const ci = await fs.jsm.consumers.info(fs.streamName, fs.consumerName(to.address)).catch((e) => String(e));
      const si = await fs.jsm.streams
        .info(fs.streamName, { subjects_filter: `>` })
        .then((x) =>
          Object.entries(x.state.subjects ?? {}).filter(([k]) => k.endsWith(`${to.address.user}.${to.address.device}`)),
        )
        .catch((e) => String(e));
      const acceptedAt = cs[m.from]!.acceptedAt.get(id);
      console.log(
        `[faults] lost ${id} to=${m.to} sentMs=${(m.at - killedAt).toFixed(0)} acceptedMs=${acceptedAt === undefined ? '-' : (acceptedAt - killedAt).toFixed(0)} ` +
          `closeCodes=${to.closeCodes.join(',')} gateways=${[...to.gatewaysUsed].join(',')} subject=${JSON.stringify(si)} ` +
          `consumer=${typeof ci === 'string' ? ci : JSON.stringify({ delivered: ci.delivered, ack_floor: ci.ack_floor, pending: ci.num_pending, ackPending: ci.num_ack_pending, redelivered: ci.num_redelivered, leader: ci.cluster?.leader })}`,
      );
    }
    console.log(`[faults] ${title}: the NATS nodes' logs\n${fs.cluster.logs(60)}`);
    for (const c of cs) c.ws?.terminate();
    const again = await settle(cs, traffic.sent, 10_000);
    arrivedAfterReconnect = o.lost.length - again.lost.length;
  }
  report(title, {
    killed: `${node.name}${node.name === leader ? '(stream leader)' : ''}`,
    downMs: (restartedAt - killedAt).toFixed(0),
    leaderBefore: leader,
    leaderAfter: after?.cluster?.leader ?? 'unknown',
    ...outcomeFields(o),
    waitingInMailboxes,
    inStream,
    missingConsumers,
    arrivedAfterReconnect,
  });
  expect(
    o.lost.length,
    `${o.lost.length} accepted messages were not delivered to open sockets within ${NATS_SETTLE_MS} ms; ` +
      `${waitingInMailboxes} were still waiting in the mailboxes and ${arrivedAfterReconnect} arrived once the ` +
      'clients reconnected: the gateway did not resume its mailbox consumers after the NATS failure',
  ).toBe(0);
  expectEachOnce(cs, traffic.sent, o);
  await stopAll(cs);
}
