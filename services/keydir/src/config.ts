import { DEFAULT_STREAM } from '@hush/protocol';
import { type Env, EnvVar, loadServiceEnv, type ServiceBaseConfig, serviceSchema } from '@hush/service-kit';

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

/** Every variable keydir reads, with its default and meaning (validated at start). */
export const KeydirEnv = serviceSchema({
  STREAM_NAME: EnvVar.string(DEFAULT_STREAM, 'JetStream stream of the mailboxes'),
  BUNDLE_FETCHES_PER_WINDOW: EnvVar.int(120, 'bundle fetches per calling account per window'),
  BUNDLE_FETCHES_PER_TARGET: EnvVar.int(20, 'fetches of one target user per calling account per window'),
  BUNDLE_WINDOW_MS: EnvVar.duration(60_000, 'window of the bundle-fetch limits', 1000),
  PREKEY_CLAIMS_PER_TARGET: EnvVar.int(100, "fetches by others that may claim a user's one-time prekeys per window"),
  PREKEY_CLAIM_WINDOW_MS: EnvVar.duration(3600_000, 'window of the prekey-claim limit', 1000),
});

export function loadConfig(env: Env = process.env): KeydirConfig {
  const { vars: v, base } = loadServiceEnv(KeydirEnv, env);
  return {
    ...base,
    streamName: v.STREAM_NAME,
    bundleFetchesPerWindow: v.BUNDLE_FETCHES_PER_WINDOW,
    bundleFetchesPerTarget: v.BUNDLE_FETCHES_PER_TARGET,
    bundleWindowMs: v.BUNDLE_WINDOW_MS,
    prekeyClaimsPerTarget: v.PREKEY_CLAIMS_PER_TARGET,
    claimWindowMs: v.PREKEY_CLAIM_WINDOW_MS,
  };
}
