import type { Subjects } from '@hush/protocol';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from './config.js';
import { READY_PROBE_TIMEOUT_MS } from './constants.js';
import { Health, Ready } from './http/schemas.js';
import type { Rpc } from './nats-rpc.js';
import type { Hub } from './ws/hub.js';

/** /healthz (the process answers) and /readyz (its NATS connection and stream; `?full=1` also the services). */
export function healthRoutes(
  app: FastifyInstance,
  d: { nc: NatsConnection; jsm: JetStreamManager; rpc: Rpc; s: Subjects; config: GatewayConfig; hub: Hub },
): void {
  const { nc, jsm, rpc, s, config, hub } = d;
  // NATS connection state for /readyz (isClosed() alone misses a broker that is reconnecting).
  let natsUp = true;
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === 'disconnect') natsUp = false;
      else if (st.type === 'reconnect') natsUp = true;
      if (st.type === 'disconnect' || st.type === 'reconnect')
        app.log.warn({ nats: st.type }, 'NATS connection changed');
    }
  })();

  app.get('/healthz', { schema: { hide: true, response: { 200: Health } } }, async () => ({
    status: 'ok',
    gateway: config.gatewayId,
  }));
  // Readiness is this gateway's own NATS connection and JetStream stream: a load balancer must not
  // take every gateway out because auth is briefly down (the requests would fail either way).
  // `?full=1` also asks each service (operators, `npm run admin -- config check`).
  app.get('/readyz', { schema: { hide: true, response: { 200: Ready, 503: Ready } } }, async (req, reply) => {
    const checks: Record<string, string> = {};
    checks.nats = nc.isClosed() ? 'closed' : !natsUp ? 'reconnecting' : hub.stopped ? 'shutting down' : 'ok';
    try {
      await Promise.race([
        jsm.streams.info(config.streamName),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), READY_PROBE_TIMEOUT_MS)),
      ]);
      checks.jetstream = 'ok';
    } catch {
      checks.jetstream = 'no stream';
    }
    if ((req.query as { full?: string }).full !== '1') {
      const ok = checks.nats === 'ok' && checks.jetstream === 'ok';
      return reply.code(ok ? 200 : 503).send({ ready: ok, checks });
    }
    const probe = async (name: string, subject: string, payload: unknown) => {
      try {
        await rpc.raw(subject, payload, READY_PROBE_TIMEOUT_MS);
        checks[name] = 'ok';
      } catch {
        checks[name] = 'no answer';
      }
    };
    const probeId = 'readyzprobe0';
    await Promise.all([
      probe('auth', s.auth.jwks, {}),
      probe('keydir', s.keydir.devices, { userId: probeId }),
      probe('presence', s.presence.query, { caller: { userId: probeId, deviceId: 'readyz' }, userIds: [] }),
    ]);
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });
}
