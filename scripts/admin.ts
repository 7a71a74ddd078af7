/**
 * The operator's CLI: `npm run admin -- <command>` (in the image: `node --import tsx scripts/admin.ts`).
 * It talks to the services over NATS as the `admin` role (NATS_URL, NATS_NKEY_FILE or
 * NATS_NKEY_DIR; `npm start`'s .data/secrets by default), and only the admin role may publish the
 * `admin.*` subjects the services answer. See docs/OPERATIONS.md.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_STREAM, decodeJson, encodeJson, type ServiceReply, subjects } from '@hush/protocol';
import {
  ConfigError,
  ensureSecrets,
  natsAuthOptions,
  parseDuration,
  parseEnv,
  secretsLayout,
  unknownVariables,
} from '@hush/service-kit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { TObject } from '@sinclair/typebox';
import { k8sSecrets } from './k8s-secrets.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `Hush admin CLI — npm run admin -- <command>

  registration [open|invite|closed]   show or set who may create accounts
  invite [--uses N] [--ttl 7d]        make an invite code (invite-only mode)
  users                               list accounts and their devices
  signout <userId> <deviceId>         sign a device out (tokens refused, socket closed)
  delete <userId>                     delete an account, its devices, keys and mailboxes
  rotate-key                          rotate the token-signing key (old key served until its tokens expire)
  usage                               mailbox stream usage and limits, per-device backlog
  config check                        validate this environment for every service; ping the services
  secrets [--dir D] [--k8s]           create credentials (nkeys, Redis password, key secret) in D
                                      (default .data/secrets); --k8s prints them as Kubernetes Secrets

Connection: NATS_URL (default nats://127.0.0.1:4222), NATS_NKEY_FILE or NATS_NKEY_DIR (the admin
role's seed; default .data/secrets/nats/admin.nk when present), SUBJECT_PREFIX, STREAM_NAME.`;

type Args = { _: string[]; flags: Record<string, string> };
function parseArgs(argv: string[]): Args {
  const out: Args = { _: [], flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        out.flags[a.slice(2)] = next;
        i++;
      } else out.flags[a.slice(2)] = 'true';
    } else out._.push(a);
  }
  return out;
}

const env = process.env;
const prefix = env.SUBJECT_PREFIX ?? '';
const p = subjects(prefix).prefix;
const stream = env.STREAM_NAME || DEFAULT_STREAM;
const print = (v: unknown) => process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);

async function bus(): Promise<NatsConnection> {
  const localSeed = secretsLayout(join(repoRoot, '.data', 'secrets')).nkey('admin');
  const nkeyFile = env.NATS_NKEY_FILE || (env.NATS_NKEY_DIR ? '' : existsSync(localSeed) ? localSeed : '');
  return connect({
    servers: (env.NATS_URL || 'nats://127.0.0.1:4222').split(',').map((s) => s.trim()),
    name: 'hush-admin',
    timeout: 30_000,
    ...natsAuthOptions('admin', { nkeyFile, nkeyDir: env.NATS_NKEY_DIR, tlsCaFile: env.NATS_TLS_CA_FILE }),
  });
}

async function call<T>(nc: NatsConnection, subject: string, body: unknown): Promise<T> {
  // Generous: an operator would rather wait than retry a half-applied command.
  const m = await nc.request(`${p}${subject}`, encodeJson(body), { timeout: 30_000 });
  const r = decodeJson<ServiceReply<T>>(m.data);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.result;
}

const when = (ms: number) => (ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-');

async function usage(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream, { subjects_filter: `${p}mbox.>` });
  const c = info.config;
  const st = info.state;
  const pct = (v: number, max: number) => (max > 0 ? ` (${((100 * v) / max).toFixed(1)} % of ${max})` : '');
  print(`stream ${stream}: ${st.messages} envelopes, ${st.bytes} bytes${pct(st.bytes, c.max_bytes)}`);
  print(
    `  limits: max_bytes ${c.max_bytes}, per device ${c.max_msgs_per_subject}, max_age ${Math.round(c.max_age / 1e9 / 86400)} d, replicas ${c.num_replicas}, consumers ${st.consumer_count}`,
  );
  const rows = Object.entries(st.subjects ?? {}).sort((a, b) => b[1] - a[1]);
  print(`per-device backlog (${rows.length} mailboxes with undelivered envelopes):`);
  for (const [subject, n] of rows.slice(0, 50)) {
    const [, user, device] = subject.slice(p.length).split('.');
    print(`  ${user} ${device} ${n}`);
  }
  if (rows.length > 50) print(`  … ${rows.length - 50} more`);
}

/** Validates the environment as each service would read it, then asks which services answer. */
async function configCheck(): Promise<boolean> {
  let ok = true;
  // Only the config modules (not the services, with their servers and dependencies).
  const schemas: Record<string, TObject> = {
    gateway: (await import('../services/gateway/src/config.js')).GatewayEnv,
    auth: (await import('../services/auth/src/config.js')).AuthEnv,
    keydir: (await import('../services/keydir/src/config.js')).KeydirEnv,
    presence: (await import('../services/presence/src/config.js')).PresenceEnv,
  };
  const known = Object.values(schemas).flatMap((s) => Object.keys(s.properties));
  for (const [name, schema] of Object.entries(schemas)) {
    try {
      parseEnv(schema, env, { warn: () => {} });
      print(`${name}: configuration valid`);
    } catch (e) {
      ok = false;
      print(e instanceof ConfigError ? `${name}: ${e.message}` : `${name}: ${String(e)}`);
    }
  }
  for (const u of unknownVariables(env, [...known, 'NATS_NKEY_FILE'])) print(`warning: unknown variable ${u}`);
  try {
    const nc = await bus();
    const seen = new Map<string, number>();
    const inbox = `_INBOX_admin.ping${Date.now()}`;
    const sub = nc.subscribe(inbox, {
      callback: (_e, m) => {
        const info = decodeJson<{ name: string }>(m.data);
        seen.set(info.name, (seen.get(info.name) ?? 0) + 1);
      },
    });
    nc.publish('$SRV.PING', new Uint8Array(), { reply: inbox });
    await new Promise((r) => setTimeout(r, 1500));
    sub.unsubscribe();
    for (const svc of ['auth', 'keydir', 'presence']) {
      const n = seen.get(svc) ?? 0;
      if (n === 0) ok = false;
      print(`${svc}: ${n} cop${n === 1 ? 'y' : 'ies'} answering on NATS`);
    }
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.info(stream).catch(() => undefined);
    print(si ? `stream ${stream}: present, replicas ${si.config.num_replicas}` : `stream ${stream}: missing`);
    if (!si) ok = false;
    await nc.close();
  } catch (e) {
    ok = false;
    print(`NATS: ${e instanceof Error ? e.message : String(e)}`);
  }
  return ok;
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  const [cmd, ...rest] = a._;
  if (!cmd || cmd === 'help' || a.flags.help) {
    print(HELP);
    return 0;
  }
  if (cmd === 'secrets') {
    const dir = a.flags.dir ?? join(repoRoot, '.data', 'secrets');
    const l = ensureSecrets(dir, { prefixes: [prefix], stream });
    if (a.flags.k8s) print(k8sSecrets(l, a.flags.namespace ?? 'hush'));
    else print(`credentials in ${dir} (existing files kept)`);
    return 0;
  }
  if (cmd === 'config') {
    if (rest[0] !== 'check') throw new Error('usage: config check');
    return (await configCheck()) ? 0 : 1;
  }
  const nc = await bus();
  try {
    switch (cmd) {
      case 'registration': {
        const mode = rest[0];
        if (mode && !['open', 'invite', 'closed'].includes(mode)) throw new Error('mode is open, invite or closed');
        const r = await call<{ mode: string }>(nc, 'admin.auth.registration', mode ? { mode } : {});
        print(`registration: ${r.mode}`);
        break;
      }
      case 'invite': {
        const ttlMs = parseDuration(a.flags.ttl ?? '7d');
        if (ttlMs === undefined) throw new Error('--ttl looks like 7d, 12h or 90m');
        const r = await call<{ code: string; uses: number; expiresAt: number }>(nc, 'admin.auth.invite', {
          uses: Number(a.flags.uses ?? 1),
          ttlMs,
        });
        print(`invite code ${r.code} (${r.uses} use${r.uses === 1 ? '' : 's'}, until ${when(r.expiresAt)})`);
        break;
      }
      case 'users': {
        const r = await call<{
          users: Array<{
            userId: string;
            username: string;
            createdAt: number;
            devices: Array<{ deviceId: string; name: string; lastSeen: number }>;
          }>;
        }>(nc, 'admin.auth.users', {});
        print(`${r.users.length} account(s)`);
        for (const u of r.users) {
          print(`${u.username}  ${u.userId}  created ${when(u.createdAt)}  ${u.devices.length} device(s)`);
          for (const d of u.devices) print(`    ${d.deviceId}  ${d.name}  last seen ${when(d.lastSeen)}`);
        }
        break;
      }
      case 'signout': {
        const [userId, deviceId] = rest;
        if (!userId || !deviceId) throw new Error('usage: signout <userId> <deviceId>');
        await call(nc, 'admin.auth.signout', { userId, deviceId });
        print(`device ${deviceId} signed out`);
        break;
      }
      case 'delete': {
        const [userId] = rest;
        if (!userId) throw new Error('usage: delete <userId>');
        const r = await call<{ deviceIds: string[] }>(nc, 'admin.auth.delete', { userId });
        const k = await call<{ devices: number }>(nc, 'admin.keydir.delete', { userId, deviceIds: r.deviceIds });
        print(
          `account ${userId} deleted: ${r.deviceIds.length} device(s) signed out, keys and ${k.devices} mailbox(es) removed`,
        );
        break;
      }
      case 'rotate-key': {
        const r = await call<{ current: string; served: string[] }>(nc, 'admin.auth.rotate', {});
        print(`signing key rotated: now ${r.current}; JWKS serves ${r.served.join(', ')}`);
        break;
      }
      case 'usage':
        await usage(nc);
        break;
      default:
        throw new Error(`unknown command "${cmd}" (npm run admin -- help)`);
    }
  } finally {
    await nc.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`admin: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
