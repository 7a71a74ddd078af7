import { randomBytes } from 'node:crypto';
import { CpuMeter, type Usage } from './proc.js';
import { DeliveryLedger, messageIdFactory } from './stats.js';

/**
 * One timed phase: a paced sender over any transport (gateway WebSockets or raw JetStream), the
 * same ledger, the same window, the same clock. Both paths of the load test run through here so
 * their figures compare.
 */

/** What a path must offer: device i sends one message to device j; results come back as events. */
export interface LoadTransport {
  readonly name: string;
  readonly devices: number;
  /** Fire and forget; the transport reports accepted/rejected/delivered through `events`. */
  send(from: number, to: number, id: string, body: string): void;
  events: TransportEvents;
}

export interface TransportEvents {
  accepted(id: string): void;
  rejected(id: string, code: string): void;
  delivered(id: string): void;
}

export interface PhaseOptions {
  /** Target total send rate in messages/s; 0 = as fast as the window allows (full load). */
  rate: number;
  seconds: number;
  /** After sending stops, how long to wait for deliveries still in flight. */
  graceSeconds: number;
  /** Messages in flight (sent, not yet delivered) at most. */
  window: number;
  /** Opaque body size in bytes before base64. */
  size: number;
  /** Processes whose CPU and memory to report, by group name ('loadgen' is added). */
  procs: Record<string, number[]>;
  runTag: string;
  /** Progress lines go here (stderr by default). */
  log?: (line: string) => void;
}

export interface PhaseResult {
  transport: string;
  targetRate: number;
  seconds: number;
  sent: number;
  accepted: number;
  rejected: number;
  delivered: number;
  /** Delivered within the timed window, per second. */
  rate: number;
  lost: number;
  /** Wire-level redeliveries of an id already delivered (what a user would see without dedupe). */
  dup: number;
  unanswered: number;
  unknown: number;
  latency: { p50: number; p95: number; p99: number; max: number };
  /** Largest number of scheduled-but-unsent messages (the window was full: messages backed up). */
  maxBacklog: number;
  /** Whether the schedule fell behind by more than one second of traffic at the end. */
  backedUp: boolean;
  usage: Record<string, Usage>;
  rejectCodes: Record<string, number>;
  lostSample: string[];
}

/** Pacer tick: small enough for smooth pacing, large enough not to burn the generator's CPU. */
const TICK_MS = 2;
/** Bodies are drawn from a pool of random ones: opaque like ciphertext, without paying for RNG per message. */
const BODY_POOL = 512;
/** At most this many sends per tick, so one tick never blocks the event loop for long. */
const MAX_SENDS_PER_TICK = 2_000;

export function bodyPool(size: number): string[] {
  return Array.from({ length: BODY_POOL }, () => randomBytes(size).toString('base64'));
}

/** Partner of device i when devices talk in pairs (0<->1, 2<->3, ...). */
export const partnerOf = (i: number, devices: number): number => (i % 2 === 0 ? Math.min(i + 1, devices - 1) : i - 1);

export async function runPhase(t: LoadTransport, o: PhaseOptions): Promise<PhaseResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const ledger = new DeliveryLedger();
  const nextId = messageIdFactory(o.runTag);
  const bodies = bodyPool(o.size);
  let windowEnd = Number.POSITIVE_INFINITY;
  let deliveredInWindow = 0;
  t.events = {
    accepted: (id) => ledger.markAccepted(id),
    rejected: (id, code) => ledger.markRejected(id, code),
    delivered: (id) => {
      if (ledger.markDelivered(id) && performance.now() <= windowEnd) deliveredInWindow++;
    },
  };
  const meter = new CpuMeter({ ...o.procs, loadgen: [process.pid] });
  const t0 = performance.now();
  windowEnd = t0 + o.seconds * 1000;
  let issued = 0;
  let sender = 0;
  let maxBacklog = 0;
  let lastBacklog = 0;
  let nextReport = t0 + 5_000;
  let lastDelivered = 0;

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (now >= windowEnd) return resolve();
      const due = o.rate > 0 ? Math.floor((o.rate * (now - t0)) / 1000) : Number.POSITIVE_INFINITY;
      const room = o.window - ledger.inFlight;
      const n = Math.max(0, Math.min(due - issued, room, MAX_SENDS_PER_TICK));
      for (let k = 0; k < n; k++) {
        const from = sender;
        sender = (sender + 1) % t.devices;
        const id = nextId();
        ledger.markSent(id);
        t.send(from, partnerOf(from, t.devices), id, bodies[issued % BODY_POOL]!);
        issued++;
      }
      if (o.rate > 0) {
        lastBacklog = due - issued;
        if (lastBacklog > maxBacklog) maxBacklog = lastBacklog;
      }
      if (now >= nextReport) {
        nextReport += 5_000;
        const d = ledger.delivered - lastDelivered;
        lastDelivered = ledger.delivered;
        log(
          `  [${t.name}] ${((now - t0) / 1000).toFixed(0)}s delivered ${ledger.delivered} (+${(d / 5).toFixed(0)}/s) in flight ${ledger.inFlight}`,
        );
      }
      setTimeout(tick, TICK_MS);
    };
    tick();
  });

  // Grace: wait for what is still in flight, bounded.
  const graceEnd = performance.now() + o.graceSeconds * 1000;
  while (performance.now() < graceEnd && ledger.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  const usage = meter.stop();
  const lost = ledger.lostIds();
  return {
    transport: t.name,
    targetRate: o.rate,
    seconds: o.seconds,
    sent: ledger.sent,
    accepted: ledger.accepted,
    rejected: ledger.rejected,
    delivered: ledger.delivered,
    rate: deliveredInWindow / o.seconds,
    lost: lost.length,
    dup: ledger.redelivered,
    unanswered: ledger.unansweredIds().length,
    unknown: ledger.unknown,
    latency: ledger.latency.summary(),
    maxBacklog,
    backedUp: o.rate > 0 && lastBacklog > o.rate,
    usage,
    rejectCodes: Object.fromEntries(ledger.rejectCodes),
    lostSample: lost.slice(0, 5),
  };
}
