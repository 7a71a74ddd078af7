import { LEASE_TTL_MS } from '@hush/protocol';
import { baseConfig, type Env, intEnv, type ServiceBaseConfig } from '@hush/service-kit';

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

export function loadConfig(env: Env = process.env): PresenceConfig {
  const cfg: PresenceConfig = {
    ...baseConfig(env),
    leaseTtlMs: intEnv(env, 'LEASE_TTL_MS', LEASE_TTL_MS, 100),
    maxLeaseTtlMs: intEnv(env, 'MAX_LEASE_TTL_MS', 20_000, 100),
    sweepIntervalMs: intEnv(env, 'SWEEP_INTERVAL_MS', 5_000, 20),
  };
  if (Math.min(cfg.leaseTtlMs, cfg.maxLeaseTtlMs) + cfg.sweepIntervalMs > OFFLINE_BOUND_MS) {
    throw new Error(`lease TTL + sweep interval must stay under ${OFFLINE_BOUND_MS} ms`);
  }
  return cfg;
}
