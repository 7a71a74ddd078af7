/**
 * The XMPP-over-WebSocket wire for the load generator's third path: builders of the few frames it
 * sends and a cheap classifier of the frames it receives. Pure (no sockets), so the unit tests run
 * where no XMPP server is installed.
 *
 * Framing is RFC 7395: the WebSocket subprotocol `xmpp`, `<open/>` and `<close/>` in the framing
 * namespace instead of `<stream:stream>`, one complete XML element per WebSocket message (§3.3.3),
 * and a new `<open/>` after SASL success (§3.5). Authentication is RFC 6120 §6 SASL PLAIN
 * (RFC 4616), resource binding RFC 6120 §7, chat messages and initial presence RFC 6121 §5.2 and
 * §4.2, account creation XEP-0077, acknowledgements XEP-0198 (stream management, `urn:xmpp:sm:3`).
 *
 * The classifier looks at the first bytes of a frame and pulls out only what the benchmark needs
 * (a message's id, an ack's `h`): no XML parser runs per message, so the generator's CPU per
 * message stays comparable with the gateway path's JSON frames.
 */

export const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SM = 'urn:xmpp:sm:3';
export const NS_REGISTER = 'jabber:iq:register';
/** The WebSocket subprotocol RFC 7395 §3.1 registers. */
export const WS_PROTOCOL = 'xmpp';

/** XML-escapes text and attribute values (RFC 6120 §11.1: the five predefined entities). */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${ENTITIES[c]};`);
}
const ENTITIES: Record<string, string> = { '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' };

export function xmlUnescape(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => REVERSE[e]!);
}
const REVERSE: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** RFC 7395 §3.4: opens (and after SASL, restarts) the stream. */
export const openFrame = (domain: string) => `<open xmlns='${NS_FRAMING}' to='${xmlEscape(domain)}' version='1.0'/>`;
/** RFC 7395 §3.6: closes the stream; the server answers with its own `<close/>`. */
export const closeFrame = () => `<close xmlns='${NS_FRAMING}'/>`;

/** RFC 4616 message: authzid (empty), authcid, password, NUL-separated, base64 in `<auth/>`. */
export function authPlainFrame(user: string, password: string): string {
  const b64 = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
  return `<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64}</auth>`;
}

export const bindFrame = (iqId: string, resource: string) =>
  `<iq xmlns='jabber:client' type='set' id='${xmlEscape(iqId)}'><bind xmlns='${NS_BIND}'><resource>${xmlEscape(resource)}</resource></bind></iq>`;

/** XEP-0077 §3.1: account creation before authentication. */
export const registerFrame = (iqId: string, user: string, password: string) =>
  `<iq xmlns='jabber:client' type='set' id='${xmlEscape(iqId)}'><query xmlns='${NS_REGISTER}'><username>${xmlEscape(user)}</username><password>${xmlEscape(password)}</password></query></iq>`;

/** XEP-0198 §3: stream management without resumption (the load generator never resumes). */
export const enableSmFrame = () => `<enable xmlns='${NS_SM}'/>`;
/** XEP-0198 §4: ask the server how many of our stanzas it has handled. */
export const ackRequestFrame = () => `<r xmlns='${NS_SM}'/>`;
/** XEP-0198 §4: tell the server how many of its stanzas we have handled. */
export const ackFrame = (h: number) => `<a xmlns='${NS_SM}' h='${h >>> 0}'/>`;
/** RFC 6121 §4.2: initial presence makes the session available, so the bare JID routes to it. */
export const presenceFrame = () => `<presence xmlns='jabber:client'/>`;

/**
 * A chat message (RFC 6121 §5.2.2 type `chat`), to a bare JID so the server picks the available
 * resource as it does for a real contact. The part up to the id depends only on the recipient, so
 * the transport renders it once per device. Ids (`[A-Za-z0-9_-]`) and bodies (base64) need no
 * escaping, so none is done per message.
 */
export const messagePrefix = (toBareJid: string) =>
  `<message xmlns='jabber:client' type='chat' to='${xmlEscape(toBareJid)}' id='`;
export const messageTail = (id: string, body: string) => `${id}'><body>${body}</body></message>`;
export const message = (toBareJid: string, id: string, body: string) =>
  messagePrefix(toBareJid) + messageTail(id, body);

/** RFC 6120 §8.2.3 and §8.3.3.19: the answer to a request for a service this client does not offer. */
export const iqErrorFrame = (id: string, to: string) =>
  `<iq xmlns='jabber:client' type='error' id='${xmlEscape(id)}'${to ? ` to='${xmlEscape(to)}'` : ''}><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`;

/** What the load generator distinguishes among the server's frames. */
export type Frame =
  | { kind: 'message'; id: string; type: string }
  | { kind: 'r' }
  | { kind: 'a'; h: number }
  | { kind: 'presence' }
  | { kind: 'iq'; id: string; type: string; from?: string; jid?: string; error?: string }
  | { kind: 'open' }
  | { kind: 'close' }
  | { kind: 'features'; mechanisms: string[]; bind: boolean; sm: boolean; register: boolean }
  | { kind: 'success' }
  | { kind: 'failure'; condition: string }
  | { kind: 'enabled' }
  | { kind: 'sm-failed'; condition: string }
  | { kind: 'stream-error'; condition: string }
  | { kind: 'other'; name: string };

/** Value of attribute `name` inside `tag` (an opening tag's text), either quote style; '' if absent. */
export function attr(tag: string, name: string): string {
  let at = 0;
  for (;;) {
    const i = tag.indexOf(`${name}=`, at);
    if (i < 0) return '';
    const before = tag.charCodeAt(i - 1);
    // A whole attribute name: preceded by whitespace (so `id=` does not match inside `xml:id=`).
    if (before === 32 || before === 9 || before === 10 || before === 13) {
      const q = tag[i + name.length + 1];
      if (q === "'" || q === '"') {
        const end = tag.indexOf(q, i + name.length + 2);
        if (end < 0) return '';
        return xmlUnescape(tag.slice(i + name.length + 2, end));
      }
    }
    at = i + name.length + 1;
  }
}

/** The opening tag of the frame's top-level element: up to the first `>`. */
function openingTag(f: string): string {
  const end = f.indexOf('>');
  return end < 0 ? f : f.slice(0, end);
}

/** Local name of the first element (`stream:features` -> `features`). */
function elementName(f: string): string {
  let end = 1;
  while (end < f.length) {
    const c = f.charCodeAt(end);
    if (c === 32 || c === 47 || c === 62 || c === 9 || c === 10 || c === 13) break;
    end++;
  }
  const full = f.slice(1, end);
  const colon = full.indexOf(':');
  return colon < 0 ? full : full.slice(colon + 1);
}

/** First child element's local name after the opening tag (a stream error's or SASL failure's condition). */
function firstChildName(f: string): string {
  const tagEnd = f.indexOf('>');
  if (tagEnd < 0 || f[tagEnd - 1] === '/') return '';
  const lt = f.indexOf('<', tagEnd);
  if (lt < 0 || f[lt + 1] === '/') return '';
  return elementName(f.slice(lt));
}

/** Text between `<tag ...>` and `</tag>` of the first `tag` element, or undefined. */
function textOf(f: string, tag: string): string | undefined {
  const i = f.indexOf(`<${tag}`);
  if (i < 0) return undefined;
  const start = f.indexOf('>', i);
  if (start < 0 || f[start - 1] === '/') return '';
  const end = f.indexOf(`</${tag}>`, start);
  return end < 0 ? undefined : xmlUnescape(f.slice(start + 1, end));
}

/**
 * Classifies one server frame. The hot cases (message, `<r/>`, `<a/>`) come first and read only
 * the opening tag; the handshake cases, a few per connection, may look further.
 */
export function parseFrame(f: string): Frame {
  const c1 = f.charCodeAt(1);
  // 'm' message, 'r' / 'a' XEP-0198 request / ack
  if (c1 === 109 && f.startsWith('<message')) {
    const tag = openingTag(f);
    return { kind: 'message', id: attr(tag, 'id'), type: attr(tag, 'type') };
  }
  if (c1 === 114 && (f[2] === ' ' || f[2] === '/')) return { kind: 'r' };
  if (c1 === 97 && (f[2] === ' ' || f[2] === '/')) return { kind: 'a', h: Number(attr(openingTag(f), 'h')) };
  const name = elementName(f);
  switch (name) {
    case 'presence':
      return { kind: 'presence' };
    case 'iq': {
      const tag = openingTag(f);
      const r: Frame = { kind: 'iq', id: attr(tag, 'id'), type: attr(tag, 'type') };
      const from = attr(tag, 'from');
      if (from) r.from = from;
      const jid = textOf(f, 'jid');
      if (jid !== undefined) r.jid = jid;
      if (r.type === 'error') {
        const e = f.indexOf('<error');
        r.error = e < 0 ? 'undefined-condition' : firstChildName(f.slice(e)) || 'undefined-condition';
      }
      return r;
    }
    case 'open':
      return { kind: 'open' };
    case 'close':
      return { kind: 'close' };
    case 'features': {
      const mechanisms: string[] = [];
      for (let i = f.indexOf('<mechanism>'); i >= 0; i = f.indexOf('<mechanism>', i + 11)) {
        const end = f.indexOf('</mechanism>', i);
        if (end < 0) break;
        mechanisms.push(f.slice(i + 11, end));
      }
      return {
        kind: 'features',
        mechanisms,
        bind: f.includes(NS_BIND),
        sm: f.includes(NS_SM),
        register: f.includes('http://jabber.org/features/iq-register'),
      };
    }
    case 'success':
      return { kind: 'success' };
    case 'failure':
      return { kind: 'failure', condition: firstChildName(f) || 'undefined-condition' };
    case 'enabled':
      return { kind: 'enabled' };
    case 'failed':
      return { kind: 'sm-failed', condition: firstChildName(f) || 'undefined-condition' };
    case 'error':
      return { kind: 'stream-error', condition: firstChildName(f) || 'undefined-condition' };
    default:
      return { kind: 'other', name };
  }
}

/** Whether a frame is a stanza (message, presence, iq): what XEP-0198's `h` counts. */
export function isStanza(f: Frame): boolean {
  return f.kind === 'message' || f.kind === 'presence' || f.kind === 'iq';
}
