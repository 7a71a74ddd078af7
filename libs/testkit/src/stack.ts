import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSecrets, type SecretsLayout } from '@hush/service-kit';
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
  /** The process's Prometheus endpoint (`${metricsUrl}/metrics`), when a metrics port was given. */
  metricsUrl?: string;
  /** Last lines the process wrote (stdout+stderr), for failure messages. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface SpawnOptions {
  env: Record<string, string>;
  /** The deployment's secrets: the process connects to NATS with its own role's nkey. */
  secrets?: SecretsLayout;
  port?: number;
  /** Resolves when this line fragment is printed; gateways instead wait for /readyz. */
  quiet?: boolean;
  /** METRICS_PORT of the process (0 = off); its /healthz answers once the service serves. */
  metricsPort?: number;
}

export function spawnService(name: ServiceName, opts: SpawnOptions): ServiceProcess {
  const entry = join(repoRoot, 'services', name, 'src', 'main.ts');
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...opts.env };
  if (opts.port !== undefined) env.PORT = String(opts.port);
  if (opts.secrets) env.NATS_NKEY_DIR = dirname(opts.secrets.nkey(name));
  env.METRICS_PORT = String(opts.metricsPort ?? 0);
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
  if (opts.metricsPort) sp.metricsUrl = `http://127.0.0.1:${opts.metricsPort}`;
  if (opts.port !== undefined) {
    sp.port = opts.port;
    sp.url = `http://127.0.0.1:${opts.port}`;
  }
  return sp;
}

/** Polls GET /readyz (or another path) until 200 or the deadline. */
export async function waitReady(
  url: string,
  timeoutMs = 30_000,
  proc?: ServiceProcess,
  path = '/readyz',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && (proc.proc.exitCode !== null || proc.proc.signalCode !== null)) {
      throw new Error(`${proc.name} exited before ready:\n${proc.output()}`);
    }
    try {
      const r = await fetch(`${url}${path}`);
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
  /** More SUBJECT_PREFIX values (tenants) the stack's NATS permissions cover besides ''. */
  tenants?: string[];
}

export interface Stack {
  nats: RunningServer;
  redis: RunningServer;
  env: Record<string, string>;
  /** Credentials of the stack's private servers (undefined when given anonymous servers). */
  secrets?: SecretsLayout;
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
 *
 * The private servers are secured exactly as in production (fresh nkeys with subject
 * permissions, a Redis ACL with a password), so the secured path is the tested path; a stack
 * therefore never uses the anonymous shared servers named by NATS_URL / REDIS_URL. Servers passed
 * in `nats` / `redis` are used as they are (the fault tests' cluster); their own `secrets`, if
 * any, are used.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const prefix = uniquePrefix('s');
  const streamName = opts.nats ? `MBOX_${prefix}` : 'MAILBOX';
  const ownDir = opts.nats && opts.redis ? undefined : mkdtempSync(join(tmpdir(), 'hush-secrets-'));
  const own = ownDir
    ? ensureSecrets(ownDir, { stream: streamName, observer: true, prefixes: ['', ...(opts.tenants ?? [])] })
    : undefined;
  const nats = opts.nats ?? (await startNats({ isolated: true, jetstream: true, secrets: own! }));
  const redis = opts.redis ?? (await startRedis({ isolated: true, secrets: own! }));
  const secrets = opts.nats ? opts.nats.secrets : own;
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    SUBJECT_PREFIX: opts.nats ? prefix : '',
    REDIS_PREFIX: `${prefix}:`,
    STREAM_NAME: streamName,
    // Each process picks its own role's seed from this folder (tests that spawn more processes
    // with stack.env connect with the right credentials too).
    ...(secrets ? { NATS_NKEY_DIR: dirname(secrets.nkey('gateway')) } : {}),
    ...(own ? { SIGNING_KEY_SECRET_FILE: own.signingKeySecret } : {}),
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_ITERATIONS: '1',
    LOG_LEVEL: 'warn',
    WEB_ROOT: opts.webRoot ?? join(repoRoot, 'clients', 'web', 'dist'),
    ...opts.env,
  };
  const services: ServiceProcess[] = [];
  for (let i = 0; i < (opts.copies ?? 1); i++) {
    for (const name of ['auth', 'keydir', 'presence'] as const) {
      services.push(spawnService(name, { env, secrets, metricsPort: await freePort() }));
    }
  }
  const gateways: ServiceProcess[] = [];
  const addGateway = async (port?: number) => {
    const p = port ?? (await freePort());
    const g = spawnService('gateway', {
      env: { ...env, GATEWAY_ID: `gw${gateways.length}_${p}` },
      port: p,
      secrets,
      metricsPort: await freePort(),
    });
    gateways.push(g);
    await waitReady(g.url!, 180_000, g);
    return g;
  };
  const stack: Stack = {
    nats,
    redis,
    env,
    secrets,
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
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
  };
  try {
    // A gateway's /readyz covers only its own NATS/JetStream; wait for the services themselves
    // (their metrics port answers once they serve). Generous: tsx compiles on a loaded machine.
    await Promise.all([
      ...services.map((sv) => waitReady(sv.metricsUrl!, 180_000, sv, '/healthz')),
      ...Array.from({ length: opts.gateways ?? 1 }, () => addGateway()),
    ]);
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}
