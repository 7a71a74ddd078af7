import { ErrorCodes, HushError, type WireError } from '@hush/protocol';
import { createLogger as serviceLogger } from '@hush/service-kit';
import { Ajv } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import helmetHeaders from 'helmet';
import type { DestinationStream, Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { HTTP_BODY_LIMIT } from './constants.js';

/**
 * The gateway's HTTP hardening, in one place: the CSP and helmet headers, strict body validation,
 * the one error envelope, log redaction, the trusted-proxy rule, HSTS and the probe paths.
 */

/** Content-Security-Policy for the web client: no inline script, no third parties (docs/ARCHITECTURE.md, decision 17). */
const CSP = {
  defaultSrc: ["'self'"],
  // 'wasm-unsafe-eval' lets the page compile WebAssembly (libs/crypto's SHA-512 for safety
  // numbers, ~5x faster than plain JS); it does NOT allow eval() or new Function() on strings,
  // nor any inline script.
  scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  // Voice messages play from blob: URLs of the decrypted audio (never from another origin).
  mediaSrc: ["'self'", 'blob:'],
  // 'self' covers ws:/wss: to the page's own host and port (CSP Level 3 §6.7.2.8); a bare ws:
  // or wss: would let injected script open sockets to any host.
  connectSrc: ["'self'"],
  // The web client's service worker (clients/web/public/sw.js: an offline app shell) and its web
  // app manifest, from this origin only. Both fall back to default-src 'self' anyway; said here so
  // a later default-src change cannot silently allow a worker or manifest from elsewhere.
  workerSrc: ["'self'"],
  manifestSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
};

export const strictAjv = new Ajv({
  removeAdditional: false,
  useDefaults: true,
  coerceTypes: false,
  allErrors: false,
  strict: false,
});
export const textAjv = new Ajv({
  removeAdditional: false,
  useDefaults: true,
  coerceTypes: true,
  allErrors: false,
  strict: false,
});

// HSTS off here: it is added per response, only over HTTPS (RFC 6797 §7.2).
export const HELMET = { contentSecurityPolicy: { useDefaults: false, directives: CSP }, hsts: false };
/** The same headers as @fastify/helmet, for answers given before routing (a malformed URL). */
export const securityHeaders = helmetHeaders(HELMET);

/** Paths and fields that never reach a log line (tokens, passwords, bodies, payloads). */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-backup-auth"]',
  'req.body',
  'res.headers["set-cookie"]',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.password',
  '*.body',
];

/**
 * The gateway's pino logger with the redactions above (main.ts and tests use it): JSON lines, or
 * pino-pretty on a terminal (LOG_FORMAT, see @hush/service-kit).
 */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  dest?: DestinationStream,
  format = 'auto',
): Logger {
  const opts = { level, base: { svc: 'gateway', ...base }, redact: { paths: REDACT, censor: '[redacted]' }, format };
  return serviceLogger(opts, dest);
}

// One error envelope for every error: `{ error: { code, message } }` with a catalogued code.
export function sendError(err: FastifyError | HushError, req: FastifyRequest, reply: FastifyReply) {
  let wire: WireError;
  let status: number;
  if (err instanceof HushError) {
    wire = err.toWire();
    status = err.status;
    if (status >= 500) req.log.warn({ code: err.code, msg: err.message }, 'upstream error');
  } else if ((err as FastifyError).validation) {
    wire = { code: 'VALIDATION_FAILED', message: err.message.slice(0, 300) };
    status = ErrorCodes.VALIDATION_FAILED.status;
  } else if ((err as FastifyError).statusCode === 413 && req.url.startsWith('/v1/attachments')) {
    wire = { code: 'ATTACH_TOO_LARGE', message: ErrorCodes.ATTACH_TOO_LARGE.message };
    status = 413;
  } else if ((err as FastifyError).statusCode === 413) {
    wire = { code: 'VALIDATION_FAILED', message: `The body is larger than ${HTTP_BODY_LIMIT} bytes` };
    status = 413;
  } else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500) {
    // Bad JSON, wrong content type, a malformed URL and the like: the request is at fault.
    wire = { code: 'VALIDATION_FAILED', message: err.message.slice(0, 300) };
    status = ErrorCodes.VALIDATION_FAILED.status;
  } else {
    req.log.error({ err: err.message }, 'unhandled error');
    wire = { code: 'INTERNAL', message: ErrorCodes.INTERNAL.message };
    status = 500;
  }
  return reply.code(status).send({ error: wire });
}

/**
 * Fastify 5 ignores a numeric `trustProxy` (it fails closed, since a hop count cannot tell a proxy
 * from a client). A hop count here means "the gateway is reachable only through N proxies" (the
 * Kubernetes NetworkPolicy and compose network make it so): the N nearest hops are trusted.
 * Prefer an address list where the proxies' addresses are known.
 */
export function fastifyTrustProxy(tp: GatewayConfig['trustProxy']): boolean | string[] {
  if (typeof tp !== 'number') return tp;
  const hops = tp;
  // Fastify accepts a (address, hop index) predicate; the public type omits it under `https`.
  return ((_addr: string, i: number) => i < hops) as unknown as boolean;
}

/** HSTS (RFC 6797 §7.2: only sent over secure transport): one year, subdomains included. */
export const HSTS = 'max-age=31536000; includeSubDomains';

/** Probes are polled every few seconds: logged at debug, not as two info lines each. */
const PROBES = new Set(['/healthz', '/readyz']);
export const isProbe = (url: string | undefined) => PROBES.has((url ?? '').split('?')[0] ?? '');

export const PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hush</title></head>
<body><h1>Hush gateway</h1><p>The web client is not built. Run <code>npm run build</code>, or use the API (<a href="/docs/json">/docs/json</a>).</p></body></html>`;
