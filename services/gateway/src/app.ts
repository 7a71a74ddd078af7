import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import { type Caller, type CheckResult, HushError, subjects } from '@hush/protocol';
import { initMetrics } from '@hush/service-kit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AnySchema } from 'ajv';
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import type { JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { ACK_WAIT_MS, HTTP_BODY_LIMIT, HTTP_IDLE_TIMEOUT_MS, WS_MAX_PAYLOAD } from './constants.js';
import { healthRoutes } from './health.js';
import { attachmentRoutes, ensureAttachmentStore } from './http/attachments.js';
import { backupRoutes, backupStreamName, ensureBackupStream } from './http/backup.js';
import { ensureGroupStream, groupRoutes, groupStreamName } from './http/groups.js';
import { ensureLinkStream, linkRoutes, linkStreamName } from './http/link.js';
import { purgeRoutes } from './http/purge.js';
import { httpRoutes } from './http/routes.js';
import { Jwks } from './http/schemas.js';
import {
  createLogger,
  fastifyTrustProxy,
  HELMET,
  HSTS,
  isProbe,
  PLACEHOLDER,
  securityHeaders,
  sendError,
  strictAjv,
  textAjv,
} from './http-policy.js';
import { countViolation, gauges } from './metrics.js';
import { Rpc } from './nats-rpc.js';
import { TokenBuckets } from './rate-limit.js';
import { DeviceDirectory } from './recipients.js';
import { ensureStream, retryStartup } from './stream.js';
import { type JwksSource, TokenVerifier } from './tokens.js';
import { Connection } from './ws/connection.js';
import { Hub } from './ws/hub.js';
import { releaseUpgrade, WsTransport } from './ws/transport.js';

export { createLogger } from './http-policy.js';

export interface GatewayDeps {
  /** Connected NATS client; the caller owns it (main.ts drains it after app.close()). */
  nc: NatsConnection;
  /** pino logger; default: pino at config.logLevel. Pass `false` to silence (tests). */
  logger?: Logger | false;
  /** Where the JWKS comes from; default: a NATS request to `auth.jwks`. */
  jwks?: JwksSource;
  /**
   * Revocation check on every hello and every authenticated HTTP call; default: `auth.check`.
   * Events close sockets already open; this covers a gateway started later or one that missed them.
   */
  checkDevice?: (caller: Caller) => Promise<void>;
  /** JetStream ack wait for mailbox consumers (tests shorten it for crash scenarios). */
  ackWaitMs?: number;
  now?: () => number;
}

export interface GatewayApp extends FastifyInstance {
  hub: Hub;
}

export async function buildApp(deps: GatewayDeps, config: GatewayConfig): Promise<GatewayApp> {
  const s = subjects(config.subjectPrefix);
  const { nc } = deps;
  const rpc = new Rpc(nc);
  const loggerOpts =
    deps.logger === false
      ? { logger: false as const }
      : deps.logger
        ? { loggerInstance: deps.logger }
        : { loggerInstance: createLogger(config.logLevel, { gw: config.gatewayId }) };
  initMetrics('gateway');
  const app = Fastify({
    ...loggerOpts,
    ...(config.tls ? { https: { cert: config.tls.cert, key: config.tls.key } } : {}),
    // Probes are polled every few seconds: their request lines go to debug (hooks below).
    logController: new LogController({ disableRequestLogging: (req) => isProbe(req.url) }),
    bodyLimit: HTTP_BODY_LIMIT,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // A body trickled in byte by byte must not hold a socket forever (408 after the timeout).
    requestTimeout: config.httpRequestTimeoutMs,
    connectionTimeout: HTTP_IDLE_TIMEOUT_MS,
    http: {
      headersTimeout: config.httpRequestTimeoutMs,
      // How often Node looks for requests over their timeout (its default, 30 s, would let a slow
      // request live up to 30 s past its deadline).
      connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(config.httpRequestTimeoutMs / 4))),
    },
    // Errors raised before routing (a malformed URL escape) get the same envelope and headers.
    frameworkErrors: (err, req, reply) => {
      securityHeaders(req.raw, reply.raw, () => undefined);
      reply.header('x-request-id', req.id);
      return sendError(err, req, reply);
    },
  }) as unknown as FastifyInstance;

  const jwksSource: JwksSource =
    deps.jwks ??
    (async () => {
      const r = await rpc.raw<{ ok?: boolean; result?: JSONWebKeySet; keys?: JSONWebKeySet['keys'] }>(s.auth.jwks, {});
      if (r.ok === true && r.result) return r.result;
      if (Array.isArray(r.keys)) return { keys: r.keys };
      throw new HushError('UPSTREAM_UNAVAILABLE', 'auth did not return a JWKS');
    });
  const verifier = new TokenVerifier(jwksSource, deps.now, { issuer: config.jwtIssuer, audience: config.jwtAudience });
  // Asked on every hello and every authenticated HTTP call: a gateway that missed a revocation
  // event (started later, or its subscription was down) must still refuse a signed-out device.
  const checkDevice =
    deps.checkDevice ??
    (async (caller: Caller, requestId?: string) => {
      const r = await (requestId ? rpc.for({ id: requestId }) : rpc).call<CheckResult>(s.auth.check, caller);
      if (!r.active) throw new HushError('AUTH_DEVICE_REVOKED');
    });
  const jsm = await retryStartup(() => jetstreamManager(nc), { stream: config.streamName, log: app.log });
  const js = jetstream(nc);
  await ensureStream(jsm, {
    name: config.streamName,
    subjects: s,
    maxAgeMs: config.mailboxMaxAgeMs,
    replicas: config.streamReplicas,
    maxBytes: config.mailboxMaxBytes,
    maxPerSubject: config.mailboxMaxPerDevice,
    log: app.log,
  });
  const linkStream = linkStreamName(config.streamName);
  await ensureLinkStream(jsm, linkStream, s);
  const devices = new DeviceDirectory(rpc, s, deps.now);
  const groupStream = groupStreamName(config.streamName);
  await ensureGroupStream(jsm, groupStream, s, config.streamReplicas);
  const attachmentDeps = {
    s,
    verifier,
    checkDevice,
    js,
    jsm,
    mailboxStream: config.streamName,
    maxAgeMs: config.mailboxMaxAgeMs,
    maxBytes: config.attachmentsMaxBytes,
    replicas: config.streamReplicas,
  };
  const attachmentStore = await ensureAttachmentStore(attachmentDeps);
  const backupStream = backupStreamName(config.streamName);
  await ensureBackupStream(jsm, backupStream, s, config.streamReplicas);
  const hub = new Hub({
    nc,
    js,
    jsm,
    s,
    config,
    rpc,
    verifier,
    devices,
    buckets: new TokenBuckets(config.sendRate, config.sendBurst, deps.now),
    byteBuckets: new TokenBuckets(config.sendBytesRate, config.sendBytesBurst, deps.now),
    log: app.log,
    ackWaitMs: deps.ackWaitMs ?? ACK_WAIT_MS,
    checkDevice,
  });

  gauges({
    sockets: () => hub.all.size,
    bound: () => hub.connectionCount,
    stream: async () => {
      const st = (await jsm.streams.info(config.streamName)).state;
      return { messages: st.messages, bytes: st.bytes, consumers: st.consumer_count };
    },
  });

  app.addHook('onRequest', async (req) => {
    if (isProbe(req.url)) req.log.debug({ req }, 'incoming request');
  });
  app.addHook('onResponse', async (req, reply) => {
    if (isProbe(req.url)) req.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
    // req.protocol is https when we terminate TLS, or when a trusted proxy says so.
    if (req.protocol === 'https') reply.header('strict-transport-security', HSTS);
  });

  app.setErrorHandler(sendError);
  // Bodies are JSON and must have the schema's types exactly: `{"username":123456}` or
  // `"keyId":"77"` is refused, as the WebSocket side refuses it. Query strings and path
  // parameters are text by nature, so their integers are still read from digits.
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strictAjv : textAjv).compile(schema as AnySchema),
  );
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send({ error: { code: 'NOT_FOUND', message: `No route for ${req.method} ${req.url.split('?')[0]}` } });
  });

  // HSTS is set above, and only over HTTPS (helmet would send it on plain HTTP too).
  await app.register(helmet, HELMET);
  await app.register(cors, { origin: config.corsOrigins.length > 0 ? config.corsOrigins : false });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Hush gateway HTTP API',
        version: '1',
        description: 'WebSocket frames on /ws are described in docs/PROTOCOL-WIRE.md',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD },
    // A client that breaks the WebSocket protocol (bad opcode, unmasked or oversized frame,
    // invalid UTF-8; the ws library has already closed with 1002/1007/1009) is the client's
    // fault: counted and logged at debug, never an error-level line it could write at will.
    errorHandler: (err, socket, req) => {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
        countViolation(hub.protocolViolations, code);
        req.log.debug({ code }, 'client broke the WebSocket protocol');
      } else {
        req.log.warn({ err: err.message }, 'socket error');
      }
      socket.terminate();
    },
    // Our shutdown first (close code 4000 = reconnect elsewhere), then the library's.
    preClose: async () => {
      await hub.stop();
      for (const c of app.websocketServer.clients) c.terminate();
    },
  });

  healthRoutes(app, { nc, jsm, rpc, s, config, hub });
  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/.well-known/jwks.json', { schema: { tags: ['auth'], response: { 200: Jwks } } }, () => jwksSource());

  await app.register(async (scope) => httpRoutes(scope, { rpc, s, verifier, checkDevice }));
  await app.register(async (scope) =>
    linkRoutes(scope, { rpc, s, verifier, checkDevice, jsm, js, streamName: linkStream }),
  );
  await app.register(async (scope) => attachmentRoutes(scope, attachmentDeps, attachmentStore));
  await app.register(async (scope) =>
    purgeRoutes(scope, { s, verifier, checkDevice, jsm, mailboxStream: config.streamName }),
  );
  await app.register(async (scope) =>
    groupRoutes(scope, {
      rpc,
      s,
      verifier,
      checkDevice,
      jsm,
      js,
      devices,
      mailboxStream: config.streamName,
      groupStream,
      now: deps.now,
    }),
  );

  await app.register(async (scope) =>
    backupRoutes(scope, { s, verifier, checkDevice, jsm, js, streamName: backupStream, now: deps.now }),
  );

  // Browsers send Origin on every WebSocket upgrade and let any page open one: without this check
  // a foreign page could drive a socket (cross-site WebSocket hijacking). Clients that are not
  // browsers send none, and cannot be made to by another site.
  const originAllowed = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (config.corsOrigins.includes(origin)) return true;
    try {
      return new URL(origin).host === req.host;
    } catch {
      return false; // "null" (sandboxed frames, file: pages) and garbage
    }
  };
  const checkOrigin = async (req: FastifyRequest) => {
    if (!originAllowed(req)) throw new HushError('GW_ORIGIN_FORBIDDEN');
  };

  app.get('/ws', { websocket: true, schema: { hide: true }, preValidation: checkOrigin }, (socket) => {
    // @fastify/websocket's own 'error' listener closes over the upgrade's request and reply, which
    // then live as long as the socket (kilobytes per idle connection: docs/SCALING.md). It is
    // replaced by one that does the same as the errorHandler above without holding them.
    socket.removeAllListeners('error');
    releaseUpgrade(socket);
    const transport = new WsTransport(socket);
    // The gateway's logger, not the request's child, for the same reason; log lines carry the conn id.
    const conn = new Connection(transport, hub, app.log);
    transport.attach(conn, (e) => {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('WS_ERR_')) countViolation(hub.protocolViolations, code);
      conn.socketError(e);
      socket.terminate();
    });
  });

  const index = join(config.webRoot, 'index.html');
  if (existsSync(index)) {
    await app.register(fastifyStatic, {
      root: config.webRoot,
      prefix: '/',
      wildcard: true,
      // Source maps publish the client's sources and comments; development only.
      allowedPath: (path) => config.serveSourceMaps || !path.endsWith('.map'),
    });
  } else {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html').send(PLACEHOLDER));
  }

  hub.start();
  const gw = app as GatewayApp;
  gw.decorate('hub', hub);
  return gw;
}
