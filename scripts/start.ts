import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { ensureSecrets, type SecretsLayout } from '@hush/service-kit';
import {
  ensureWebBuild,
  freePort,
  hasBinary,
  type RunningServer,
  repoRoot,
  type ServiceProcess,
  spawnService,
  startNats,
  startRedis,
  waitReady,
} from '@hush/testkit';

const say = (s: string) => process.stdout.write(`[hush] ${s}\n`);

function reachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = createConnection({ host: u.hostname, port: Number(u.port) });
    s.setTimeout(1500);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/**
 * The deployment's credentials, generated on first run under .data/secrets and reused after:
 * each service's NATS nkey, the Redis password, the token-signing keys (see OPERATIONS.md).
 */
const secrets: SecretsLayout = ensureSecrets(join(repoRoot, '.data', 'secrets'));

/** A URL without its credentials, for messages. */
const shown = (url: string) => url.replace(/\/\/[^@/]*@/, '//');

async function server(kind: 'nats' | 'redis'): Promise<RunningServer | null> {
  const envName = kind === 'nats' ? 'NATS_URL' : 'REDIS_URL';
  const url = process.env[envName];
  if (url) {
    if (await reachable(url)) {
      say(`using ${envName}=${shown(url)}`);
      return {
        url,
        port: Number(new URL(url).port),
        owned: false,
        stop: async () => {},
        kill: async () => {},
        restart: async () => {},
      };
    }
    say(`${envName}=${shown(url)} is not reachable; starting a local ${kind} server instead`);
  }
  const bin = kind === 'nats' ? 'nats-server' : 'redis-server';
  if (!hasBinary(bin)) return null;
  const dataDir = join(repoRoot, '.data', kind);
  const preferred = kind === 'nats' ? 4222 : 6379;
  const port = (await reachable(`${kind}://127.0.0.1:${preferred}`)) ? await freePort() : preferred;
  const s =
    kind === 'nats'
      ? await startNats({ isolated: true, dataDir, port, secrets })
      : await startRedis({ isolated: true, dataDir, port, appendonly: true, secrets });
  say(`started ${bin} on ${shown(s.url)} (data in .data/${kind}, credentials in .data/secrets)`);
  return s;
}

async function main(): Promise<void> {
  const nats = await server('nats');
  const redis = await server('redis');
  if (!nats || !redis) {
    process.stderr.write(
      `[hush] cannot start: ${!nats ? 'NATS' : 'Redis'} is not available.\n` +
        '  Either set NATS_URL / REDIS_URL to running servers,\n' +
        '  or install them: sudo apt-get install nats-server redis-server   (Debian/Ubuntu),\n' +
        '  or run the whole stack in containers: docker compose up\n',
    );
    await nats?.stop();
    await redis?.stop();
    process.exit(1);
  }
  ensureWebBuild(repoRoot, say);
  const port = Number(process.env.PORT ?? 8080);
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    // Our stdout is a terminal, the children's is a pipe: ask them for readable lines.
    LOG_FORMAT: process.env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    SIGNING_KEY_SECRET_FILE: process.env.SIGNING_KEY_SECRET_FILE ?? secrets.signingKeySecret,
  };
  // Servers we started require the generated credentials; given servers get what the
  // environment says (NATS_NKEY_DIR / NATS_NKEY_FILE), or nothing for an anonymous dev broker.
  const creds = nats.secrets ? secrets : undefined;
  const metricsBase = Number(process.env.METRICS_PORT ?? 9464);
  const names = ['auth', 'keydir', 'presence'] as const;
  const procs: ServiceProcess[] = names.map((n, i) =>
    spawnService(n, { env, secrets: creds, metricsPort: metricsBase + 1 + i }),
  );
  const gateway = spawnService('gateway', { env, port, secrets: creds, metricsPort: metricsBase });
  procs.push(gateway);
  for (const p of procs) {
    const tag = `[${p.name}] `;
    const pipe = (d: Buffer) => process.stdout.write(d.toString().replace(/^(?=.)/gm, tag));
    p.proc.stdout?.on('data', pipe);
    p.proc.stderr?.on('data', pipe);
  }
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await gateway.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.kill('SIGTERM')));
    await redis.stop();
    await nats.stop();
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  for (const p of procs) {
    p.proc.once('exit', (code, signal) => {
      if (!stopping) {
        say(`${p.name} exited (${code ?? signal}); stopping the rest`);
        void stop(1);
      }
    });
  }
  try {
    await waitReady(`http://127.0.0.1:${port}`, 60_000, gateway);
  } catch (e) {
    process.stderr.write(`[hush] ${String(e)}\n`);
    await stop(1);
    return;
  }
  say(`ready: open http://localhost:${port}   (Ctrl-C to stop)`);
  say(
    `metrics: http://127.0.0.1:${metricsBase}/metrics (gateway), ports ${metricsBase + 1}-${metricsBase + 3} (auth, keydir, presence)`,
  );
}

/**
 * Ctrl-C in a terminal signals the whole foreground process group at once: the services, NATS and
 * Redis would all stop together, and each service would print errors about the servers vanishing
 * under it. So the stack runs in its own process group (a detached copy of this script); this
 * process only turns Ctrl-C into one SIGTERM for it, and it stops the services first, then NATS
 * and Redis, quietly.
 */
if (process.env.HUSH_START_GROUP === '1') {
  // The marker is this script's own: the services inherit process.env and would warn about it.
  delete process.env.HUSH_START_GROUP;
  void main();
} else {
  const stack = spawn(process.execPath, ['--import', 'tsx', ...process.argv.slice(1)], {
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, HUSH_START_GROUP: '1' },
  });
  const forward = () => {
    if (stack.exitCode === null) stack.kill('SIGTERM');
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  stack.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
