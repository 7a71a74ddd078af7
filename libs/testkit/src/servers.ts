import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsAuditRole, natsAuthOptions, redisUrlWithAuth, type SecretsLayout } from '@hush/service-kit';
import type { ConnectionOptions } from '@nats-io/transport-node';

/** A server the test owns (or the shared one, whose stop() does nothing). */
export interface RunningServer {
  url: string;
  port: number;
  /** Stops the server and removes its data folder. */
  stop(): Promise<void>;
  /** SIGKILLs the process (data stays), for fault tests. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same data folder. */
  restart(): Promise<void>;
  readonly owned: boolean;
  /** The server's data folder, when the test owns the process (e.g. to search its files). */
  readonly dataDir?: string;
  /** Credentials the server requires (set for servers started with `secrets`). */
  readonly secrets?: SecretsLayout;
}

/**
 * Connect options for a role on this server: its nkey and inbox prefix when the server is
 * secured, nothing extra for an anonymous one. Tests connect through this, never anonymously.
 */
export function natsOptions(server: RunningServer, role: NatsAuditRole): Partial<ConnectionOptions> {
  if (!server.secrets) return {};
  return { servers: server.url, ...natsAuthOptions(role, { nkeyFile: server.secrets.nkey(role) }) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function hasBinary(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function waitExit(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

interface Managed {
  bin: string;
  args: (port: number, dir: string) => string[];
  scheme: string;
  port?: number;
  /** Keep data here (created if missing, kept on stop) instead of a temporary folder. */
  dataDir?: string;
}

async function managed(opts: Managed): Promise<RunningServer> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), `hush-${opts.bin}-`));
  if (opts.dataDir) mkdirSync(dir, { recursive: true });
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(opts.bin, opts.args(port, dir), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) =>
      proc?.once('exit', (code) => reject(new Error(`${opts.bin} exited early (${code}): ${stderr}`))),
    );
    await Promise.race([waitForPort(port), exited]);
  };
  await start();
  const kill = async () => {
    if (!proc) return;
    const p = proc;
    p.kill('SIGKILL');
    await waitExit(p);
  };
  return {
    url: `${opts.scheme}://127.0.0.1:${port}`,
    dataDir: dir,
    port,
    owned: true,
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      if (proc) {
        const p = proc;
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
        await waitExit(p);
        clearTimeout(t);
      }
      if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function shared(url: string): RunningServer {
  const port = Number(new URL(url).port);
  const refuse = async () => {
    throw new Error('cannot kill or restart a shared server; start an isolated one');
  };
  return { url, port, owned: false, stop: async () => {}, kill: refuse, restart: refuse };
}

export interface StartOptions {
  /**
   * Require these credentials (see @hush/service-kit ensureSecrets): nats-server gets the nkey
   * users and permissions, redis-server the ACL file. A secured server is always a private one.
   */
  secrets?: SecretsLayout;
  /** Start a private server even when NATS_URL / REDIS_URL is set (tests that kill servers). */
  isolated?: boolean;
  /** Persistent data folder (kept on stop); default a temporary one removed on stop. */
  dataDir?: string;
  /** Port to listen on; default a free one. */
  port?: number;
}

/**
 * NATS with JetStream. Order (docs/ARCHITECTURE.md, decision 11): NATS_URL when set (unless isolated), else the
 * nats-server binary on a free port with its own data folder, else testcontainers.
 */
export async function startNats(opts: StartOptions & { jetstream?: boolean } = {}): Promise<RunningServer> {
  if (process.env.NATS_URL && !opts.isolated && !opts.secrets) return shared(process.env.NATS_URL);
  if (hasBinary('nats-server')) {
    const { secrets } = opts;
    if (secrets) {
      const s = await managed({
        ...pick(opts),
        bin: 'nats-server',
        scheme: 'nats',
        args: (port, dir) => {
          const conf = join(dir, 'nats.conf');
          // nats-server resolves `include` relative to the config file: keep a copy beside it.
          copyFileSync(secrets.natsUsers, join(dir, 'nats-users.conf'));
          writeFileSync(conf, natsConf(port, opts.jetstream === false ? undefined : dir));
          return ['-c', conf];
        },
      });
      return { ...s, secrets };
    }
    return managed({
      ...pick(opts),
      bin: 'nats-server',
      scheme: 'nats',
      args: (port, dir) => [
        '-a',
        '127.0.0.1',
        '-p',
        String(port),
        ...(opts.jetstream === false ? [] : ['-js', '-sd', dir]),
      ],
    });
  }
  return containerServer('nats:2.10-alpine', 4222, 'nats', ['-js']);
}

/** Redis: REDIS_URL when set (unless isolated), else redis-server on a free port, else testcontainers. */
export async function startRedis(opts: StartOptions & { appendonly?: boolean } = {}): Promise<RunningServer> {
  if (process.env.REDIS_URL && !opts.isolated && !opts.secrets) return shared(process.env.REDIS_URL);
  if (hasBinary('redis-server')) {
    const { secrets } = opts;
    const s = await managed({
      ...pick(opts),
      bin: 'redis-server',
      scheme: 'redis',
      args: (port, dir) => [
        ...(secrets ? ['--aclfile', secrets.redisAcl] : []),
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        opts.appendonly ? 'yes' : 'no',
      ],
    });
    if (!secrets) return s;
    // The URL carries the `hush` user's credentials so every client (services, tests) uses them.
    const password = readFileSync(secrets.redisPassword, 'utf8').trim();
    return { ...s, secrets, url: redisUrlWithAuth(s.url, password) };
  }
  return containerServer('redis:7-alpine', 6379, 'redis', []);
}

/** A private nats-server's config: loopback only, JetStream, and the included nkey users. */
function natsConf(port: number, storeDir: string | undefined): string {
  return [
    `listen: "127.0.0.1:${port}"`,
    storeDir ? `jetstream { store_dir: ${JSON.stringify(storeDir)} }` : '',
    'include nats-users.conf',
    '',
  ].join('\n');
}

function pick(o: StartOptions): Pick<Managed, 'dataDir' | 'port'> {
  const r: Pick<Managed, 'dataDir' | 'port'> = {};
  if (o.dataDir !== undefined) r.dataDir = o.dataDir;
  if (o.port !== undefined) r.port = o.port;
  return r;
}

async function containerServer(image: string, port: number, scheme: string, cmd: string[]): Promise<RunningServer> {
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
    const c = await new tc.GenericContainer(image).withExposedPorts(port).withCommand(cmd).start();
    const url = `${scheme}://${c.getHost()}:${c.getMappedPort(port)}`;
    const refuse = async () => {
      throw new Error('kill/restart not supported for containers');
    };
    return {
      url,
      port: c.getMappedPort(port),
      owned: true,
      kill: refuse,
      restart: refuse,
      stop: async () => void (await c.stop()),
    };
  } catch (e) {
    throw new Error(
      `No ${scheme} server: set ${scheme.toUpperCase()}_URL, install ${scheme === 'nats' ? 'nats-server' : 'redis-server'} (apt-get install ${scheme === 'nats' ? 'nats-server' : 'redis-server'}), or run a Docker engine for testcontainers`,
      { cause: e },
    );
  }
}

/** A prefix unique to this test run, for subjects, Redis keys and stream names on shared servers. */
export function uniquePrefix(tag = 't'): string {
  return `${tag}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
