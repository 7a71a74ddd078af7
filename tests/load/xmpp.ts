import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { LoadTransport, TransportEvents } from './phase.js';
import { pool } from './ws-transport.js';
import {
  ackFrame,
  ackRequestFrame,
  authPlainFrame,
  bindFrame,
  closeFrame,
  enableSmFrame,
  type Frame,
  iqErrorFrame,
  messagePrefix,
  openFrame,
  parseFrame,
  presenceFrame,
  registerFrame,
  WS_PROTOCOL,
} from './xmpp-wire.js';

/**
 * The XMPP path of the load test: one WebSocket per client to a private ejabberd
 * (xmpp-server.ts), accounts made in-band (XEP-0077), each session authenticated with SASL PLAIN,
 * bound, with stream management (XEP-0198) enabled and initial presence sent, as an online chat
 * client does. Messages go to the partner's bare JID as `<message type='chat'>`; the paced sender,
 * ledger and CPU meter are phase.ts's, as for the gateway and raw paths.
 *
 * "Accepted" is XEP-0198's `<a h='n'/>`: the count of our stanzas the server has handled. ejabberd
 * counts a stanza in when its c2s process takes it and processes stanzas one at a time, so when it
 * answers a later `<r/>` every earlier message has been routed to the recipient's session: the
 * closest analogue of the gateway's `accepted` (sent after JetStream's PubAck). One `<r/>` is
 * outstanding per socket at most, the next sent when the answer comes and more messages went out
 * meanwhile: what ejabberd itself does towards the client (mod_stream_mgmt send_rack/resend_rack),
 * so acks cost about one frame each way per round trip, not per message. The client answers the
 * server's `<r/>` with the count of stanzas it received, as the gateway's client acks deliveries;
 * unanswered, ejabberd would close the session after 5 000 unacked stanzas.
 */

/** Sessions opened at once (as the gateway path's CONNECT_CONCURRENCY). */
const CONNECT_CONCURRENCY = 32;
/** Streams registering accounts in parallel; each registers its share one after the other. */
const REGISTER_STREAMS = 8;
/** A registration stream is replaced after this long, well inside ejabberd's 30 s negotiation_timeout. */
const REGISTER_STREAM_MS = 15_000;
/** One handshake step must be answered within this time. */
const STEP_TIMEOUT_MS = 20_000;
const RESOURCE = 'load';

export interface XmppAccount {
  user: string;
  password: string;
}

export function makeAccounts(n: number, tag: string): XmppAccount[] {
  const password = randomBytes(12).toString('base64url');
  const t = tag.toLowerCase().replace(/[^a-z0-9]/g, '');
  return Array.from({ length: n }, (_, i) => ({ user: `u${t}x${i}`, password }));
}

/**
 * One XMPP-over-WebSocket connection. During the handshake, frames are handed to `next()`; once
 * `live`, messages and acks go to the callbacks. Stanzas received after stream management is
 * enabled are counted (XEP-0198 §4 `h`) and the server's `<r/>` answered, in either mode.
 */
export class XmppConn {
  /** Stanzas received since `<enabled/>` (XEP-0198 `h` of this side). */
  inH = 0;
  /** Stanzas sent since `<enable/>`. */
  outH = 0;
  sm = false;
  closed = false;
  /** We sent `<close/>`: the socket closing next is ours, not the server's doing. */
  closing = false;
  jid = '';
  live = false;
  onMessage: (id: string, type: string) => void = () => {};
  onAck: (h: number) => void = () => {};
  onClose: () => void = () => {};
  private readonly frames: Frame[] = [];
  private waiter: ((f: Frame | Error) => void) | undefined;
  private failure: Error | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.receive(String(data)));
    ws.on('close', () => {
      this.closed = true;
      this.fail(new Error('socket closed'));
      if (!this.closing) this.onClose();
    });
    ws.on('error', (e) => this.fail(e));
  }

  /** Opens the WebSocket with the `xmpp` subprotocol (RFC 7395 §3.1); the stream is opened by the caller. */
  static async connect(url: string): Promise<XmppConn> {
    const ws = new WebSocket(url, WS_PROTOCOL, { perMessageDeflate: false });
    const c = new XmppConn(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('closed before open')));
    });
    return c;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(e);
  }

  private receive(raw: string): void {
    const f = parseFrame(raw);
    if (this.sm && (f.kind === 'message' || f.kind === 'presence' || f.kind === 'iq')) this.inH++;
    if (f.kind === 'r') {
      this.ws.send(ackFrame(this.inH));
      return;
    }
    if (f.kind === 'close' && (this.closing || this.live)) {
      // RFC 7395 §3.6: the stream is over on both sides; the socket can go.
      this.ws.close(1000);
      return;
    }
    if (this.live) {
      switch (f.kind) {
        case 'message':
          this.onMessage(f.id, f.type);
          return;
        case 'a':
          this.onAck(f.h);
          return;
        case 'iq':
          // RFC 6120 §8.2.3: a get or set must be answered; this client offers no service.
          if (f.type === 'get' || f.type === 'set') this.send(iqErrorFrame(f.id, f.from ?? ''));
          return;
        case 'stream-error':
          this.ws.close(1000);
          return;
        default:
          return;
      }
    }
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(f);
    } else this.frames.push(f);
  }

  /** The next frame of the handshake, skipping presence (the server echoes our own). */
  async next(step: string): Promise<Frame> {
    for (;;) {
      const f = this.frames.shift() ?? (await this.wait(step));
      if (f.kind !== 'presence') return f;
    }
  }

  private wait(step: string): Promise<Frame> {
    if (this.failure) return Promise.reject(new Error(`${step}: ${this.failure.message}`));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${step}: no answer in ${STEP_TIMEOUT_MS} ms`));
      }, STEP_TIMEOUT_MS);
      this.waiter = (f) => {
        clearTimeout(t);
        if (f instanceof Error) reject(new Error(`${step}: ${f.message}`));
        else resolve(f);
      };
    });
  }

  /** Expects a frame of this kind next; anything else (a failure, a stream error) is an error. */
  async expect<K extends Frame['kind']>(kind: K, step: string): Promise<Extract<Frame, { kind: K }>> {
    const f = await this.next(step);
    if (f.kind !== kind) throw new Error(`${step}: expected ${kind}, got ${JSON.stringify(f)}`);
    return f as Extract<Frame, { kind: K }>;
  }

  send(frame: string): void {
    this.ws.send(frame);
  }

  /** RFC 7395 §3.6: `<close/>`, wait for the server's (bounded), then close the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        this.ws.terminate();
        r();
      }, 2_000);
      t.unref();
      this.ws.once('close', () => {
        clearTimeout(t);
        r();
      });
      this.send(closeFrame());
    });
  }
}

/** Opens the stream and reads the first features (RFC 6120 §4.3.2). */
async function openStream(c: XmppConn, domain: string, step: string): Promise<Extract<Frame, { kind: 'features' }>> {
  c.send(openFrame(domain));
  await c.expect('open', `${step}: stream open`);
  return c.expect('features', `${step}: stream features`);
}

/**
 * XEP-0077 §3.1 in-band registration. Each of a few streams registers its share of the accounts one
 * after the other (ejabberd accepts several registrations on one unauthenticated stream), so 200
 * accounts cost 8 connections, not 200. ejabberd ends a stream still unauthenticated after its
 * `negotiation_timeout` (30 s), so a stream is replaced by a fresh one after REGISTER_STREAM_MS.
 */
export async function registerAccounts(url: string, domain: string, accounts: XmppAccount[]): Promise<void> {
  const shares: XmppAccount[][] = Array.from({ length: REGISTER_STREAMS }, () => []);
  for (const [i, a] of accounts.entries()) shares[i % REGISTER_STREAMS]!.push(a);
  const open = async () => {
    const c = await XmppConn.connect(url);
    const features = await openStream(c, domain, 'register');
    if (!features.register) throw new Error('the server offers no in-band registration (mod_register)');
    return { c, since: performance.now() };
  };
  await Promise.all(
    shares
      .filter((s) => s.length > 0)
      .map(async (share, k) => {
        let s = await open();
        try {
          for (const [i, a] of share.entries()) {
            if (performance.now() - s.since > REGISTER_STREAM_MS) {
              await s.c.close();
              s = await open();
            }
            const id = `reg${k}_${i}`;
            s.c.send(registerFrame(id, a.user, a.password));
            const r = await s.c.expect('iq', `register ${a.user}`);
            if (r.id !== id || r.type !== 'result') throw new Error(`register ${a.user}: ${r.type} ${r.error ?? ''}`);
          }
        } finally {
          await s.c.close();
        }
      }),
  );
}

/** SASL PLAIN, stream restart, bind, stream management, initial presence: an online session. */
export async function login(url: string, domain: string, a: XmppAccount): Promise<XmppConn> {
  const c = await XmppConn.connect(url);
  try {
    const f1 = await openStream(c, domain, a.user);
    if (!f1.mechanisms.includes('PLAIN')) throw new Error(`no SASL PLAIN offered (${f1.mechanisms.join(' ')})`);
    c.send(authPlainFrame(a.user, a.password));
    const auth = await c.next(`${a.user}: auth`);
    if (auth.kind !== 'success') throw new Error(`${a.user}: auth ${JSON.stringify(auth)}`);
    const f2 = await openStream(c, domain, `${a.user} after auth`);
    if (!f2.bind || !f2.sm) throw new Error(`${a.user}: no bind or stream management offered`);
    c.send(bindFrame('bind1', RESOURCE));
    const bound = await c.expect('iq', `${a.user}: bind`);
    if (bound.type !== 'result' || !bound.jid) throw new Error(`${a.user}: bind ${bound.type} ${bound.error ?? ''}`);
    c.jid = bound.jid;
    c.send(enableSmFrame());
    await c.expect('enabled', `${a.user}: enable stream management`);
    c.sm = true;
    c.send(presenceFrame());
    c.outH++;
    return c;
  } catch (e) {
    c.ws.terminate();
    throw e;
  }
}

/** Per socket: ids of messages sent and not yet acknowledged, with the `h` each will have. */
interface Unacked {
  ids: string[];
  seqs: number[];
  head: number;
  /** An `<r/>` is outstanding. */
  requested: boolean;
}

export class XmppTransport implements LoadTransport {
  readonly name = 'ejabberd';
  events: TransportEvents = { accepted() {}, rejected() {}, delivered() {} };
  /** Sessions the server closed while the test ran. */
  closes = 0;
  private conns: XmppConn[] = [];
  private readonly unacked: Unacked[] = [];
  private readonly prefixes: string[];
  private readonly toRequest: number[] = [];
  private flushScheduled = false;

  private constructor(accounts: XmppAccount[], domain: string) {
    this.prefixes = accounts.map((a) => messagePrefix(`${a.user}@${domain}`));
  }

  get devices(): number {
    return this.conns.length;
  }

  static async open(accounts: XmppAccount[], url: string, domain: string): Promise<XmppTransport> {
    const t = new XmppTransport(accounts, domain);
    t.conns = await pool(accounts, CONNECT_CONCURRENCY, (a) => login(url, domain, a));
    t.conns.forEach((c, i) => {
      const u: Unacked = { ids: [], seqs: [], head: 0, requested: false };
      t.unacked.push(u);
      c.onMessage = (id, type) => {
        if (type === 'error') t.events.rejected(id, 'XMPP_MESSAGE_ERROR');
        else t.events.delivered(id);
      };
      c.onAck = (h) => t.acked(i, h);
      c.onClose = () => t.closes++;
      c.live = true;
    });
    return t;
  }

  send(from: number, to: number, id: string, body: string): void {
    const c = this.conns[from]!;
    if (c.closed) {
      this.events.rejected(id, 'SOCKET_CLOSED');
      return;
    }
    c.ws.send(`${this.prefixes[to]}${id}'><body>${body}</body></message>`);
    const u = this.unacked[from]!;
    u.ids.push(id);
    u.seqs.push(++c.outH);
    if (!u.requested) this.request(from);
  }

  /** Queues an `<r/>` for this socket, sent once the current burst of sends is written. */
  private request(i: number): void {
    this.unacked[i]!.requested = true;
    this.toRequest.push(i);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const k of this.toRequest) {
        const c = this.conns[k]!;
        if (!c.closed) c.send(ackRequestFrame());
      }
      this.toRequest.length = 0;
    });
  }

  private acked(i: number, h: number): void {
    const u = this.unacked[i]!;
    u.requested = false;
    while (u.head < u.ids.length && u.seqs[u.head]! <= h) this.events.accepted(u.ids[u.head++]!);
    if (u.head > 4_096 && u.head * 2 > u.ids.length) {
      u.ids.splice(0, u.head);
      u.seqs.splice(0, u.head);
      u.head = 0;
    }
    if (u.head < u.ids.length) this.request(i);
  }

  /** Sockets still open. */
  get open(): number {
    return this.conns.filter((c) => !c.closed).length;
  }

  async close(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.close()));
  }
}
