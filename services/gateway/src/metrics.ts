import { LATENCY_BUCKETS, rateLimited, registry } from '@hush/service-kit';
import { Counter, Gauge, Histogram } from 'prom-client';

/**
 * The gateway's instruments (served on METRICS_PORT with the process metrics). Labels are
 * bounded: frame types and error codes come from the protocol's closed lists, subjects from
 * libs/protocol's subject table; never a user or device id.
 */
export const framesTotal = new Counter({
  name: 'hush_ws_frames_total',
  help: 'WebSocket frames, by direction (in/out) and frame type',
  labelNames: ['direction', 'type'] as const,
  registers: [registry],
});

export const frameErrors = new Counter({
  name: 'hush_ws_errors_total',
  help: 'Error frames sent to clients, by error code',
  labelNames: ['code'] as const,
  registers: [registry],
});

export const publishSeconds = new Histogram({
  name: 'hush_jetstream_publish_seconds',
  help: 'Time from publishing an envelope to the JetStream ack, by outcome',
  labelNames: ['outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const rpcSeconds = new Histogram({
  name: 'hush_rpc_request_seconds',
  help: 'NATS request/reply latency seen by the gateway, by subject and reply code',
  labelNames: ['subject', 'code'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const sentBytes = new Counter({
  name: 'hush_send_bytes_total',
  help: 'Envelope body bytes accepted from devices',
  registers: [registry],
});

/** WebSocket protocol violations by clients, by the ws library's WS_ERR_* code (a closed list). */
const protocolViolations = new Counter({
  name: 'hush_ws_protocol_violations_total',
  help: 'Sockets closed because the client broke the WebSocket protocol, by ws error code',
  labelNames: ['code'] as const,
  registers: [registry],
});

export interface GaugeSource {
  sockets: () => number;
  bound: () => number;
  stream: () => Promise<{ messages: number; bytes: number; consumers: number } | undefined>;
}
let source: GaugeSource | undefined;

/** Where the scrape-time gauges read from (the app being served; tests build several). */
export function gauges(read: GaugeSource): void {
  source = read;
}

new Gauge({
  name: 'hush_ws_open_sockets',
  help: 'Open WebSockets on this gateway (bound to a device or waiting for hello)',
  registers: [registry],
  collect() {
    this.set(source?.sockets() ?? 0);
  },
});
new Gauge({
  name: 'hush_ws_bound_devices',
  help: 'Devices with an authenticated socket on this gateway',
  registers: [registry],
  collect() {
    this.set(source?.bound() ?? 0);
  },
});
/**
 * One stream-info call per scrape, shared by the three gauges below: each reads it in its own
 * `collect`, so a scrape shows the stream as it is now, not as the previous scrape saw it.
 */
let streamRead: Promise<{ messages: number; bytes: number; consumers: number } | undefined> | undefined;
function streamNow() {
  if (!streamRead) {
    streamRead = source?.stream().catch(() => undefined) ?? Promise.resolve(undefined);
    void streamRead.finally(() => {
      streamRead = undefined;
    });
  }
  return streamRead;
}
const streamGauge = (
  name: string,
  help: string,
  pick: (st: { messages: number; bytes: number; consumers: number }) => number,
) =>
  new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      const st = await streamNow();
      if (st) this.set(pick(st));
    },
  });
streamGauge(
  'hush_mailbox_stream_messages',
  'Envelopes waiting in the mailbox stream (all devices): the undelivered backlog',
  (st) => st.messages,
);
streamGauge('hush_mailbox_stream_bytes', 'Bytes stored in the mailbox stream', (st) => st.bytes);
streamGauge('hush_mailbox_stream_consumers', 'Device consumers on the mailbox stream', (st) => st.consumers);

export { rateLimited };

/** Frame-type label from a frame object (bounded by the protocol's frame types). */
const frameChildren = new Map<string, { inc(): void }>();

export function countFrame(direction: 'in' | 'out', frame: { type?: unknown; code?: unknown } | undefined): void {
  const type = typeof frame?.type === 'string' ? frame.type : 'invalid';
  // One child per (direction, type), looked up by a string key: `inc({ labels })` hashes the label
  // object on every call, and this runs for every frame (bounded: frame types are a closed list).
  const key = `${direction} ${type}`;
  let child = frameChildren.get(key);
  if (!child) {
    child = framesTotal.labels(direction, type);
    frameChildren.set(key, child);
  }
  child.inc();
  if (direction === 'out' && type === 'error' && typeof frame?.code === 'string') frameErrors.inc({ code: frame.code });
}

/** Counts a client's WebSocket protocol violation in the hub's counter and in the exported metric. */
export function countViolation(hubCounter: { add(code: string): void }, code: string): void {
  hubCounter.add(code);
  protocolViolations.inc({ code });
}
