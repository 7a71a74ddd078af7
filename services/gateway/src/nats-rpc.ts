import { decodeJson, encodeJson, HushError, type ServiceReply } from '@hush/protocol';
import { REQUEST_ID_HEADER } from '@hush/service-kit';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { UPSTREAM_TIMEOUT_MS } from './constants.js';
import { rpcSeconds } from './metrics.js';

/**
 * Request/reply to auth, keydir and presence. Replies are `ServiceReply<T>` JSON
 * (libs/protocol/service.ts); an error reply becomes the HushError it carries, and a timeout or
 * "no responders" becomes UPSTREAM_UNAVAILABLE so HTTP answers 503 and WS sends an error frame.
 */
export class Rpc {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = UPSTREAM_TIMEOUT_MS,
    /** The HTTP request this view answers (`for(req)`): its id travels in a header. */
    private readonly requestId?: string,
  ) {}

  /**
   * The same RPC for one HTTP request: its id goes along in a NATS header, so the services log
   * the same id. Passed explicitly rather than through an AsyncLocalStorage, which turns on
   * promise hooks for the whole process and cost the WebSocket path ~5 % of the gateway's CPU
   * per message (docs/BENCHMARKS.md, load test on a quiet machine).
   */
  for(req: { id: string | number }): Rpc {
    return new Rpc(this.nc, this.timeoutMs, String(req.id));
  }

  async call<T>(subject: string, payload: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const end = rpcSeconds.startTimer({ subject: subject.split('.').slice(-2).join('.') });
    let reply: ServiceReply<T>;
    try {
      reply = await this.raw<ServiceReply<T>>(subject, payload, timeoutMs);
    } catch (e) {
      end({ code: e instanceof HushError ? e.code : 'INTERNAL' });
      throw e;
    }
    if (reply && typeof reply === 'object' && 'ok' in reply) {
      end({ code: reply.ok ? 'ok' : String(reply.error?.code) });
      if (reply.ok) return reply.result;
      throw HushError.fromWire(reply.error);
    }
    end({ code: 'INTERNAL' });
    throw new HushError('INTERNAL', `Malformed reply on ${subject}`);
  }

  /** The decoded reply without unwrapping (used for JWKS, which may be served bare). */
  async raw<T>(subject: string, payload: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    let data: Uint8Array;
    try {
      // The HTTP request id travels in a header, so services log the same id.
      const h = this.requestId ? headers() : undefined;
      if (this.requestId && h) h.set(REQUEST_ID_HEADER, this.requestId);
      const msg = await this.nc.request(subject, encodeJson(payload), {
        timeout: timeoutMs,
        ...(h ? { headers: h } : {}),
      });
      data = msg.data;
    } catch (e) {
      throw new HushError('UPSTREAM_UNAVAILABLE', `No answer on ${subject.split('.').slice(-2).join('.')}`, {
        cause: e,
      });
    }
    try {
      return decodeJson<T>(data);
    } catch (e) {
      throw new HushError('INTERNAL', `Malformed reply on ${subject}`, { cause: e });
    }
  }
}
