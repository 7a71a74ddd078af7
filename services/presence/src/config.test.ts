import { describe, expect, it } from 'vitest';
import { loadConfig, OFFLINE_BOUND_MS } from './config.js';

describe('presence config', () => {
  it('takes a killed gateway’s devices offline within 30 seconds by default', () => {
    const c = loadConfig({});
    expect(Math.min(c.leaseTtlMs, c.maxLeaseTtlMs) + c.sweepIntervalMs).toBeLessThan(OFFLINE_BOUND_MS);
  });

  it('refuses a lease and sweep interval that would break the 30 second bound', () => {
    expect(() => loadConfig({ LEASE_TTL_MS: '28000', MAX_LEASE_TTL_MS: '28000', SWEEP_INTERVAL_MS: '5000' })).toThrow(
      /30000/,
    );
  });
});
