import { type Caller, encodeJson, okReply, type ServiceReply, type Subjects } from '@hush/protocol';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { JWK } from 'jose';

/**
 * Tiny stand-ins for the parts of auth and keydir the gateway's own tests need (jwks, check,
 * logout, register, keydir.devices), answering on the real broker. tests/contracts/auth-keydir.test.ts
 * runs one suite against these and against the real services, so they cannot answer what the
 * services would not.
 */
export interface StandInAuth {
  /** Off: the subject is still subscribed but nothing answers ("service down"). */
  answering: { auth: boolean; keydir: boolean };
  /** Requests received, by subject without the prefix. */
  seen: { subject: string; body: unknown }[];
  /** Current devices per user, as keydir.devices answers them. */
  devices: Map<string, string[]>;
  /** A device signed in (what a login does in auth): auth.check answers it active until logout. */
  signIn(userId: string, deviceId: string): void;
  stop(): void;
}

const HOUR_MS = 3600_000;
let counter = 0;
/** Ids in the protocol's shapes (USER_ID_PATTERN, DEVICE_ID_PATTERN), unique per process. */
const nextId = (len: number) => `${Date.now().toString(36)}${(++counter).toString(36)}`.padEnd(len, '0').slice(-len);

export function standInAuth(nc: NatsConnection, s: Subjects, jwk: JWK): StandInAuth {
  const answering = { auth: true, keydir: true };
  const seen: StandInAuth['seen'] = [];
  const devices = new Map<string, string[]>();
  const active = new Set<string>();
  const key = (c: Caller) => `${c.userId}/${c.deviceId}`;
  const subs: Subscription[] = [];
  const respond = (subject: string, on: 'auth' | 'keydir', fn: (body: never) => ServiceReply<unknown>) =>
    subs.push(
      nc.subscribe(subject, {
        callback: (_e, m) => {
          if (!answering[on]) return;
          const body = m.data.length ? JSON.parse(new TextDecoder().decode(m.data)) : undefined;
          seen.push({ subject: subject.slice(s.prefix.length), body });
          m.respond(encodeJson(fn(body as never)));
        },
      }),
    );
  respond(s.auth.jwks, 'auth', () => okReply({ keys: [jwk] }));
  respond(s.auth.check, 'auth', (b: Caller) => okReply({ active: active.has(key(b)) }));
  respond(s.auth.logout, 'auth', (b: { caller: Caller }) => {
    active.delete(key(b.caller));
    nc.publish(s.events.deviceRevoked, encodeJson({ ...b.caller, reason: 'logout' }));
    return okReply({});
  });
  respond(s.auth.register, 'auth', (b: { username: string }) => {
    const userId = nextId(20);
    const deviceId = nextId(12);
    active.add(`${userId}/${deviceId}`);
    const now = Date.now();
    return okReply({
      userId,
      username: b.username,
      deviceId,
      accessToken: 'a'.repeat(20),
      accessExpiresAt: now + HOUR_MS / 4,
      refreshToken: 'r'.repeat(20),
      refreshExpiresAt: now + 720 * HOUR_MS,
      // Not part of a Session: the gateway must pass on only the Session's fields.
      passwordHash: 'must never leave the gateway',
    });
  });
  respond(s.keydir.devices, 'keydir', (b: { userId: string }) => okReply({ devices: devices.get(b.userId) ?? [] }));
  return {
    answering,
    seen,
    devices,
    signIn: (userId, deviceId) => void active.add(`${userId}/${deviceId}`),
    stop: () => {
      for (const sub of subs) sub.unsubscribe();
    },
  };
}
