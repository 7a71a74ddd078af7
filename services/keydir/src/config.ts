import { DEFAULT_STREAM } from '@hush/protocol';
import { baseConfig, type Env, intEnv, type ServiceBaseConfig } from '@hush/service-kit';

export interface KeydirConfig extends ServiceBaseConfig {
  /** JetStream stream holding the mailboxes (purged for devices removed from an account). */
  streamName: string;
  /** Bundle fetches allowed per calling device within bundleWindowMs (each one burns prekeys). */
  bundleFetchesPerWindow: number;
  bundleWindowMs: number;
}

export function loadConfig(env: Env = process.env): KeydirConfig {
  return {
    ...baseConfig(env),
    streamName: env.STREAM_NAME || DEFAULT_STREAM,
    bundleFetchesPerWindow: intEnv(env, 'BUNDLE_FETCHES_PER_WINDOW', 120),
    bundleWindowMs: intEnv(env, 'BUNDLE_WINDOW_MS', 60_000, 1000),
  };
}
