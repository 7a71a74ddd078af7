import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  freePort,
  type RunningServer,
  repoRoot,
  type ServiceProcess,
  type Stack,
  startNats,
  startStack,
  waitReady,
} from '@hush/testkit';
import type { LoadArgs } from './args.js';
import { natsServerPid } from './proc.js';
import { err } from './report.js';

/**
 * Environment for the load stack. The per-device send limit (default 100/s, burst 200) and the
 * per-address registration limit (default 20 per 15 min) protect a public gateway from one abusive
 * device or address; here every device is on one loopback address and sends at load rates, so
 * both are raised. Everything else runs with its defaults.
 */
export const LOAD_STACK_ENV: Record<string, string> = {
  SEND_RATE: '100000',
  SEND_BURST: '100000',
  REGISTRATIONS_PER_ADDR: '1000000',
  LOGIN_FAILURES_PER_ADDR: '1000000',
  LOG_LEVEL: 'warn',
  // Argon2id at its floor: the connections mode registers up to 200 000 accounts through the real
  // API, and at the production setting (19 MiB, 2 passes: ~15 ms of CPU each here) that alone took
  // 25 min of both cores. The load test measures sockets and messages, never password hashing.
  ARGON2_MEMORY_KIB: '8',
  ARGON2_ITERATIONS: '1',
};

export interface Env {
  stack?: Stack;
  nats?: RunningServer;
  natsUrl?: string;
  gatewayUrls: string[];
  streamName?: string;
  procs: Record<string, number[]>;
}

export async function startEnv(a: LoadArgs, gateways: number): Promise<Env> {
  if (a.gatewayUrl) {
    const natsUrl = a.natsUrl;
    const natsPort = natsUrl ? Number(new URL(natsUrl.split(',')[0]!).port) : undefined;
    const np = natsPort ? natsServerPid(natsPort) : undefined;
    const env: Env = { gatewayUrls: a.gatewayUrl.split(','), procs: { nats: np ? [np] : [] } };
    if (natsUrl) env.natsUrl = natsUrl;
    return env;
  }
  const env: Record<string, string> = { ...LOAD_STACK_ENV };
  if (a.heapSnapshot) {
    // Every service may then write a heap snapshot into the folder on SIGUSR2; only gateway 0 is sent one.
    mkdirSync(resolve(a.heapSnapshot), { recursive: true });
    env.NODE_OPTIONS = `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${resolve(a.heapSnapshot)}`;
  }
  err(`starting stack: nats-server, redis-server, auth, keydir, presence, ${gateways} gateway(s)...`);
  // The broker is a private nats-server without nkey users: the raw reference publishes to its
  // own stream and subjects, which no Hush role may touch on a secured bus (the stack would
  // otherwise secure it). The gateway runs the same code either way; only the permission check
  // per subject differs, which the raw reference then skips as well.
  const nats = await startNats({ isolated: true, jetstream: true });
  // Node 20 refuses --cpu-prof in NODE_OPTIONS, so profiled gateways are spawned here with the flag.
  let stack: Stack;
  try {
    stack = await startStack({ gateways: a.cpuProf ? 0 : gateways, env, nats });
  } catch (e) {
    await nats.stop();
    throw e;
  }
  if (a.cpuProf) {
    for (let i = 0; i < gateways; i++) stack.gateways.push(await spawnProfiledGateway(stack, resolve(a.cpuProf), i));
  }
  const np = natsServerPid(stack.nats.port);
  return {
    stack,
    nats,
    natsUrl: stack.nats.url,
    gatewayUrls: stack.gatewayUrls,
    streamName: stack.env.STREAM_NAME!,
    procs: {
      gateway: stack.gateways.map((g) => g.proc.pid!).filter(Boolean),
      'nats-server': np ? [np] : [],
      'auth+keydir+presence': stack.services.map((s) => s.proc.pid!).filter(Boolean),
    },
  };
}

/** A gateway started like spawnService does, plus `--cpu-prof` (written when it exits on SIGTERM). */
async function spawnProfiledGateway(stack: Stack, dir: string, i: number): Promise<ServiceProcess> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const entry = join(repoRoot, 'services', 'gateway', 'src', 'main.ts');
  const proc = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', entry], {
    cwd: repoRoot,
    env: {
      ...(process.env as Record<string, string>),
      ...stack.env,
      PORT: String(port),
      GATEWAY_ID: `gwprof${i}_${port}`,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const sp: ServiceProcess = {
    name: 'gateway',
    proc,
    url,
    port,
    output: () => '',
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
  await waitReady(url, 30_000, sp);
  err(`profiling gateway pid ${proc.pid} into ${dir}`);
  return sp;
}

export async function stopEnv(env: Env): Promise<void> {
  await env.stack?.stop();
  await env.nats?.stop();
}
