import { describe, it } from 'vitest';
import { useFaultStack } from './fault-stack.js';
import { moveStreamLeaderOff, natsNodeScenario } from './nats-scenario.js';

/**
 * The NATS node every service and gateway is connected to is killed under traffic and restarted,
 * on a cluster that has had no fault before (faults.test.ts says why it is not shared).
 */
describe('fault suite: the connected NATS node, on a cluster of its own', () => {
  const { fs, clients } = useFaultStack();

  it('when the NATS node the gateways are connected to is killed and restarted nothing acked is lost and nothing reaches the user twice', async () => {
    // Every service and gateway is connected to node 0 and must fail over to the others. The
    // stream leader is moved off node 0 first, so this case always differs from the stream-leader
    // kill: connections move, the stream's leader stays.
    await moveStreamLeaderOff(fs(), fs().cluster.nodes[0]!.name);
    await natsNodeScenario(fs(), clients, fs().cluster.nodes[0]!, 'fnatsc', 'NATS connected-node kill');
  }, 60_000);
});
