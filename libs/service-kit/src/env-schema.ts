import { readFileSync } from 'node:fs';
import { type Static, type TObject, type TProperties, type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export type Env = Record<string, string | undefined>;

/**
 * One parser for every process's environment: each service declares its variables as a TypeBox
 * object (names are the variable names, `default` and `description` included), `parseEnv` turns
 * the strings into typed values, checks them all at start and reports every bad one at once.
 * The schemas double as documentation (`npm run admin -- config check` prints them).
 */
const DAY_MS = 24 * 3600_000;
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: DAY_MS };

/** Schema helpers: the `x-hush` keyword tells the parser how to read the string. */
export const EnvVar = {
  string: (def: string, description: string) => Type.String({ default: def, description }),
  /** A string that may be empty and has no default value beyond ''. */
  optional: (description: string) => Type.String({ default: '', description }),
  int: (def: number, description: string, o: { minimum?: number; maximum?: number } = {}) =>
    Type.Integer({ default: def, description, minimum: o.minimum ?? 1, ...(o.maximum ? { maximum: o.maximum } : {}) }),
  /** Milliseconds; accepts "30d", "12h", "90s", "500ms" or a bare number of ms. */
  duration: (defMs: number, description: string, minimum = 1) =>
    Type.Integer({ default: defMs, description, minimum, 'x-hush': 'duration' }),
  bool: (def: boolean, description: string) => Type.Boolean({ default: def, description }),
  /** Comma-separated list. */
  list: (description: string) => Type.Array(Type.String(), { default: [], description, 'x-hush': 'list' }),
  /** A secret read from the file the variable names (a Kubernetes Secret mount); '' when unset. */
  file: (description: string) => Type.String({ default: '', description, 'x-hush': 'file' }),
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** "30d", "12h", "90s", "500ms" or a bare number of milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1));
}

function convert(name: string, raw: string, s: TSchema, problems: string[]): unknown {
  const kind = (s as { 'x-hush'?: string })['x-hush'];
  if (kind === 'duration') {
    const v = parseDuration(raw);
    if (v === undefined) problems.push(`${name} must look like 30d, 12h, 90s or a number of ms, got "${raw}"`);
    return v;
  }
  if (kind === 'list')
    return raw
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  if (s.type === 'integer' || s.type === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) problems.push(`${name} must be a number, got "${raw}"`);
    return n;
  }
  if (s.type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return undefined;
  }
  return raw;
}

/** Optimal string alignment distance, for "did you mean" warnings (tiny inputs only). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/**
 * Variables that look like ours but that this process does not read: any `HUSH_*`, and near
 * misses of a known name (`SEND_RAET`), which would otherwise be ignored silently.
 */
export function unknownVariables(env: Env, known: string[]): string[] {
  const out: string[] = [];
  const set = new Set(known);
  for (const name of Object.keys(env)) {
    if (set.has(name) || env[name] === undefined) continue;
    const near = known.find((k) => Math.abs(k.length - name.length) <= 2 && distance(k, name) <= 2);
    if (name.startsWith('HUSH_')) out.push(near ? `${name} (did you mean ${near}?)` : name);
    else if (near && name.length >= 6) out.push(`${name} (did you mean ${near}?)`);
  }
  return out;
}

export interface ParseOptions {
  /** Called once per unknown-looking variable (default: a line on stderr). */
  warn?: (message: string) => void;
  /** Other variables this process reads outside the schema (not warned about). */
  alsoKnown?: string[];
}

/**
 * Reads `env` through `schema`: unset or empty variables take the schema default; values are
 * converted, then the whole object is checked (ranges included). Throws ConfigError listing
 * every problem; warns about unknown-looking variables.
 */
export function parseEnv<P extends TProperties>(
  schema: TObject<P>,
  env: Env,
  o: ParseOptions = {},
): Static<TObject<P>> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(schema.properties) as Array<[string, TSchema]>) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      out[name] = structuredClone(s.default);
      continue;
    }
    if ((s as { 'x-hush'?: string })['x-hush'] === 'file') {
      try {
        out[name] = readFileSync(raw, 'utf8').trim();
      } catch (e) {
        problems.push(`${name}: cannot read ${raw} (${(e as Error).message})`);
      }
      continue;
    }
    out[name] = convert(name, raw, s, problems);
  }
  if (problems.length === 0) {
    const check = TypeCompiler.Compile(schema);
    for (const e of check.Errors(out))
      problems.push(`${e.path.slice(1)}: ${e.message}, got ${JSON.stringify(e.value)}`);
  }
  if (problems.length) throw new ConfigError(problems);
  const warn = o.warn ?? ((m: string) => process.stderr.write(`[config] ${m}\n`));
  for (const u of unknownVariables(env, [...Object.keys(schema.properties), ...(o.alsoKnown ?? [])])) {
    warn(`unknown variable ${u} is ignored`);
  }
  return out as Static<TObject<P>>;
}

/** Variables every NATS service reads. */
export const BaseEnv = {
  NATS_URL: EnvVar.string('nats://127.0.0.1:4222', 'NATS server(s), comma-separated'),
  NATS_NKEY_FILE: EnvVar.optional("file holding this process's NATS nkey seed (its role's credentials)"),
  NATS_NKEY_DIR: EnvVar.optional('folder of <role>.nk seed files, used when NATS_NKEY_FILE is unset'),
  NATS_TLS_CA_FILE: EnvVar.optional('CA bundle of the NATS servers; enables TLS to NATS'),
  SUBJECT_PREFIX: EnvVar.optional('prefix of every NATS subject (isolates tenants/tests on one broker)'),
  LOG_LEVEL: EnvVar.string('info', 'pino level (probes log at debug)'),
  LOG_FORMAT: EnvVar.string('auto', 'pretty, json, or auto (pretty on a terminal)'),
  METRICS_PORT: EnvVar.int(9464, 'port of the Prometheus /metrics endpoint (0 = off)', { minimum: 0, maximum: 65535 }),
  METRICS_HOST: EnvVar.string('0.0.0.0', 'address of the /metrics endpoint'),
};

/** Variables of the services that use Redis. */
export const RedisEnv = {
  REDIS_URL: EnvVar.string('redis://127.0.0.1:6379', 'Redis (may carry user:password)'),
  REDIS_PREFIX: EnvVar.string('hush:', 'prefix of every Redis key'),
  REDIS_USERNAME: EnvVar.optional('Redis ACL user (with REDIS_PASSWORD_FILE)'),
  REDIS_PASSWORD_FILE: EnvVar.file("file holding the Redis user's password"),
};
