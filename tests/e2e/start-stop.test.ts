/**
 * `npm start` and Ctrl-C: a terminal's Ctrl-C signals the whole process group; the
 * stack must stop services first, then NATS and Redis, and print no errors while doing so.
 * Runs scripts/start.ts as a terminal would (its own process group, SIGINT to the group).
 */

import { spawn } from 'node:child_process';
import { freePort, hasBinary, repoRoot } from '@hush/testkit';
import { describe, expect, it } from 'vitest';

const canRun = hasBinary('nats-server') && hasBinary('redis-server');

describe.skipIf(!canRun)('npm start', { timeout: 240_000 }, () => {
  it('stops quietly on Ctrl-C: services first, then NATS and Redis, exit code 0', async () => {
    const port = await freePort();
    const metrics = await freePort();
    // Own servers on free ports (the shared ones stay untouched): no NATS_URL / REDIS_URL.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      METRICS_PORT: String(metrics),
      LOG_FORMAT: 'json',
    };
    delete env.NATS_URL;
    delete env.REDIS_URL;
    delete env.HUSH_START_GROUP;
    const p = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: repoRoot,
      env,
      detached: true, // a process group of its own, as a terminal's foreground job
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    const deadline = Date.now() + 180_000;
    while (!out.includes('[hush] ready') && Date.now() < deadline && p.exitCode === null)
      await new Promise((r) => setTimeout(r, 200));
    expect(out).toContain('[hush] ready');
    // Started with nothing unusual in the environment: no config warning, one `svc` per line.
    expect(out).not.toContain('unknown variable');
    expect(out).not.toMatch(/"svc":"\w+","svc"/);
    const before = out.length;
    // Ctrl-C: SIGINT to every process of the foreground group.
    process.kill(-p.pid!, 'SIGINT');
    const code = await exited;
    const shutdown = out.slice(before);
    expect(code).toBe(0);
    expect(shutdown).toContain('[hush] stopped');
    // No error or warning lines from any service while stopping (pino levels 40+ are warn/error).
    const noisy = shutdown
      .split('\n')
      .filter((l) => /"level":(4|5|6)0|error|Error|ECONNREFUSED|unhandled/i.test(l) && !l.includes('[hush]'));
    expect(noisy).toEqual([]);
  });
});
