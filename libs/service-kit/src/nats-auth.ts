import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { subjects } from '@hush/protocol';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { type ConnectionOptions, nkeyAuthenticator } from '@nats-io/transport-node';

/**
 * Who may connect to the internal bus. Each process connects as one role with its own nkey
 * (an Ed25519 key pair: the server config holds only public keys, the process holds its seed),
 * and each role has subject permissions (NATS server docs, "Authorization"):
 * - only the gateway sends user-originated requests (`auth.*`, `keydir.*`, `presence.*`);
 * - only auth subscribes to `auth.*`, so nobody else can answer `auth.jwks` with its own key;
 * - nobody may publish to another role's inbox: each role has its own inbox prefix and replies
 *   only through `allow_responses` (one reply to a request it actually received);
 * - only the admin role may publish `admin.>` commands, so services trust admin requests.
 */
export const NATS_ROLES = ['gateway', 'auth', 'keydir', 'presence', 'admin'] as const;
export type NatsRole = (typeof NATS_ROLES)[number];
/** Extra role for tests that must watch all traffic (the canary test): subscribe only. */
export type NatsAuditRole = NatsRole | 'observer';

export interface Permissions {
  publish: string[];
  subscribe: string[];
  /** Lets a responder publish one reply to the reply subject of a request it received. */
  allowResponses: boolean;
}

/** Inbox prefix of a role: request replies and JetStream deliveries arrive under it. */
export const inboxPrefix = (role: string) => `_INBOX_${role}`;

/** Stream/consumer management, pulls and acks on one stream: what the gateway does with it. */
const jsApi = (stream: string) => [
  `$JS.API.STREAM.*.${stream}`,
  `$JS.API.CONSUMER.*.${stream}`,
  `$JS.API.CONSUMER.*.${stream}.>`,
  `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.*`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
  `$JS.ACK.${stream}.>`,
];

/** Subject permissions of each role for a subject prefix and mailbox stream name. */
export function rolePermissions(role: NatsAuditRole, prefix: string, stream: string): Permissions {
  const s = subjects(prefix);
  const p = s.prefix;
  const inbox = `${inboxPrefix(role)}.>`;
  // Micro-service discovery ($SRV.PING/INFO/STATS) is answered through allow_responses.
  const micro = '$SRV.>';
  switch (role) {
    case 'gateway':
      return {
        publish: [
          `${p}auth.*`,
          `${p}keydir.>`,
          `${p}presence.*`,
          s.events.presenceConnect,
          s.events.presenceDisconnect,
          s.events.gatewayLease,
          s.mailboxAll,
          // The device-linking relay's stream (`<stream>_LINK`, see the gateway's http/link.ts).
          s.linkAll,
          // Group routing records (`<stream>_GROUPS`, see the gateway's http/groups.ts).
          s.groupAll,
          // Encrypted attachments: the object store bucket `<stream>_ATT` and its fetch records.
          s.attachmentFetchAll,
          `$O.${stream}_ATT.>`,
          ...jsApi(`OBJ_${stream}_ATT`),
          `$JS.API.DIRECT.GET.OBJ_${stream}_ATT`,
          `$JS.API.DIRECT.GET.OBJ_${stream}_ATT.>`,
          `$JS.API.STREAM.MSG.GET.OBJ_${stream}_ATT`,
          // Reading an object is a push consumer with flow control: its replies go here.
          `$JS.FC.OBJ_${stream}_ATT.>`,
          ...jsApi(`${stream}_ATTFETCH`),
          // Encrypted backups (`<stream>_BACKUP`, see the gateway's http/backup.ts).
          `${p}bak.>`,
          '$JS.API.INFO',
          ...jsApi(stream),
          ...jsApi(`${stream}_LINK`),
          ...jsApi(`${stream}_GROUPS`),
          // Reading a group's record (`getMessage` last_by_subj): STREAM.MSG.GET has two tokens,
          // which `$JS.API.STREAM.*.<stream>` does not cover.
          `$JS.API.STREAM.MSG.GET.${stream}_GROUPS`,
          ...jsApi(`${stream}_BACKUP`),
          `$JS.API.DIRECT.GET.${stream}_GROUPS`,
          `$JS.API.DIRECT.GET.${stream}_GROUPS.>`,
          // Backup records are read one subject at a time (last message by subject).
          `$JS.API.STREAM.MSG.GET.${stream}_BACKUP`,
          // An idle mailbox looks for a stored envelope before it subscribes (gateway ws/mailbox.ts).
          `$JS.API.STREAM.MSG.GET.${stream}`,
          // A disappearing message's undelivered envelopes are deleted at its sender's expiry (http/purge.ts).
          `$JS.API.STREAM.MSG.DELETE.${stream}`,
        ],
        subscribe: [
          inbox,
          s.events.deviceRevoked,
          s.events.keysChangedAll,
          s.events.presenceChangedAll,
          // An idle connected device's mailbox is a core subscription on its subject instead of a
          // JetStream consumer (gateway ws/mailbox.ts); the gateway reads mailboxes anyway.
          s.mailboxAll,
        ],
        allowResponses: false,
      };
    case 'auth':
      return {
        publish: [s.events.deviceRevoked],
        subscribe: [inbox, `${p}auth.*`, `${p}admin.auth.*`, s.events.keysChangedAll, micro],
        allowResponses: true,
      };
    case 'keydir':
      return {
        publish: [
          s.events.keysChangedAll,
          '$JS.API.INFO',
          `$JS.API.STREAM.INFO.${stream}`,
          `$JS.API.STREAM.PURGE.${stream}`,
          `$JS.API.CONSUMER.DELETE.${stream}.*`,
        ],
        subscribe: [inbox, `${p}keydir.>`, `${p}admin.keydir.*`, micro],
        allowResponses: true,
      };
    case 'presence':
      return {
        publish: [s.events.presenceChangedAll],
        subscribe: [
          inbox,
          `${p}presence.*`,
          s.events.presenceConnect,
          s.events.presenceDisconnect,
          s.events.gatewayLease,
          micro,
        ],
        allowResponses: true,
      };
    case 'admin':
      return {
        publish: [`${p}admin.>`, '$JS.API.>', micro],
        subscribe: [inbox],
        allowResponses: false,
      };
    case 'observer':
      return { publish: [], subscribe: ['>'], allowResponses: false };
  }
}

/** One generated credential: the role, its public nkey (server side) and seed (client side). */
export interface RoleKey {
  role: NatsAuditRole;
  publicKey: string;
  seed: string;
}

export function newRoleKey(role: NatsAuditRole): RoleKey {
  const kp = createUser();
  return { role, publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

const q = (v: string) => JSON.stringify(v);
const list = (v: string[]) => `[${v.map(q).join(', ')}]`;

/**
 * The `authorization { users = [...] }` block for nats-server (included from its main config).
 * Only public keys appear, so the file is not secret. No `no_auth_user`: anonymous clients are
 * refused.
 */
export function renderNatsAuthorization(
  keys: Array<Pick<RoleKey, 'role' | 'publicKey'>>,
  prefixes: string | string[],
  stream: string,
): string {
  // Several prefixes = several tenants on one broker: each role gets its rights in every one.
  const all = typeof prefixes === 'string' ? [prefixes] : prefixes;
  const users = keys.map((k) => {
    const each = all.map((p) => rolePermissions(k.role, p, stream));
    const perm: Permissions = {
      publish: [...new Set(each.flatMap((e) => e.publish))],
      subscribe: [...new Set(each.flatMap((e) => e.subscribe))],
      allowResponses: each.some((e) => e.allowResponses),
    };
    const pub = perm.publish.length ? `publish: { allow: ${list(perm.publish)} }` : 'publish: { deny: [">"] }';
    const resp = perm.allowResponses ? ', allow_responses: true' : '';
    return `    # ${k.role}\n    { nkey: ${q(k.publicKey)}, permissions: { ${pub}, subscribe: { allow: ${list(perm.subscribe)} }${resp} } }`;
  });
  return `# Generated by \`npm run admin -- secrets\`: one nkey user per Hush role with its subject permissions.\nauthorization {\n  users = [\n${users.join('\n')}\n  ]\n}\n`;
}

/** What a process needs to connect as its role. */
export interface NatsAuthConfig {
  /** Path of the role's nkey seed (a Kubernetes Secret mount, a compose volume, `.data/secrets`). */
  nkeyFile?: string;
  /** Folder holding `<role>.nk` (one volume for every process); used when nkeyFile is unset. */
  nkeyDir?: string;
  /** CA bundle that signed the NATS servers' certificates; enables TLS when set. */
  tlsCaFile?: string;
}

/**
 * Connect options for a role: its nkey (when configured), its own inbox prefix, and TLS when a CA
 * is given. Without an nkey file the process connects anonymously, which a secured server refuses.
 */
export function natsAuthOptions(role: string, c: NatsAuthConfig): Partial<ConnectionOptions> {
  const opts: Partial<ConnectionOptions> = { inboxPrefix: inboxPrefix(role) };
  const file = c.nkeyFile || (c.nkeyDir ? join(c.nkeyDir, `${role}.nk`) : '');
  if (file) {
    const seed = new TextEncoder().encode(readFileSync(file, 'utf8').trim());
    fromSeed(seed); // fails early with a clear error on a malformed seed file
    opts.authenticator = nkeyAuthenticator(seed);
  }
  if (c.tlsCaFile) opts.tls = { caFile: c.tlsCaFile };
  return opts;
}
