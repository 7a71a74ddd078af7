import type WebSocket from 'ws';
import { openSocket, pool } from './ws-transport.js';

/**
 * Child process of the connections mode: holds up to CONNS_PER_WORKER idle authenticated sockets.
 * A process may hold at most `ulimit -n` (20 000 here, and the hard limit: not raisable inside
 * this machine's container) descriptors, so many sockets need several holders. Messages from the parent: {urls, devices: [{token, gateway}]}, then {close}.
 */

/** Sockets opened at once per worker. */
const CONCURRENCY = 24;

interface Job {
  urls: string[];
  devices: { token: string; gateway: number; localAddress?: string }[];
}

const sockets: WebSocket[] = [];
let closing = false;

process.on('message', async (m: { type: 'job'; job: Job } | { type: 'close' }) => {
  if (m.type === 'close') {
    closing = true;
    for (const ws of sockets) ws.terminate();
    process.send?.({ type: 'closed' }, () => process.exit(0));
    return;
  }
  let opened = 0;
  let failed = 0;
  let firstError = '';
  const timer = setInterval(() => process.send?.({ type: 'progress', opened, failed }), 2_000);
  await pool(m.job.devices, CONCURRENCY, async (d) => {
    if (closing) return;
    try {
      const ws = await openSocket(m.job.urls[d.gateway]!, d.token, undefined, d.localAddress);
      sockets.push(ws);
      opened++;
    } catch (e) {
      failed++;
      if (!firstError) firstError = e instanceof Error ? e.message : String(e);
    }
  });
  clearInterval(timer);
  process.send?.({ type: 'done', opened, failed, firstError });
});

process.on('disconnect', () => process.exit(0));
