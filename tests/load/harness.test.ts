import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseArgs, phaseOptions } from './args.js';
import { searchPeak } from './peak.js';
import { type LoadTransport, partnerOf, runPhase, type TransportEvents } from './phase.js';
import { machineBusySeconds, sampleProc } from './proc.js';
import { describePeak, idleSummary, LAST_LINE_RE, lastLine } from './report.js';
import { DeliveryLedger, LatencyRecorder, messageIdFactory } from './stats.js';

/** An in-memory transport: accepts and delivers on the next turn, with optional faults. */
class FakeTransport implements LoadTransport {
  readonly name = 'fake';
  events: TransportEvents = { accepted() {}, rejected() {}, delivered() {} };
  sends = 0;
  constructor(
    readonly devices: number,
    private readonly fault: (n: number) => 'ok' | 'lose' | 'dup' | 'reject' | 'slow' = () => 'ok',
  ) {}
  send(_from: number, _to: number, id: string): void {
    const kind = this.fault(this.sends++);
    // 'slow': delivered 300 ms late, as a server past its peak.
    const later = kind === 'slow' ? (f: () => void) => setTimeout(f, 300) : setImmediate;
    later(() => {
      if (kind === 'reject') return this.events.rejected(id, 'GW_RATE_LIMITED');
      this.events.accepted(id);
      if (kind === 'lose') return;
      this.events.delivered(id);
      if (kind === 'dup') this.events.delivered(id);
    });
  }
}

const quick = { seconds: 0.3, graceSeconds: 0.3, window: 50, size: 16, procs: {}, runTag: 't', log: () => {} };

describe('load test harness', () => {
  it('computes nearest-rank percentiles over the samples', () => {
    const r = new LatencyRecorder();
    for (let i = 1; i <= 100; i++) r.add(i);
    expect(r.percentile(50)).toBe(50);
    expect(r.percentile(99)).toBe(99);
    expect(r.percentile(100)).toBe(100);
    expect(r.max).toBe(100);
    expect(new LatencyRecorder().percentile(50)).toBeNaN();
  });

  it('counts a second delivery of the same id as a redelivery, not a second message', () => {
    let t = 0;
    const l = new DeliveryLedger(() => t);
    l.markSent('a');
    l.markSent('b');
    l.markAccepted('a');
    l.markAccepted('b');
    t = 5;
    expect(l.markDelivered('a')).toBe(true);
    expect(l.markDelivered('a')).toBe(false);
    expect(l.delivered).toBe(1);
    expect(l.redelivered).toBe(1);
    expect(l.lostIds()).toEqual(['b']);
    expect(l.inFlight).toBe(1);
    expect(l.latency.percentile(50)).toBe(5);
  });

  it('does not count a rejected message as lost', () => {
    const l = new DeliveryLedger();
    l.markSent('x');
    l.markRejected('x', 'GW_RATE_LIMITED');
    expect(l.lostIds()).toEqual([]);
    expect(l.inFlight).toBe(0);
    expect(l.rejectCodes.get('GW_RATE_LIMITED')).toBe(1);
  });

  it('makes message ids that fit the wire pattern and never repeat', () => {
    const next = messageIdFactory('abc.def');
    const ids = new Set(Array.from({ length: 1000 }, next));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
  });

  it('pairs devices two by two', () => {
    expect([0, 1, 2, 3].map((i) => partnerOf(i, 4))).toEqual([1, 0, 3, 2]);
    expect(partnerOf(4, 5)).toBe(4);
  });

  it('delivers everything through a lossless transport and counts nothing lost', async () => {
    const r = await runPhase(new FakeTransport(4), { ...quick, rate: 2000 });
    // How many go out in the phase depends on the machine's speed; what must hold is that every
    // one of them is delivered once.
    expect(r.sent).toBeGreaterThan(0);
    expect(r.delivered).toBe(r.sent);
    expect(r.lost).toBe(0);
    expect(r.dup).toBe(0);
    expect(r.usage.loadgen).toBeDefined();
    expect(r.usage.others!.cpuSeconds).toBeGreaterThanOrEqual(0);
  });

  it('reports losses, redeliveries and rejections of a faulty transport', async () => {
    const fault = (n: number) => (n % 10 === 3 ? 'lose' : n % 10 === 5 ? 'dup' : n % 10 === 7 ? 'reject' : 'ok');
    const r = await runPhase(new FakeTransport(2, fault), { ...quick, rate: 1000 });
    expect(r.lost).toBeGreaterThan(0);
    expect(r.dup).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
    expect(r.lost + r.delivered + r.rejected).toBe(r.sent);
  });

  it('never lets more messages be in flight than the window', async () => {
    // A transport that never delivers: sending must stop at the window.
    const t: LoadTransport = {
      name: 'stuck',
      devices: 2,
      events: { accepted() {}, rejected() {}, delivered() {} },
      send() {},
    };
    const r = await runPhase(t, { ...quick, rate: 0, graceSeconds: 0 });
    expect(r.sent).toBe(quick.window);
  });

  it('prints the last line in exactly the agreed shape', () => {
    const line = lastLine({
      delivered: 10,
      lost: 0,
      dup: 1,
      rate: 123.4,
      p50: 1.23,
      p99: 9.87,
      raw: 200,
      connKb: 7.25,
    });
    expect(line).toBe('loadtest delivered=10 lost=0 dup=1 rate=123 p50=1.2 p99=9.9 raw=200 ratio=0.62 conn_kb=7.3');
    expect(line).toMatch(LAST_LINE_RE);
    expect(
      lastLine({
        delivered: 0,
        lost: 0,
        dup: 0,
        rate: Number.NaN,
        p50: Number.NaN,
        p99: Number.NaN,
        raw: Number.NaN,
        connKb: 3,
      }),
    ).toMatch(LAST_LINE_RE);
  });

  it('parses flags, keeps the reference conditions as defaults and refuses unbounded runs', () => {
    expect(parseArgs([])).toEqual(DEFAULTS);
    expect(DEFAULTS).toMatchObject({ devices: 200, size: 200, window: 1000, seconds: 15, grace: 5 });
    const a = parseArgs(['--devices', '20', '--seconds=3', '--rate', '500', '--gateways', '2', '--find-peak']);
    expect(a).toMatchObject({ devices: 20, seconds: 3, rate: 500, gateways: 2, findPeak: true });
    expect(() => parseArgs(['--seconds', '100000'])).toThrow(/bound/);
    expect(() => parseArgs(['--connections', '500000'])).toThrow(/bound/);
    expect(parseArgs(['--connections', '200000', '--gateways', '4'])).toMatchObject({
      connections: 200_000,
      gateways: 4,
    });
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown flag/);
  });

  it('adds the XMPP figures at the end of the last line only when measured', () => {
    const base = { delivered: 10, lost: 0, dup: 0, rate: 300, p50: 1, p99: 2, raw: 400, connKb: 5 };
    const line = lastLine({ ...base, xmpp: { rate: 200, connKb: 61.25 } });
    expect(line).toBe(
      'loadtest delivered=10 lost=0 dup=0 rate=300 p50=1.0 p99=2.0 raw=400 ratio=0.75 conn_kb=5.0 xmpp=200 xmpp_ratio=1.50 xmpp_conn_kb=61.3',
    );
    expect(line.startsWith(lastLine(base))).toBe(true);
    expect(line).toMatch(LAST_LINE_RE);
    const idle = lastLine({ ...idleSummary(12), xmpp: { rate: Number.NaN, connKb: 70 } });
    expect(idle).toBe(
      'loadtest delivered=0 lost=0 dup=0 rate=nan p50=nan p99=nan raw=nan ratio=nan conn_kb=12.0 xmpp=nan xmpp_ratio=nan xmpp_conn_kb=70.0',
    );
    expect(idle).toMatch(LAST_LINE_RE);
  });

  it('parses --xmpp and refuses it without a gateway to compare with', () => {
    expect(parseArgs(['--xmpp'])).toMatchObject({ xmpp: true, findPeak: false });
    expect(parseArgs(['--find-peak', '--xmpp'])).toMatchObject({ xmpp: true, findPeak: true });
    expect(parseArgs(['--connections', '5000', '--xmpp'])).toMatchObject({ xmpp: true, connections: 5000 });
    expect(() => parseArgs(['--xmpp', '--reference-only'])).toThrow(/reference-only/);
    expect(() => parseArgs(['--xmpp', '--connections', '500000'])).toThrow(/bound/);
  });

  it('searches the peak step by step, stops where p99 passes the limit and checks half of the peak', async () => {
    // Deliveries turn 300 ms late after 100 messages: the step where that happens fails p99 <= 150 ms
    // (a limit far above what a busy machine's event loop adds to the others).
    const t = new FakeTransport(4, (n) => (n >= 100 ? 'slow' : 'ok'));
    const a = { ...parseArgs([]), peakStart: 100, peakFactor: 2, peakStepSeconds: 0.2, peakP99Ms: 150 };
    const r = await searchPeak(
      t,
      a,
      (rate, s, tag) => phaseOptions(a, {}, rate, s, tag, () => {}),
      't',
      () => {},
    );
    // A warm-up of 50 msg/s x 0.2 s = 10, then 20, 40 (70 in all), then 80: the third step crosses 100.
    expect(r.warmup.targetRate).toBe(50);
    expect(r.warmup.delivered).toBeGreaterThan(5); // the pacer may send one fewer in a 0.2 s phase
    expect(r.warmup.delivered).toBeLessThanOrEqual(10);
    expect(r.steps.map((s) => s.targetRate)).toEqual([100, 200, 400]);
    expect(r.peak?.targetRate).toBe(200);
    expect(r.half?.targetRate).toBe(100);
    expect(r.half?.latency.p99).toBeGreaterThan(150);
    const lines = describePeak('fake', 'fake', r, 150, undefined);
    expect(lines).toContain('peak with p99 <= 150 ms (fake): 200 msg/s');
    expect(lines.some((l) => l.startsWith('half of the peak (fake) (100 msg/s)'))).toBe(true);
  });

  it('reads CPU time and resident memory of a process from /proc', () => {
    const s = sampleProc(process.pid);
    expect(s?.rssKb).toBeGreaterThan(1000);
    // The machine has been busy at least as long as this process.
    expect(machineBusySeconds()).toBeGreaterThanOrEqual(s!.cpuSeconds);
    expect(s?.cpuSeconds).toBeGreaterThanOrEqual(0);
  });
});
