import { decodeJson, type ErrorCode, encodeJson, errReply, HushError, okReply } from '@hush/protocol';
import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type ValueError } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { REQUEST_ID_HEADER } from './logger.js';
import { rpcHandled } from './metrics.js';

/** Largest request body a service reads (a full key publication is ~60 KiB). */
export const MAX_REQUEST_BYTES = 512 * 1024;

export interface EndpointOptions<S extends TSchema, R> {
  name: string;
  subject: string;
  schema: S;
  handler: (req: Static<S>) => Promise<R>;
  /**
   * Error code for a body that breaks the schema. A function lets a service say which part was
   * wrong (keydir answers KEYS_MALFORMED for key material, VALIDATION_FAILED for the rest).
   */
  invalidCode?: ErrorCode | ((error: ValueError) => ErrorCode);
}

/**
 * The slice of @nats-io/services' per-endpoint statistics that `$SRV.STATS` reports. The library
 * counts a request and its time when its callback returns, and an error only when the callback
 * throws synchronously: an async handler would show 0 ms and no errors. So the callback hands the
 * request to `handle`, which awaits the handler and then adds its real duration and its failure
 * here. Reached through the service's internal handler list (@nats-io/services 3.0.0-25, pinned).
 */
interface EndpointStats {
  processing_time: number;
  average_processing_time: number;
  num_requests: number;
  countError(err: Error): void;
}

function endpointStats(svc: Service, name: string): EndpointStats | undefined {
  const handlers = (svc as unknown as { handlers?: { name: string; stats?: EndpointStats }[] }).handlers;
  const stats = handlers?.find((h) => h.name === name)?.stats;
  return stats && typeof stats.countError === 'function' ? stats : undefined;
}

/**
 * Adds a JSON request/reply endpoint to a NATS micro service. Every request is parsed and checked
 * against its schema before the handler runs; every reply is a ServiceReply, so a bad request gets
 * a clear error and never takes the service down. Logs carry the endpoint and the error code,
 * never the body (it may hold a password or a token).
 *
 * `$SRV.STATS` times each request until its reply is sent, and counts as errors the requests that
 * failed on the service's side (an unexpected exception, or a HushError with a 5xx status such as
 * UPSTREAM_UNAVAILABLE); refusals of bad input (4xx codes) are answers, not errors. `last_error`
 * is the error code only, never a message that could carry request data.
 */
export function addJsonEndpoint<S extends TSchema, R>(svc: Service, log: Logger, opts: EndpointOptions<S, R>): void {
  const check = TypeCompiler.Compile(opts.schema);
  const invalid = (error: ValueError | undefined): ErrorCode => {
    if (typeof opts.invalidCode === 'function') return error ? opts.invalidCode(error) : 'VALIDATION_FAILED';
    return opts.invalidCode ?? 'VALIDATION_FAILED';
  };
  const handle = async (msg: ServiceMsg): Promise<void> => {
    const started = performance.now();
    let failure: string | undefined;
    // The gateway's HTTP request id, so one id follows a request across services' logs.
    const requestId = msg.headers?.get(REQUEST_ID_HEADER);
    const rlog = requestId ? log.child({ reqId: requestId }) : log;
    let reply: unknown;
    let code = 'ok';
    try {
      if (msg.data.length > MAX_REQUEST_BYTES) throw new HushError('VALIDATION_FAILED', 'Request body too large');
      let body: unknown = {};
      try {
        // An empty body means "no arguments" (auth.jwks is asked with an empty request).
        if (msg.data.length > 0) body = decodeJson<unknown>(msg.data);
      } catch {
        throw new HushError('VALIDATION_FAILED', 'Request body is not JSON');
      }
      if (!check.Check(body)) {
        const first = check.Errors(body).First();
        const path = first?.path || '/';
        throw new HushError(invalid(first), `Invalid request at ${path}: ${first?.message ?? 'does not match schema'}`);
      }
      reply = okReply(await opts.handler(body));
    } catch (e) {
      if (!(e instanceof HushError)) {
        rlog.error({ err: safeErr(e), endpoint: opts.name }, 'endpoint failed');
        failure = 'INTERNAL';
      } else {
        rlog.debug({ endpoint: opts.name, code: e.code }, 'request refused');
        if (e.status >= 500) failure = e.code;
      }
      code = e instanceof HushError ? e.code : 'INTERNAL';
      reply = errReply(e);
    }
    if (msg.reply) msg.respond(encodeJson(reply));
    const seconds = (performance.now() - started) / 1000;
    rpcHandled.observe({ endpoint: opts.subject.split('.').slice(-2).join('.'), code }, seconds);
    rlog.trace({ endpoint: opts.name, ms: seconds * 1000 }, 'handled');
    const stats = statsOf();
    if (stats) {
      // The library already counted this request (with ~0 ms) when the callback returned.
      stats.processing_time += Math.round(seconds * 1e9);
      stats.average_processing_time = Math.round(stats.processing_time / Math.max(1, stats.num_requests));
      if (failure) stats.countError(new Error(failure));
    }
  };
  let stats: EndpointStats | undefined;
  const statsOf = () => {
    stats ??= endpointStats(svc, opts.name);
    return stats;
  };
  svc.addEndpoint(opts.name, {
    subject: opts.subject,
    handler: (err, msg) => {
      if (err) {
        log.error({ err: safeErr(err), endpoint: opts.name }, 'endpoint subscription failed');
        return;
      }
      handle(msg).catch((e: unknown) => log.error({ err: safeErr(e), endpoint: opts.name }, 'reply failed'));
    },
  });
}

/** Fixed-window counter in Redis: returns the count after increment and the ms left in the window. */
export const FIXED_WINDOW_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`;

/**
 * @nats-io/services 3.0.0-25 pins nats-core 3.0.0-50; npm keeps that nested copy despite the root
 * override, so the two NatsConnection types differ only nominally. The runtime object is the same.
 */
export const svcm = (nc: NatsConnection) => new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]);

/**
 * What may be logged about an error: its name, message, code and stack. Not the whole object:
 * ioredis errors carry the failed command's arguments (a password hash, a refresh-token hash,
 * key material), and pino would serialise every enumerable field.
 */
export function safeErr(e: unknown): { type: string; message: string; code?: unknown; stack?: string } {
  if (!(e instanceof Error)) return { type: typeof e, message: String(e).slice(0, 200) };
  const out: { type: string; message: string; code?: unknown; stack?: string } = { type: e.name, message: e.message };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (e.stack) out.stack = e.stack;
  return out;
}
