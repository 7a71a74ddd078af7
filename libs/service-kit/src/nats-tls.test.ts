import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, hasBinary, testCertificates, waitForPort } from '@hush/testkit';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsAuthOptions } from './nats-auth.js';

// NATS TLS is optional (docs/OPERATIONS.md, "The internal bus"): a server with a certificate
// from the operator's CA, and every process given that CA in NATS_TLS_CA_FILE.
const certs = testCertificates();
let server: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  const port = await freePort();
  const conf = join(certs.dir, 'nats.conf');
  writeFileSync(
    conf,
    `listen: 127.0.0.1:${port}\ntls {\n  cert_file: "${certs.serverCert}"\n  key_file: "${certs.serverKey}"\n}\n`,
  );
  server = spawn('nats-server', ['-c', conf], { stdio: 'ignore' });
  await waitForPort(port);
  url = `nats://127.0.0.1:${port}`;
});
afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(certs.dir, { recursive: true, force: true });
});

describe.skipIf(!hasBinary('nats-server'))('NATS over TLS', () => {
  it('connects with NATS_TLS_CA_FILE and round-trips a message over the encrypted connection', async () => {
    const nc = await connect({ servers: url, ...natsAuthOptions('gateway', { tlsCaFile: certs.caCert }) });
    expect(nc.info?.tls_required).toBe(true);
    const sub = nc.subscribe('tls.check', { max: 1 });
    nc.publish('tls.check', 'over tls');
    for await (const m of sub) expect(m.string()).toBe('over tls');
    await nc.close();
  });

  it('refuses a server whose certificate the configured CA did not sign', async () => {
    const other = testCertificates();
    await expect(
      connect({ servers: url, reconnect: false, ...natsAuthOptions('gateway', { tlsCaFile: other.caCert }) }),
    ).rejects.toThrow();
    rmSync(other.dir, { recursive: true, force: true });
  });
});
