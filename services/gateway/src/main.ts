import { natsAuthOptions, serveMetrics } from '@hush/service-kit';
import { connect } from '@nats-io/transport-node';
import { buildApp, createLogger } from './app.js';
import { loadConfig } from './config.js';
import { SHUTDOWN_GRACE_MS } from './constants.js';

/** Reads env, connects NATS as the gateway role, listens; SIGINT/SIGTERM close sockets with 4000 and drain NATS. */
const config = loadConfig(process.env);
const log = createLogger(config.logLevel, { gw: config.gatewayId }, undefined, config.logFormat);

const nc = await connect({
  // NATS_URL may list several servers (a cluster), comma-separated.
  servers: config.natsUrl.split(',').map((s) => s.trim()),
  // Async stack traces cost ~30 % of the gateway's CPU per message under load (nats.js builds an
  // Error per request to keep them); the profile in docs/BENCHMARKS.md shows it.
  noAsyncTraces: true,
  name: `gateway-${config.gatewayId}`,
  maxReconnectAttempts: -1,
  // Keep trying when NATS is not up yet (a pod starting before the broker, a loaded machine).
  waitOnFirstConnect: true,
  ...natsAuthOptions('gateway', {
    nkeyFile: config.natsNkeyFile,
    nkeyDir: config.natsNkeyDir,
    tlsCaFile: config.natsTlsCaFile,
  }),
}).catch((e: unknown) => {
  log.fatal({ err: e instanceof Error ? e.message : String(e), url: config.natsUrl }, 'cannot connect to NATS');
  process.exit(1);
});

const app = await buildApp({ nc, logger: log }, config);
await app.listen({ port: config.port, host: config.host });
const metrics = await serveMetrics(config.metricsPort, config.metricsHost, log);
log.info(
  { port: config.port, tls: Boolean(config.tls), metricsPort: config.metricsPort, stream: config.streamName },
  'gateway listening',
);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  const force = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS * 2);
  force.unref();
  try {
    await app.close(); // stops accepting, closes sockets with 4000 SERVER_SHUTDOWN
    await nc.drain();
    metrics?.close();
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'shutdown error');
  }
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
