import { randomBytes } from 'node:crypto';
import type { PublishKeysBody, Session } from '@hush/protocol';

/**
 * Devices for the load test, made through the real HTTP API (register, then PUT /v1/keys so the
 * device is in keydir's list and the gateway accepts envelopes for it). The keys are random bytes
 * of the right shapes: keydir checks shapes only (signatures are the clients' business), and the
 * load test measures the transport, never the cryptography.
 */

export interface LoadDevice {
  username: string;
  password: string;
  userId: string;
  deviceId: string;
  accessToken: string;
  /** For a fresh access token when this one is about to expire (POST /v1/refresh). */
  refreshToken: string;
  /** When the access token was issued (ms). */
  issuedAt: number;
  /** Index into the gateway URL list this device talks to. */
  gateway: number;
}

/** Registrations in flight at once: enough to hide HTTP latency, few enough not to starve the stack. */
const REGISTER_CONCURRENCY = 16;
/** One HTTP call may take this long (the stack is busy on a 2-core machine). */
const HTTP_TIMEOUT_MS = 30_000;

const b64 = (n: number) => randomBytes(n).toString('base64');

export async function http<T>(url: string, init: RequestInit & { token?: string; body?: string }): Promise<T> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const r = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${init.method ?? 'GET'} ${new URL(url).pathname} -> ${r.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export function fakeKeys(deviceId: string): PublishKeysBody {
  const sig = () => b64(64);
  return {
    identityKey: b64(32),
    deviceKey: { publicKey: b64(32), signature: sig() },
    signedPrekey: { keyId: 1, publicKey: b64(32), createdAt: Date.now(), signature: sig() },
    oneTimePrekeys: [],
    deviceList: { version: 1, devices: [deviceId], issuedAt: Date.now(), signature: sig() },
  };
}

export async function registerDevice(
  baseUrl: string,
  username: string,
  gateway = 0,
  publishKeys = true,
): Promise<LoadDevice> {
  const password = randomBytes(12).toString('base64url');
  const s = await http<Session>(`${baseUrl}/v1/register`, {
    method: 'POST',
    body: JSON.stringify({ username, password, deviceName: 'loadtest' }),
  });
  if (publishKeys)
    await http<void>(`${baseUrl}/v1/keys`, {
      method: 'PUT',
      token: s.accessToken,
      body: JSON.stringify(fakeKeys(s.deviceId)),
    });
  return {
    username,
    password,
    userId: s.userId,
    deviceId: s.deviceId,
    accessToken: s.accessToken,
    refreshToken: s.refreshToken,
    issuedAt: Date.now(),
    gateway,
  };
}

/** Registers n devices (one user each), device i on gateway i % urls.length, before any timing starts. */
export async function registerDevices(
  urls: string[],
  n: number,
  tag: string,
  log: (l: string) => void = () => {},
  deadlineMs = Number.POSITIVE_INFINITY,
  /** Idle devices (connections mode) need no keys: nobody sends to them. */
  publishKeys = true,
): Promise<LoadDevice[]> {
  const out: LoadDevice[] = new Array(n);
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n && Date.now() < deadlineMs) {
      const i = next++;
      const g = i % urls.length;
      out[i] = await registerDevice(urls[g]!, `lt${tag}${i}`.toLowerCase().slice(0, 32), g, publishKeys);
      done++;
      if (done % 1000 === 0) log(`  registered ${done}/${n} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(REGISTER_CONCURRENCY, n) }, worker));
  return out.filter(Boolean);
}
