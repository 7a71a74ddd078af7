import { LEASE_TTL_MS } from '@hush/protocol';
import { type Env, EnvVar, loadServiceEnv, type ServiceBaseConfig, serviceSchema } from '@hush/service-kit';

/**
 * A killed gateway's devices must go offline within 30 s (docs/PROTOCOL-WIRE.md §6). They do within
 * min(lease TTL, maxLeaseTtlMs) + sweepIntervalMs: 15 s + 5 s by default.
 */
export const OFFLINE_BOUND_MS = 30_000;

export interface PresenceConfig extends ServiceBaseConfig {
  /** Lease assumed for a gateway seen in a connect event before its first lease event. */
  leaseTtlMs: number;
  /** Longest lease a gateway may ask for (keeps the offline bound). */
  maxLeaseTtlMs: number;
  /** How often each copy looks for gateways whose lease expired. */
  sweepIntervalMs: number;
}

/** Every variable presence reads, with its default and meaning (validated at start). */
export const PresenceEnv = serviceSchema({
  LEASE_TTL_MS: EnvVar.duration(LEASE_TTL_MS, "lease assumed before a gateway's first lease event", 100),
  MAX_LEASE_TTL_MS: EnvVar.duration(20_000, 'longest lease a gateway may ask for', 100),
  SWEEP_INTERVAL_MS: EnvVar.duration(5_000, 'how often expired gateway leases are swept', 20),
});

export function loadConfig(env: Env = process.env): PresenceConfig {
  const { vars: v, base } = loadServiceEnv(PresenceEnv, env);
  const cfg: PresenceConfig = {
    ...base,
    leaseTtlMs: v.LEASE_TTL_MS,
    maxLeaseTtlMs: v.MAX_LEASE_TTL_MS,
    sweepIntervalMs: v.SWEEP_INTERVAL_MS,
  };
  if (Math.min(cfg.leaseTtlMs, cfg.maxLeaseTtlMs) + cfg.sweepIntervalMs > OFFLINE_BOUND_MS) {
    throw new Error(`lease TTL + sweep interval must stay under ${OFFLINE_BOUND_MS} ms`);
  }
  return cfg;
}
