import { DEFAULT_STREAM } from '@hush/protocol';
import { baseConfig, type Env, intEnv, type ServiceBaseConfig } from '@hush/service-kit';

export interface KeydirConfig extends ServiceBaseConfig {
  /** JetStream stream holding the mailboxes (purged for devices removed from an account). */
  streamName: string;
  /** Bundle fetches allowed per calling account within bundleWindowMs (each one burns prekeys). */
  bundleFetchesPerWindow: number;
  /** Bundle fetches of one target user allowed per calling account within bundleWindowMs. */
  bundleFetchesPerTarget: number;
  bundleWindowMs: number;
  /**
   * Fetches of a user's bundle by others that may claim one-time prekeys within claimWindowMs;
   * later fetches get bundles without one (the session still starts, X3DH §3.3).
   */
  prekeyClaimsPerTarget: number;
  claimWindowMs: number;
}

export function loadConfig(env: Env = process.env): KeydirConfig {
  return {
    ...baseConfig(env),
    streamName: env.STREAM_NAME || DEFAULT_STREAM,
    bundleFetchesPerWindow: intEnv(env, 'BUNDLE_FETCHES_PER_WINDOW', 120),
    bundleFetchesPerTarget: intEnv(env, 'BUNDLE_FETCHES_PER_TARGET', 20),
    bundleWindowMs: intEnv(env, 'BUNDLE_WINDOW_MS', 60_000, 1000),
    prekeyClaimsPerTarget: intEnv(env, 'PREKEY_CLAIMS_PER_TARGET', 100),
    claimWindowMs: intEnv(env, 'PREKEY_CLAIM_WINDOW_MS', 3600_000, 1000),
  };
}
