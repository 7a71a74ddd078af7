import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU and memory of processes from /proc (Linux): utime+stime in clock ticks from
 * /proc/<pid>/stat, resident set from /proc/<pid>/status (VmRSS). Sampled before and after a
 * phase, so the figures cover exactly the timed window.
 */

/** Linux's USER_HZ; 100 on every mainstream kernel build (`getconf CLK_TCK`). */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcSample {
  pid: number;
  /** utime + stime, in seconds. */
  cpuSeconds: number;
  rssKb: number;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after the closing paren are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return { pid, cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND, rssKb: rss ? Number(rss[1]) : 0 };
  } catch {
    return undefined; // the process has exited
  }
}

/** Pids whose command line (NUL-separated argv) satisfies `match`; used to find nats-server by port. */
export function findPids(match: (argv: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (match(argv)) out.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** The nats-server listening on this client port (started by the testkit with `-p <port>`). */
export function natsServerPid(port: number): number | undefined {
  return findPids(
    (a) => (a[0] ?? '').endsWith('nats-server') && a.includes('-p') && a[a.indexOf('-p') + 1] === String(port),
  )[0];
}

export interface Usage {
  cpuSeconds: number;
  /** CPU time as a share of one core over the window, in percent (200 % = both cores of two). */
  cpuPercent: number;
  rssKb: number;
}

/**
 * Busy CPU time of the whole machine, all cores, in seconds: the first line of /proc/stat (user,
 * nice, system, irq, softirq, steal; idle and iowait left out; guest time is inside user).
 */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8');
  const v = f.slice(0, f.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = v;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
}

/** The group `CpuMeter.stop()` adds: CPU the machine spent outside the metered processes. */
export const OTHERS = 'others';

/**
 * Samples named groups of processes now; `.stop()` gives CPU used since and the RSS at the end,
 * plus `others`: the machine's busy time not spent in any group. On a shared machine that is
 * the disturbance, per phase, so phases of one run can be told apart when one was crowded.
 */
export class CpuMeter {
  private readonly start: Map<string, ProcSample[]>;
  private readonly t0 = performance.now();
  private readonly machine0 = machineBusySeconds();

  constructor(private readonly groups: Record<string, number[]>) {
    this.start = new Map(Object.entries(groups).map(([k, pids]) => [k, pids.map(sampleProc).filter(isSample)]));
  }

  stop(): Record<string, Usage> {
    const wall = (performance.now() - this.t0) / 1000;
    const out: Record<string, Usage> = {};
    for (const [k, pids] of Object.entries(this.groups)) {
      const before = this.start.get(k) ?? [];
      let cpu = 0;
      let rss = 0;
      for (const pid of pids) {
        const a = before.find((s) => s.pid === pid);
        const b = sampleProc(pid);
        if (!b) continue;
        cpu += b.cpuSeconds - (a?.cpuSeconds ?? b.cpuSeconds);
        rss += b.rssKb;
      }
      out[k] = { cpuSeconds: cpu, cpuPercent: wall > 0 ? (100 * cpu) / wall : 0, rssKb: rss };
    }
    const others = Math.max(
      0,
      machineBusySeconds() - this.machine0 - Object.values(out).reduce((t, u) => t + u.cpuSeconds, 0),
    );
    out[OTHERS] = { cpuSeconds: others, cpuPercent: wall > 0 ? (100 * others) / wall : 0, rssKb: 0 };
    return out;
  }
}

function isSample(s: ProcSample | undefined): s is ProcSample {
  return s !== undefined;
}

/** Sum of RSS of these pids now, in kB. */
export function totalRssKb(pids: number[]): number {
  return pids.map(sampleProc).reduce((t, s) => t + (s?.rssKb ?? 0), 0);
}
