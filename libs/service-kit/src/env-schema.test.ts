import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, EnvVar, parseDuration, parseEnv, unknownVariables } from './env-schema.js';

// The one environment parser every process uses (services' config.ts, the gateway, the admin CLI).
const Schema = Type.Object({
  SEND_RATE: EnvVar.int(20, 'sends per second', { maximum: 1000 }),
  TOKEN_TTL: EnvVar.duration(900_000, 'access-token lifetime'),
  TRUST_PROXY: EnvVar.list('proxy hops or addresses'),
  SERVE_SOURCE_MAPS: EnvVar.bool(false, 'serve .map files'),
  SECRET_FILE: EnvVar.file('a mounted secret'),
});

describe('parseEnv', () => {
  it('takes the defaults for unset or empty variables', () => {
    expect(parseEnv(Schema, { SEND_RATE: '' }, { warn: () => {} })).toEqual({
      SEND_RATE: 20,
      TOKEN_TTL: 900_000,
      TRUST_PROXY: [],
      SERVE_SOURCE_MAPS: false,
      SECRET_FILE: '',
    });
  });

  it('converts numbers, durations, lists, booleans and reads a secret file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hush-env-'));
    writeFileSync(join(dir, 'secret'), 's3cret\n');
    const env = {
      SEND_RATE: '50',
      TOKEN_TTL: '12h',
      TRUST_PROXY: '10.0.0.1, 10.0.0.2',
      SERVE_SOURCE_MAPS: 'yes',
      SECRET_FILE: join(dir, 'secret'),
    };
    expect(parseEnv(Schema, env, { warn: () => {} })).toEqual({
      SEND_RATE: 50,
      TOKEN_TTL: 12 * 3600_000,
      TRUST_PROXY: ['10.0.0.1', '10.0.0.2'],
      SERVE_SOURCE_MAPS: true,
      SECRET_FILE: 's3cret',
    });
  });

  it('reports every bad variable at once with the CONFIG_INVALID code', () => {
    const env = { SEND_RATE: 'fast', TOKEN_TTL: 'soon', SERVE_SOURCE_MAPS: 'maybe', SECRET_FILE: '/nonexistent/x' };
    let err: unknown;
    try {
      parseEnv(Schema, env, { warn: () => {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/SEND_RATE must be a number, got "fast"/);
    expect(problems.join('\n')).toMatch(/TOKEN_TTL must look like 30d/);
    expect(problems.join('\n')).toMatch(/SERVE_SOURCE_MAPS must be true or false/);
    expect(problems.join('\n')).toMatch(/SECRET_FILE: cannot read \/nonexistent\/x/);
  });

  it('checks ranges from the schema after converting', () => {
    expect(() => parseEnv(Schema, { SEND_RATE: '0' }, { warn: () => {} })).toThrow(/SEND_RATE: .*got 0/);
    expect(() => parseEnv(Schema, { SEND_RATE: '5000' }, { warn: () => {} })).toThrow(/SEND_RATE: .*got 5000/);
  });

  it('warns about unknown HUSH_* variables and near misses of known names, once each', () => {
    const warnings: string[] = [];
    parseEnv(
      Schema,
      { HUSH_MODE: 'x', SEND_RAET: '3', PATH: '/bin', HOME: '/root' },
      { warn: (m) => warnings.push(m) },
    );
    expect(warnings.sort()).toEqual([
      'unknown variable HUSH_MODE is ignored',
      'unknown variable SEND_RAET (did you mean SEND_RATE?) is ignored',
    ]);
  });
});

describe('unknownVariables', () => {
  it('leaves alone variables the process reads outside the schema and unrelated short names', () => {
    expect(
      unknownVariables({ NODE_ENV: 'production', SEND_RATE: '1', TERM: 'xterm' }, ['SEND_RATE', 'NODE_ENV']),
    ).toEqual([]);
  });
});

describe('parseDuration', () => {
  it('reads units and bare milliseconds, and refuses anything else', () => {
    expect(parseDuration('30d')).toBe(30 * 24 * 3600_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('-5s')).toBeUndefined();
  });
});
