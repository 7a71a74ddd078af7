/**
 * npm run bench:fanout -w services/gateway: group messages through the gateway's fan-out.
 * A private nats-server (testkit) and the gateway in-process (HTTP by inject, no sockets); for
 * groups of 10, 100 and 1 000 member devices, one member posts messages for a fixed time; each is
 * published once per other member's mailbox and acked by JetStream before the answer. Prints
 * messages/s and envelopes/s. BENCH_FANOUT_MS (default 3000) per size.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { jetstreamManager } from '@nats-io/jetstream';
import { harness } from '../src/test-support.js';

const ms = Number(process.env.BENCH_FANOUT_MS ?? 3000);
const h = await harness();
const body = randomBytes(300).toString('base64'); // a padded short chat message as MLS ciphertext
console.log(`# group fan-out through the gateway — ${new Date().toISOString()}`);
console.log(
  `# ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load average ${os.loadavg()[0]?.toFixed(1)}; Node ${process.version}; private nats-server (JetStream, file storage)\n`,
);
console.log('| member devices | messages/s | envelopes/s | ms per message (median) |');
console.log('|---|---|---|---|');
try {
  for (const n of [10, 100, 1000]) {
    const users = Array.from({ length: n }, (_, i) => ({
      user: `fan${n}u${String(i).padStart(9, '0')}`,
      device: 'dev001',
    }));
    for (const u of users) h.devices.set(u.user, [u.device]);
    const [owner] = users as [(typeof users)[0]];
    const auth = { authorization: `Bearer ${await h.token(owner.user, owner.device)}` };
    const g = randomBytes(16).toString('hex');
    await h.app.inject({ method: 'PUT', url: `/v1/groups/${g}`, headers: auth });
    const add = users.slice(1);
    for (let i = 0; i < add.length; i += 256) {
      const r = await h.app.inject({
        method: 'POST',
        url: `/v1/groups/${g}/commits`,
        headers: auth,
        payload: {
          id: randomBytes(12).toString('base64url'),
          epoch: i / 256,
          commit: body,
          welcome: body,
          add: add.slice(i, i + 256),
          remove: [],
        },
      });
      if (r.statusCode !== 200) throw new Error(r.body);
    }
    const times: number[] = [];
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < ms) {
      const t = performance.now();
      const r = await h.app.inject({
        method: 'POST',
        url: `/v1/groups/${g}/messages`,
        headers: auth,
        payload: { id: randomBytes(12).toString('base64url'), body },
      });
      if (r.statusCode !== 200) throw new Error(r.body);
      times.push(performance.now() - t);
      sent++;
    }
    const secs = (performance.now() - t0) / 1000;
    const med = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? 0;
    console.log(`| ${n} | ${(sent / secs).toFixed(1)} | ${((sent * (n - 1)) / secs).toFixed(0)} | ${med.toFixed(1)} |`);
    // Drop this size's envelopes so the next size starts from an empty stream.
    await (await jetstreamManager(h.nc)).streams.purge(`MBOX_${h.prefix}`);
  }
} finally {
  await (await jetstreamManager(h.nc)).streams.delete(`MBOX_${h.prefix}_GROUPS`).catch(() => undefined);
  await h.close();
}
