import { type LoadArgs, phaseOptions } from './args.js';
import { FD_LIMIT } from './connections.js';
import { searchPeak } from './peak.js';
import type { PhaseOptions } from './phase.js';
import { runPhase } from './phase.js';
import { totalRssKb } from './proc.js';
import { err, out } from './report.js';
import { pool } from './ws-transport.js';
import { login, makeAccounts, registerAccounts, type XmppConn, XmppTransport } from './xmpp.js';
import { DISABLED_MODULES, type Ejabberd, ejabberdVersion, startEjabberd } from './xmpp-server.js';

/**
 * The XMPP path of `npm run loadtest -- --xmpp`: a private ejabberd started after the gateway
 * stack has stopped (so the two never share the machine's two cores), the same clients in pairs,
 * the same paced sender, ledger and CPU meter (ejabberd's beam.smp in place of the gateway), then
 * stopped. Each function returns what the last line needs; the human-readable lines are printed
 * by the caller after the gateway's.
 */

/** Let RSS settle after the last session opened before reading it. */
const SETTLE_MS = 1_000;
const CONN_SETTLE_MS = 3_000;
/**
 * Sessions the connections mode opens at most: one load-generator process holds them all, and it
 * (like ejabberd's VM) may hold `ulimit -n` descriptors.
 */
export const XMPP_MAX_CONNECTIONS = Math.max(100, FD_LIMIT - 2_000);

export function xmppHeader(): string {
  const off = Object.entries(DISABLED_MODULES)
    .map(([m]) => m)
    .join(', ');
  return `# xmpp: a private ejabberd ${ejabberdVersion()} (Debian package) after the gateway stack has stopped: WebSocket (RFC 7395) on loopback, one host, c2s shaper off, default modules except ${off} (no listener or service for them here); accepted = XEP-0198 <a h/>`;
}

export interface XmppOpen {
  t: XmppTransport;
  server: Ejabberd;
  /** RSS growth of beam.smp per open session while opening `devices` sessions. */
  connKb: number;
}

async function withEjabberd<T>(a: LoadArgs, tag: string, fn: (o: XmppOpen) => Promise<T>): Promise<T> {
  const server = await startEjabberd(err);
  try {
    const { accounts, warm } = await prepare(server, a.devices, tag, SETTLE_MS);
    const before = totalRssKb([server.pid]);
    const t1 = performance.now();
    const t = await XmppTransport.open(accounts, server.url, server.domain);
    err(
      `opened ${t.devices} XMPP sessions in ${((performance.now() - t1) / 1000).toFixed(1)} s (before timing starts)`,
    );
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const connKb = (totalRssKb([server.pid]) - before) / accounts.length;
    await warm.close();
    try {
      return await fn({ t, server, connKb });
    } finally {
      await t.close();
    }
  } finally {
    await server.stop();
  }
}

/**
 * Registers n accounts plus one for a warm-up session, logs that one in and lets the VM settle:
 * ejabberd loads the code of login, binding, stream management and presence on first use (Erlang
 * modules load lazily), a one-time cost that must not count as memory per connection.
 */
async function prepare(server: Ejabberd, n: number, tag: string, settleMs: number) {
  const all = makeAccounts(n + 1, tag);
  const t0 = performance.now();
  await registerAccounts(server.url, server.domain, all);
  err(`registered ${all.length} XMPP accounts in-band in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const warm = await login(server.url, server.domain, all[n]!);
  await new Promise((r) => setTimeout(r, settleMs));
  return { accounts: all.slice(0, n), warm };
}

/** The ejabberd VM is metered where the gateway's processes are on the other path. */
function opts(a: LoadArgs, server: Ejabberd, rate: number, seconds: number, tag: string): PhaseOptions {
  return phaseOptions(a, { ejabberd: [server.pid] }, rate, seconds, `x${tag}`, err);
}

export async function xmppFullLoad(a: LoadArgs, tag: string) {
  return withEjabberd(a, tag, async ({ t, server, connKb }) => {
    err(`ejabberd phase: ${a.seconds} s`);
    const result = await runPhase(t, opts(a, server, a.rate, a.seconds, tag));
    return { result, closes: t.closes, connKb };
  });
}

export async function xmppPeak(a: LoadArgs, tag: string) {
  return withEjabberd(a, tag, async ({ t, server, connKb }) => {
    const search = await searchPeak(t, a, (rate, seconds, tg) => opts(a, server, rate, seconds, tg), tag, err);
    return { search, connKb };
  });
}

/**
 * `--connections N --xmpp`: N idle online sessions (authenticated, bound, stream management on,
 * initial presence sent); memory per connection is beam.smp's RSS growth over the sessions open,
 * measured from after the accounts were registered.
 */
export async function xmppConnections(n: number, tag: string): Promise<number> {
  const count = Math.min(n, XMPP_MAX_CONNECTIONS);
  if (count < n)
    out(
      `# ejabberd: ${count} sessions, not ${n}: one process holds them all here and may hold ${FD_LIMIT} descriptors`,
    );
  const server = await startEjabberd(err);
  const conns: XmppConn[] = [];
  try {
    const { accounts, warm } = await prepare(server, count, tag, CONN_SETTLE_MS);
    conns.push(warm);
    const before = totalRssKb([server.pid]);
    let failed = 0;
    let firstError = '';
    const t1 = performance.now();
    await pool(accounts, 32, async (acc) => {
      try {
        conns.push(await login(server.url, server.domain, acc));
      } catch (e) {
        failed++;
        if (!firstError) firstError = e instanceof Error ? e.message : String(e);
      }
    });
    err(
      `opened ${conns.length - 1} XMPP sessions (${failed} failed${firstError ? `: ${firstError}` : ''}) in ${((performance.now() - t1) / 1000).toFixed(0)} s`,
    );
    await new Promise((r) => setTimeout(r, CONN_SETTLE_MS));
    const after = totalRssKb([server.pid]);
    // The warm-up session was open before the first sample: not counted.
    const open = conns.filter((c) => c !== warm && !c.closed).length;
    const kb = open > 0 ? (after - before) / open : Number.NaN;
    out(`ejabberd connections: ${open} idle online sessions open (${failed} failed)`);
    out(
      `  ejabberd (beam.smp) RSS ${(before / 1024).toFixed(0)} -> ${(after / 1024).toFixed(0)} MB: ${kb.toFixed(1)} kB per connection`,
    );
    return kb;
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await server.stop();
  }
}
