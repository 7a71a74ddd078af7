import type { LoadArgs } from './args.js';
import { type LoadTransport, type PhaseOptions, type PhaseResult, runPhase } from './phase.js';

/**
 * The peak search of `--find-peak`, the same steps for every path (gateway, ejabberd): from
 * `--peak-start` msg/s, x`--peak-factor` every `--peak-step-seconds`, until p99 passes
 * `--peak-p99`, a message is lost or the schedule backs up; then half of the peak as a check.
 *
 * Every path first gets WARMUP_SECONDS of traffic at half the first step's rate that no step counts:
 * ejabberd's sessions are ready once logged in, while a gateway device that has been idle waits for
 * its JetStream consumer on its first delivery (docs/SCALING.md, "The price"); 200 devices that all
 * start idle put 200 consumer creations into the first step, whose p99 then measures that cold
 * start (376 ms with p50 1.6 ms in one run), not the rate. The warm-up's own p99 is reported as the
 * cold-start figure.
 */

/** Traffic before the first step, not counted (see above). */
export const WARMUP_SECONDS = 3;

/** Between peak steps: let the previous step's stragglers drain (bounded). */
export const PEAK_DRAIN_MS = 5_000;
/** The peak search stops after this many steps whatever happens (1 000 * 1.5^13 ≈ 194 000 msg/s). */
export const MAX_PEAK_STEPS = 14;

export interface PeakSearch {
  /** The warm-up before the first step (not a step: its tail is the cold start). */
  warmup: PhaseResult;
  steps: PhaseResult[];
  /** The last step that held the limits. */
  peak?: PhaseResult;
  /** Half of the peak's rate, for as long as one step. */
  half?: PhaseResult;
}

export async function searchPeak(
  t: LoadTransport,
  a: LoadArgs,
  opts: (rate: number, seconds: number, tag: string) => PhaseOptions,
  tag: string,
  log: (l: string) => void,
): Promise<PeakSearch> {
  const warmSeconds = Math.min(WARMUP_SECONDS, a.peakStepSeconds);
  log(`[${t.name}] warm-up: ${Math.round(a.peakStart / 2)} msg/s for ${warmSeconds} s (not a step)`);
  const warmup = await runPhase(t, {
    ...opts(Math.round(a.peakStart / 2), warmSeconds, `w${tag}`),
    graceSeconds: PEAK_DRAIN_MS / 1000,
  });
  log(
    `  -> cold start: p50 ${warmup.latency.p50.toFixed(1)} ms, p99 ${warmup.latency.p99.toFixed(1)} ms, lost ${warmup.lost}`,
  );
  const steps: PhaseResult[] = [];
  let peak: PhaseResult | undefined;
  let rate = a.peakStart;
  for (let i = 0; i < MAX_PEAK_STEPS; i++) {
    log(`[${t.name}] peak step ${i + 1}: ${Math.round(rate)} msg/s for ${a.peakStepSeconds} s`);
    const r = await runPhase(t, {
      ...opts(Math.round(rate), a.peakStepSeconds, `p${i}${tag}`),
      graceSeconds: PEAK_DRAIN_MS / 1000,
    });
    steps.push(r);
    const ok = r.latency.p99 <= a.peakP99Ms && !r.backedUp && r.lost === 0;
    log(
      `  -> ${r.rate.toFixed(0)} msg/s delivered, p99 ${r.latency.p99.toFixed(1)} ms${r.backedUp ? ', backed up' : ''}${ok ? '' : ' (stop)'}`,
    );
    if (!ok) break;
    peak = r;
    rate *= a.peakFactor;
  }
  if (!peak) return { warmup, steps };
  const halfRate = Math.round(peak.targetRate / 2);
  log(`[${t.name}] half-peak check: ${halfRate} msg/s for ${a.peakStepSeconds} s`);
  const half = await runPhase(t, opts(halfRate, a.peakStepSeconds, `h${tag}`));
  return { warmup, steps, peak, half };
}
