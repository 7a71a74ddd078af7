import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DISABLED_MODULES, ejabberdConfig, XMPP_DOMAIN } from './xmpp-server.js';
import {
  ackFrame,
  attr,
  authPlainFrame,
  bindFrame,
  iqErrorFrame,
  isStanza,
  message,
  openFrame,
  parseFrame,
  registerFrame,
  xmlEscape,
  xmlUnescape,
} from './xmpp-wire.js';

/**
 * The XMPP path's framing and parsing, without a server (CI has no ejabberd). The server frames
 * below are ones ejabberd 23.01 sent to this client over WebSocket, copied verbatim.
 */
const SERVER = {
  open: "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='7900507779974083556' version='1.0' xml:lang='en' from='load.test'/>",
  features1:
    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>X-OAUTH2</mechanism></mechanisms><register xmlns='http://jabber.org/features/iq-register'/></stream:features>",
  failure:
    "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text xml:lang='en'>Invalid username or password</text></failure>",
  success: "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
  features2:
    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><c ver='IASUwEw5fI+pwzKMK4ztlZf+quA=' node='http://www.process-one.net/en/ejabberd/' hash='sha-1' xmlns='http://jabber.org/protocol/caps'/><sm xmlns='urn:xmpp:sm:2'/><sm xmlns='urn:xmpp:sm:3'/><ver xmlns='urn:xmpp:features:rosterver'/><csi xmlns='urn:xmpp:csi:0'/></stream:features>",
  bound:
    "<iq xmlns='jabber:client' type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>urawx0@load.test/load</jid></bind></iq>",
  enabled: "<enabled xmlns='urn:xmpp:sm:3'/>",
  presence:
    "<presence xmlns='jabber:client' xml:lang='en' to='urawx0@load.test/load' from='urawx0@load.test/load'><x xmlns='vcard-temp:x:update'/></presence>",
  r: "<r xmlns='urn:xmpp:sm:3'/>",
  message:
    "<message xmlns='jabber:client' xml:lang='en' to='urawx0@load.test' from='urawx0@load.test/load' type='chat' id='abc-0000001'><body>aGVsbG8=</body></message>",
  messageError:
    "<message xmlns='jabber:client' xml:lang='en' to='urawx0@load.test/load' from='nobody@elsewhere.test' type='error' id='abc-0000002'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xml:lang='en' xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>DNS lookup failed: enoname</text></error><body>aGVsbG8=</body></message>",
  a: "<a h='3' xmlns='urn:xmpp:sm:3'/>",
  iqError:
    "<iq xmlns='jabber:client' xml:lang='en' to='urawx0@load.test/load' from='urawx0@load.test' type='error' id='r2'><query xmlns='jabber:iq:register'><username>x</username><password>y</password></query><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xml:lang='en' xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Access denied by service policy</text></error></iq>",
  close: "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
};

describe('XMPP over WebSocket (RFC 7395) for the load test', () => {
  it('classifies the frames the benchmark reads on the hot path', () => {
    expect(parseFrame(SERVER.message)).toEqual({ kind: 'message', id: 'abc-0000001', type: 'chat' });
    expect(parseFrame(SERVER.messageError)).toEqual({ kind: 'message', id: 'abc-0000002', type: 'error' });
    expect(parseFrame(SERVER.r)).toEqual({ kind: 'r' });
    expect(parseFrame('<r/>')).toEqual({ kind: 'r' });
    expect(parseFrame(SERVER.a)).toEqual({ kind: 'a', h: 3 });
    expect(parseFrame(`<a xmlns="urn:xmpp:sm:3" h="4294967295"/>`)).toEqual({ kind: 'a', h: 4294967295 });
    expect(parseFrame(SERVER.presence)).toEqual({ kind: 'presence' });
  });

  it('classifies the handshake frames', () => {
    expect(parseFrame(SERVER.open)).toEqual({ kind: 'open' });
    expect(parseFrame(SERVER.features1)).toEqual({
      kind: 'features',
      mechanisms: ['PLAIN', 'SCRAM-SHA-1', 'X-OAUTH2'],
      bind: false,
      sm: false,
      register: true,
    });
    expect(parseFrame(SERVER.features2)).toMatchObject({ kind: 'features', mechanisms: [], bind: true, sm: true });
    expect(parseFrame(SERVER.failure)).toEqual({ kind: 'failure', condition: 'not-authorized' });
    expect(parseFrame(SERVER.success)).toEqual({ kind: 'success' });
    expect(parseFrame(SERVER.bound)).toEqual({ kind: 'iq', id: 'b1', type: 'result', jid: 'urawx0@load.test/load' });
    expect(parseFrame(SERVER.iqError)).toEqual({
      kind: 'iq',
      id: 'r2',
      type: 'error',
      from: 'urawx0@load.test',
      error: 'forbidden',
    });
    expect(parseFrame(SERVER.enabled)).toEqual({ kind: 'enabled' });
    expect(parseFrame(`<failed xmlns='urn:xmpp:sm:3'><unexpected-request/></failed>`)).toEqual({
      kind: 'sm-failed',
      condition: 'unexpected-request',
    });
    expect(
      parseFrame(
        `<stream:error xmlns:stream='http://etherx.jabber.org/streams'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
      ),
    ).toEqual({ kind: 'stream-error', condition: 'policy-violation' });
    expect(parseFrame(SERVER.close)).toEqual({ kind: 'close' });
    expect(parseFrame('<unknown-thing/>')).toEqual({ kind: 'other', name: 'unknown-thing' });
  });

  it('counts messages, presence and iq as stanzas (XEP-0198 h), nothing else', () => {
    const counted = Object.values(SERVER).filter((f) => isStanza(parseFrame(f)));
    expect(counted).toEqual([SERVER.bound, SERVER.presence, SERVER.message, SERVER.messageError, SERVER.iqError]);
  });

  it('reads whole attribute names in either quote style, unescaped', () => {
    expect(attr(`<x xml:id='no' id='yes'`, 'id')).toBe('yes');
    expect(attr(`<x to="a&amp;b" id="q"`, 'to')).toBe('a&b');
    expect(attr(`<x idx='1'`, 'id')).toBe('');
    expect(attr(`<x\tid='tab'`, 'id')).toBe('tab');
  });

  it('escapes what it sends and round-trips', () => {
    expect(xmlEscape(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    expect(xmlUnescape(xmlEscape(`a<b>&"c'`))).toBe(`a<b>&"c'`);
    expect(registerFrame('r1', 'u<1', 'p&w')).toContain('<username>u&lt;1</username><password>p&amp;w</password>');
  });

  it('builds the frames a client sends, one element each', () => {
    expect(openFrame('load.test')).toBe(
      `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='load.test' version='1.0'/>`,
    );
    // RFC 4616: [authzid] NUL authcid NUL passwd.
    const auth = authPlainFrame('alice', 'sec ret');
    const b64 = /mechanism='PLAIN'>([^<]+)</.exec(auth)![1]!;
    expect(Buffer.from(b64, 'base64').toString()).toBe('\0alice\0sec ret');
    expect(bindFrame('b1', 'load')).toContain(
      `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>load</resource>`,
    );
    expect(ackFrame(7)).toBe(`<a xmlns='urn:xmpp:sm:3' h='7'/>`);
    // h is an unsigned 32-bit counter that wraps (XEP-0198 §4).
    expect(ackFrame(2 ** 32 + 5)).toBe(`<a xmlns='urn:xmpp:sm:3' h='5'/>`);
    expect(iqErrorFrame('p1', 'load.test')).toMatch(
      /^<iq [^>]*type='error' id='p1' to='load.test'>.*service-unavailable/,
    );
    const m = message('bob@load.test', 'run-0000001', 'aGk=');
    expect(m).toBe(
      `<message xmlns='jabber:client' type='chat' to='bob@load.test' id='run-0000001'><body>aGk=</body></message>`,
    );
    // What the transport sends is what it can read back.
    expect(parseFrame(m)).toEqual({ kind: 'message', id: 'run-0000001', type: 'chat' });
  });

  it('generates a private ejabberd config: one host, WebSocket on loopback, no shaper, no listener-less modules', () => {
    const c = parse(ejabberdConfig(45678)) as {
      hosts: string[];
      listen: { port: number; ip: string; module: string; request_handlers: Record<string, string> }[];
      shaper_rules: Record<string, unknown>;
      registration_timeout: string;
      modules: Record<string, unknown>;
    };
    expect(c.hosts).toEqual([XMPP_DOMAIN]);
    expect(c.listen).toHaveLength(1);
    expect(c.listen[0]).toMatchObject({ port: 45678, ip: '127.0.0.1', module: 'ejabberd_http' });
    expect(c.listen[0]!.request_handlers).toEqual({ '/ws': 'ejabberd_http_ws' });
    expect(c.shaper_rules.c2s_shaper).toBe('none');
    expect(c.registration_timeout).toBe('infinity');
    expect(Object.keys(c.modules)).toEqual(expect.arrayContaining(['mod_register', 'mod_stream_mgmt', 'mod_offline']));
    for (const m of Object.keys(DISABLED_MODULES)) expect(c.modules).not.toHaveProperty(m);
  });
});
