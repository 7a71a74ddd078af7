import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { freePort, hasBinary, waitForPort } from './servers.js';

/** One nats-server of a cluster the test owns. */
export interface ClusterNode {
  /** Server name (`n0`, `n1`, ...): JetStream clustering needs one unique per node. */
  name: string;
  url: string;
  port: number;
  clusterPort: number;
  /** HTTP monitoring port (`/healthz`, `/varz`). */
  monitorPort: number;
  /** Its log file (kept with the data folder until the cluster stops). */
  logFile: string;
  /** Process id while running (for CPU/RSS sampling), else undefined. */
  pid(): number | undefined;
  running(): boolean;
  /** SIGKILLs the node; its data folder stays so restart() brings the same node back. */
  kill(): Promise<void>;
  /** Starts the node again on the same ports with the same data folder. */
  restart(): Promise<void>;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Comma-separated client URLs of every node (the form NATS_URL accepts). */
  url: string;
  urls: string[];
  /**
   * Resolves once the JetStream meta leader is elected and a stream with `replicas` copies can
   * be created (probed by creating and deleting one).
   */
  waitJetStream(replicas?: number, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once every running node answers 200 on `/healthz?js-server-only=true`: nats-server's
   * own check that the node runs JetStream and is current with the meta leader (the liveness probe
   * of k8s/nats.yaml). The full `/healthz` also wants every consumer replica current, and
   * nats-server 2.9.10 left one replica of an idle in-memory consumer "not current" for over a
   * minute after a node restart; a test that needs a stream's replicas current checks the stream.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** The last `lines` lines of every node's log, for a failing test's report. */
  logs(lines?: number): string;
  /** Stops every node and removes the data folders. */
  stop(): Promise<void>;
}

/** How long the cluster may take to elect a JetStream meta leader on a loaded 2-core machine. */
const CLUSTER_READY_TIMEOUT_MS = 30_000;

function waitExit(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

/**
 * Starts an n-node NATS cluster with JetStream on loopback ports (production runs a 3-node
 * cluster with replicated streams, docs/RELIABILITY.md), each node with its own data folder, for fault tests
 * that kill and restart nodes. Needs the nats-server binary (no container fallback: the nodes must
 * be killable one by one).
 */
export async function startNatsCluster(n = 3): Promise<NatsCluster> {
  if (!hasBinary('nats-server'))
    throw new Error('startNatsCluster needs nats-server on PATH (apt-get install nats-server)');
  if (n < 1 || n > 9) throw new Error(`cluster size must be 1-9, got ${n}`);
  // 3n distinct free ports: client ports, then cluster (route) ports, then monitoring ports.
  const all: number[] = [];
  for (let tries = 0; all.length < 3 * n && tries < 100; tries++) {
    const p = await freePort();
    if (!all.includes(p)) all.push(p);
  }
  const ports = all.slice(0, n);
  const clusterPorts = all.slice(n, 2 * n);
  const monitorPorts = all.slice(2 * n);
  const root = mkdtempSync(join(tmpdir(), 'hush-nats-cluster-'));
  const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`).join(',');

  const nodes: ClusterNode[] = ports.map((port, i) => {
    const name = `n${i}`;
    const clusterPort = clusterPorts[i]!;
    const monitorPort = monitorPorts[i]!;
    const dir = join(root, name);
    const logFile = join(root, `${name}.log`);
    let proc: ChildProcess | undefined;
    let stderr = '';
    const start = async () => {
      // JetStream clustering needs a unique server name per node and a shared cluster name.
      const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, '-n', name];
      // The log file survives kills and restarts (appended), for the diagnosis of a failed test.
      args.push('-m', String(monitorPort), '-l', logFile);
      args.push('--cluster_name', 'hush', '--cluster', `nats://127.0.0.1:${clusterPort}`, '--routes', routes);
      const p = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      proc = p;
      p.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      const exited = new Promise<never>((_, reject) =>
        p.once('exit', (code) => reject(new Error(`nats-server ${name} exited early (${code}): ${stderr}`))),
      );
      exited.catch(() => {});
      await Promise.race([waitForPort(port), exited]);
    };
    const kill = async () => {
      if (!proc) return;
      const p = proc;
      proc = undefined;
      p.kill('SIGKILL');
      await waitExit(p);
    };
    const node: ClusterNode & { start(): Promise<void>; stop(): Promise<void> } = {
      name,
      url: `nats://127.0.0.1:${port}`,
      port,
      clusterPort,
      monitorPort,
      logFile,
      pid: () => proc?.pid,
      running: () => proc !== undefined && proc.exitCode === null && proc.signalCode === null,
      kill,
      restart: async () => {
        await kill();
        await start();
      },
      start,
      stop: async () => {
        if (!proc) return;
        const p = proc;
        proc = undefined;
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
        await waitExit(p);
        clearTimeout(t);
      },
    };
    return node;
  });

  const stop = async () => {
    await Promise.all(nodes.map((x) => (x as unknown as { stop(): Promise<void> }).stop()));
    rmSync(root, { recursive: true, force: true });
  };

  const urls = nodes.map((x) => x.url);
  const cluster: NatsCluster = {
    nodes,
    urls,
    url: urls.join(','),
    stop,
    waitHealthy: async (timeoutMs = CLUSTER_READY_TIMEOUT_MS) => {
      const deadline = Date.now() + timeoutMs;
      for (const node of nodes) {
        let last = '';
        while (node.running()) {
          try {
            const r = await fetch(`http://127.0.0.1:${node.monitorPort}/healthz?js-server-only=true`);
            if (r.ok) break;
            last = `${r.status} ${await r.text()}`;
          } catch (e) {
            last = e instanceof Error ? e.message : String(e);
          }
          if (Date.now() > deadline)
            throw new Error(`NATS node ${node.name} not healthy after ${timeoutMs} ms: ${last}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    logs: (lines = 40) =>
      nodes
        .map((x) => {
          const text = existsSync(x.logFile) ? readFileSync(x.logFile, 'utf8').trimEnd().split('\n') : [];
          return `--- ${x.name} (${x.logFile}) ---\n${text.slice(-lines).join('\n')}`;
        })
        .join('\n'),
    waitJetStream: async (replicas = n, timeoutMs = CLUSTER_READY_TIMEOUT_MS) => {
      const nc = await connect({ servers: urls.filter((_, i) => nodes[i]!.running()) });
      const probe = `PROBE_${Date.now().toString(36)}`;
      const deadline = Date.now() + timeoutMs;
      let last = '';
      try {
        for (;;) {
          try {
            const r = await nc.request(
              `$JS.API.STREAM.CREATE.${probe}`,
              JSON.stringify({ name: probe, subjects: [`probe.${probe}`], storage: 'memory', num_replicas: replicas }),
              { timeout: 2_000 },
            );
            const body = r.json<{ error?: { description?: string } }>();
            if (!body.error) break;
            last = body.error.description ?? JSON.stringify(body.error);
          } catch (e) {
            last = e instanceof Error ? e.message : String(e);
          }
          if (Date.now() > deadline) throw new Error(`JetStream cluster not ready after ${timeoutMs} ms: ${last}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        await nc.request(`$JS.API.STREAM.DELETE.${probe}`, '', { timeout: 5_000 }).catch(() => {});
      } finally {
        await nc.close();
      }
    },
  };
  try {
    await Promise.all(nodes.map((x) => (x as unknown as { start(): Promise<void> }).start()));
    await cluster.waitJetStream(n);
    await cluster.waitHealthy();
  } catch (e) {
    await stop();
    throw e;
  }
  return cluster;
}
