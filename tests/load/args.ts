import type { PhaseOptions } from './phase.js';

/**
 * Command-line flags of `npm run loadtest`. Defaults are the conditions of the reference runs the
 * issue cites (so the figures compare): 200 clients in pairs, 200-byte opaque bodies, a window of
 * 1 000 messages in flight, 15 s runs plus 5 s grace, full load.
 */
export interface LoadArgs {
  devices: number;
  seconds: number;
  /** Total target rate (msgs/s); 0 = full load (as fast as the window allows). */
  rate: number;
  gateways: number;
  size: number;
  window: number;
  grace: number;
  findPeak: boolean;
  /** Peak search: first rate, growth factor, seconds per step, p99 limit. */
  peakStart: number;
  peakFactor: number;
  peakStepSeconds: number;
  peakP99Ms: number;
  /** Connections mode: open up to this many idle authenticated sockets (0 = off). */
  connections: number;
  referenceOnly: boolean;
  /** Use a running gateway instead of starting a stack (no raw reference unless --nats-url). */
  gatewayUrl?: string;
  natsUrl?: string;
  /** Skip the raw reference phase. */
  noRaw: boolean;
  /** Also run the raw path with one publish in flight per sender (as the gateway does per socket). */
  rawSerial: boolean;
  /** Profile the gateways (`node --cpu-prof`) into this folder. */
  cpuProf?: string;
  /**
   * Connections mode: heap snapshots of the first gateway into this folder, before the sockets
   * open and once they are open, and what the sockets added, by kind (heap-summary.ts).
   */
  heapSnapshot?: string;
  /**
   * Also measure a private ejabberd (XMPP over WebSocket) with the same harness in the same run,
   * after the gateway and raw phases: full load, the peak steps, or idle connections.
   */
  xmpp: boolean;
}

export const DEFAULTS: LoadArgs = {
  devices: 200,
  seconds: 15,
  rate: 0,
  gateways: 1,
  size: 200,
  window: 1_000,
  grace: 5,
  findPeak: false,
  peakStart: 1_000,
  peakFactor: 1.5,
  peakStepSeconds: 10,
  peakP99Ms: 100,
  connections: 0,
  referenceOnly: false,
  noRaw: false,
  rawSerial: false,
  xmpp: false,
};

/** Hard bounds: every run is bounded in count and time, whatever the flags say. */
export const LIMITS = {
  devices: 5_000,
  seconds: 600,
  rate: 1_000_000,
  gateways: 16,
  size: 150 * 1024,
  window: 100_000,
  grace: 120,
  connections: 200_000,
} as const;

const NUMERIC: Record<string, keyof LoadArgs> = {
  '--devices': 'devices',
  '--seconds': 'seconds',
  '--rate': 'rate',
  '--gateways': 'gateways',
  '--size': 'size',
  '--window': 'window',
  '--grace': 'grace',
  '--peak-start': 'peakStart',
  '--peak-factor': 'peakFactor',
  '--peak-step-seconds': 'peakStepSeconds',
  '--peak-p99': 'peakP99Ms',
  '--connections': 'connections',
};

export const USAGE = `npm run loadtest -- [--devices N] [--seconds S] [--rate R] [--gateways G] [--size BYTES]
       [--window W] [--grace S] [--find-peak] [--connections N] [--reference-only] [--no-raw] [--raw-serial] [--xmpp]
       [--gateway-url http://127.0.0.1:8080] [--nats-url nats://127.0.0.1:4222] [--cpu-prof DIR]
       [--heap-snapshot DIR] (with --connections)
Defaults: ${DEFAULTS.devices} devices in pairs, ${DEFAULTS.size}-byte bodies, window ${DEFAULTS.window}, ${DEFAULTS.seconds} s + ${DEFAULTS.grace} s grace, full load (rate 0).`;

export function parseArgs(argv: string[]): LoadArgs {
  const a: LoadArgs = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes('=')
      ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)]
      : [flag, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
      return v;
    };
    const key = NUMERIC[name];
    if (key) {
      const n = Number(value());
      if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number\n${USAGE}`);
      (a as unknown as Record<string, number>)[key] = n;
      continue;
    }
    switch (name) {
      case '--find-peak':
        a.findPeak = true;
        break;
      case '--reference-only':
        a.referenceOnly = true;
        break;
      case '--no-raw':
        a.noRaw = true;
        break;
      case '--raw-serial':
        a.rawSerial = true;
        break;
      case '--xmpp':
        a.xmpp = true;
        break;
      case '--gateway-url':
        a.gatewayUrl = value();
        break;
      case '--nats-url':
        a.natsUrl = value();
        break;
      case '--cpu-prof':
        a.cpuProf = value();
        break;
      case '--heap-snapshot':
        a.heapSnapshot = value();
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown flag ${name}\n${USAGE}`);
    }
  }
  for (const [k, max] of Object.entries(LIMITS)) {
    const v = (a as unknown as Record<string, number>)[k]!;
    if (v > max) throw new Error(`--${k} ${v} is above the bound ${max}`);
  }
  if (a.devices < 2) throw new Error('--devices must be at least 2 (devices talk in pairs)');
  if (a.seconds <= 0) throw new Error('--seconds must be positive');
  if (a.gateways < 1) throw new Error('--gateways must be at least 1');
  if (a.size < 1) throw new Error('--size must be at least 1 byte');
  if (a.window < 1) throw new Error('--window must be at least 1');
  if (a.peakFactor <= 1) throw new Error('--peak-factor must be above 1');
  if (a.xmpp && a.referenceOnly)
    throw new Error('--xmpp compares ejabberd with the gateway: not with --reference-only');
  for (const k of ['devices', 'gateways', 'size', 'window', 'connections'] as const) a[k] = Math.floor(a[k]);
  return a;
}

/** One timed phase under these flags, on any path: its own rate, length, processes to meter and id tag. */
export function phaseOptions(
  a: LoadArgs,
  procs: Record<string, number[]>,
  rate: number,
  seconds: number,
  runTag: string,
  log: (l: string) => void,
): PhaseOptions {
  return { rate, seconds, graceSeconds: a.grace, window: a.window, size: a.size, procs, runTag, log };
}
