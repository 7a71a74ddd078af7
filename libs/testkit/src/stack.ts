import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type RunningServer, startNats, startRedis, uniquePrefix } from './servers.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Characters of a process's output kept for failure messages and log checks. */
const OUTPUT_KEPT = 1_000_000;

export type ServiceName = 'auth' | 'keydir' | 'presence' | 'gateway';

/** One service process, started with tsx exactly as `npm start` runs it. */
export interface ServiceProcess {
  name: ServiceName;
  proc: ChildProcess;
  /** Set for gateways. */
  url?: string;
  port?: number;
  /** Last lines the process wrote (stdout+stderr), for failure messages. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface SpawnOptions {
  env: Record<string, string>;
  port?: number;
  /** Resolves when this line fragment is printed; gateways instead wait for /readyz. */
  quiet?: boolean;
}

export function spawnService(name: ServiceName, opts: SpawnOptions): ServiceProcess {
  const entry = join(repoRoot, 'services', name, 'src', 'main.ts');
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...opts.env };
  if (opts.port !== undefined) env.PORT = String(opts.port);
  const proc = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-OUTPUT_KEPT);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const sp: ServiceProcess = {
    name,
    proc,
    output: () => out,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(t);
    },
  };
  if (opts.port !== undefined) {
    sp.port = opts.port;
    sp.url = `http://127.0.0.1:${opts.port}`;
  }
  return sp;
}

/** Polls GET /readyz until 200 or the deadline. */
export async function waitReady(url: string, timeoutMs = 30_000, proc?: ServiceProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && (proc.proc.exitCode !== null || proc.proc.signalCode !== null)) {
      throw new Error(`${proc.name} exited before ready:\n${proc.output()}`);
    }
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) return;
      last = `${r.status} ${await r.text()}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})${proc ? `\n${proc.output()}` : ''}`);
}

export interface StackOptions {
  gateways?: number;
  /** Folder with the built web client (default clients/web/dist). */
  webRoot?: string;
  /** Extra environment for every process (e.g. faster presence sweeps). */
  env?: Record<string, string>;
  /** Use these servers instead of starting private ones. */
  nats?: RunningServer;
  redis?: RunningServer;
  /** Copies of each backing service (auth, keydir, presence). */
  copies?: number;
}

export interface Stack {
  nats: RunningServer;
  redis: RunningServer;
  env: Record<string, string>;
  services: ServiceProcess[];
  gateways: ServiceProcess[];
  gatewayUrls: string[];
  /** Starts one more gateway (e.g. after killing one) and waits until it is ready. */
  addGateway(port?: number): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/**
 * The whole system as separate processes: private nats-server (JetStream) and redis-server
 * (isolated, so tests may kill them), auth, keydir, presence, and N gateways on free ports.
 * Password hashing cost is lowered (still Argon2id) so that registering many users is quick.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const nats = opts.nats ?? (await startNats({ isolated: true, jetstream: true }));
  const redis = opts.redis ?? (await startRedis({ isolated: true }));
  const prefix = uniquePrefix('s');
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    SUBJECT_PREFIX: opts.nats ? prefix : '',
    REDIS_PREFIX: `${prefix}:`,
    STREAM_NAME: opts.nats ? `MBOX_${prefix}` : 'MAILBOX',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_ITERATIONS: '1',
    LOG_LEVEL: 'warn',
    WEB_ROOT: opts.webRoot ?? join(repoRoot, 'clients', 'web', 'dist'),
    ...opts.env,
  };
  const services: ServiceProcess[] = [];
  for (let i = 0; i < (opts.copies ?? 1); i++) {
    for (const name of ['auth', 'keydir', 'presence'] as const) services.push(spawnService(name, { env }));
  }
  const gateways: ServiceProcess[] = [];
  const addGateway = async (port?: number) => {
    const p = port ?? (await freePort());
    const g = spawnService('gateway', { env: { ...env, GATEWAY_ID: `gw${gateways.length}_${p}` }, port: p });
    gateways.push(g);
    await waitReady(g.url!, 90_000, g);
    return g;
  };
  const stack: Stack = {
    nats,
    redis,
    env,
    services,
    gateways,
    get gatewayUrls() {
      return gateways.map((g) => g.url!);
    },
    addGateway,
    stop: async () => {
      await Promise.all(gateways.map((g) => g.kill()));
      await Promise.all(services.map((s) => s.kill()));
      if (!opts.redis) await redis.stop();
      if (!opts.nats) await nats.stop();
    },
  };
  try {
    await Promise.all(Array.from({ length: opts.gateways ?? 1 }, () => addGateway()));
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}
