import type { Session } from '@hush/protocol';
import type WebSocket from 'ws';
import { http } from './devices.js';
import { openSocket, pool } from './ws-transport.js';

/**
 * Child process of the connections mode: holds up to CONNS_PER_WORKER idle authenticated sockets.
 * A process may hold at most `ulimit -n` (20 000 here, and the hard limit: not raisable inside
 * this machine's container) descriptors, so many sockets need several holders. Messages from the parent: {urls, devices: [{token, gateway}]}, then {close}.
 */

/** Sockets opened at once per worker. */
const CONCURRENCY = 24;
/**
 * Access tokens live at most 15 min (libs/protocol auth.ts). Registering and opening 200 000 devices
 * takes longer than that here, so a device whose token is older than this gets a fresh one through
 * POST /v1/refresh before its hello, as a real client does.
 */
const REFRESH_AFTER_MS = 10 * 60_000;

interface Job {
  urls: string[];
  devices: { token: string; refreshToken: string; issuedAt: number; gateway: number; localAddress?: string }[];
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
  let refreshed = 0;
  let firstError = '';
  const timer = setInterval(() => process.send?.({ type: 'progress', opened, failed }), 2_000);
  await pool(m.job.devices, CONCURRENCY, async (d) => {
    if (closing) return;
    try {
      const url = m.job.urls[d.gateway]!;
      let token = d.token;
      if (Date.now() - d.issuedAt > REFRESH_AFTER_MS) {
        token = (
          await http<Session>(`${url}/v1/refresh`, {
            method: 'POST',
            body: JSON.stringify({ refreshToken: d.refreshToken }),
          })
        ).accessToken;
        refreshed++;
      }
      const ws = await openSocket(url, token, undefined, d.localAddress);
      sockets.push(ws);
      opened++;
    } catch (e) {
      failed++;
      if (!firstError) firstError = e instanceof Error ? e.message : String(e);
    }
  });
  clearInterval(timer);
  process.send?.({ type: 'done', opened, failed, refreshed, firstError });
});

process.on('disconnect', () => process.exit(0));
