import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one process (prom-client). Every process has one registry with the
 * process metrics (CPU, memory, event-loop lag, GC) and its own instruments, served as text on
 * `/metrics` by a small HTTP listener on METRICS_PORT, kept apart from the public port so the
 * Ingress never exposes it.
 */
export const registry = new Registry();
let defaultsOn = false;

/** Buckets for request/reply latencies: 0.5 ms .. 10 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function initMetrics(service: string): Registry {
  if (!defaultsOn) {
    registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: registry, prefix: 'hush_' });
    defaultsOn = true;
  }
  return registry;
}

/** Time a service spent answering one NATS request, by endpoint and outcome code. */
export const rpcHandled = new Histogram({
  name: 'hush_rpc_handle_seconds',
  help: 'Time to answer a NATS request, by endpoint and reply code (ok or an error code)',
  labelNames: ['endpoint', 'code'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

/** Requests refused by a rate limit, by which limit. */
export const rateLimited = new Counter({
  name: 'hush_rate_limited_total',
  help: 'Requests refused by a rate limit, by limit',
  labelNames: ['limit'] as const,
  registers: [registry],
});

/**
 * Serves `GET /metrics` (and `/healthz`) on its own port. Returns undefined when port is 0.
 * A port already taken is logged, not fatal: metrics must never take a service down.
 */
export async function serveMetrics(port: number, host: string, log: Logger): Promise<Server | undefined> {
  if (port === 0) return undefined;
  const srv = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        })
        .catch((e: unknown) => {
          res.writeHead(500).end(String(e));
        });
      return;
    }
    if (req.url === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => {
    srv.once('error', (e) => {
      log.warn({ err: (e as Error).message, port }, 'metrics endpoint not started');
      resolve();
    });
    srv.listen(port, host, () => {
      log.debug({ port }, 'metrics endpoint listening');
      resolve();
    });
  });
  return srv.listening ? srv : undefined;
}
