import { DEFAULT_STREAM } from '@hush/protocol';
import { type Env, EnvVar, loadServiceEnv, type ServiceBaseConfig, serviceSchema } from '@hush/service-kit';

export interface KeydirConfig extends ServiceBaseConfig {
  /** JetStream stream holding the mailboxes (purged for devices removed from an account). */
  streamName: string;
  /** Bundle fetches allowed per calling device within bundleWindowMs (each one burns prekeys). */
  bundleFetchesPerWindow: number;
  bundleWindowMs: number;
}

/** Every variable keydir reads, with its default and meaning (validated at start). */
export const KeydirEnv = serviceSchema({
  STREAM_NAME: EnvVar.string(DEFAULT_STREAM, 'JetStream stream of the mailboxes'),
  BUNDLE_FETCHES_PER_WINDOW: EnvVar.int(120, 'bundle fetches (one-time prekey claims) per device per window'),
  BUNDLE_WINDOW_MS: EnvVar.duration(60_000, 'window of the bundle-fetch limit', 1000),
});

export function loadConfig(env: Env = process.env): KeydirConfig {
  const { vars: v, base } = loadServiceEnv(KeydirEnv, env);
  return {
    ...base,
    streamName: v.STREAM_NAME,
    bundleFetchesPerWindow: v.BUNDLE_FETCHES_PER_WINDOW,
    bundleWindowMs: v.BUNDLE_WINDOW_MS,
  };
}
