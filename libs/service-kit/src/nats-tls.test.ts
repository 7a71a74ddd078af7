import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, hasBinary, waitForPort } from '@hush/testkit';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsAuthOptions } from './nats-auth.js';

// NATS TLS is optional (docs/OPERATIONS.md, "The internal bus"): a server with a certificate
// from the operator's CA, and every process given that CA in NATS_TLS_CA_FILE.
const dir = mkdtempSync(join(tmpdir(), 'hush-nats-tls-'));
const f = (n: string) => join(dir, n);
let server: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-subj',
    '/CN=hush test CA',
  );
  ssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    f('san.ext'),
    '-out',
    f('server.pem'),
  );
  const port = await freePort();
  writeFileSync(
    f('nats.conf'),
    `listen: 127.0.0.1:${port}\ntls {\n  cert_file: "${f('server.pem')}"\n  key_file: "${f('server.key')}"\n}\n`,
  );
  server = spawn('nats-server', ['-c', f('nats.conf')], { stdio: 'ignore' });
  await waitForPort(port);
  url = `nats://127.0.0.1:${port}`;
});
afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasBinary('nats-server'))('NATS over TLS', () => {
  it('connects with NATS_TLS_CA_FILE and round-trips a message over the encrypted connection', async () => {
    const nc = await connect({ servers: url, ...natsAuthOptions('gateway', { tlsCaFile: f('ca.pem') }) });
    expect(nc.info?.tls_required).toBe(true);
    const sub = nc.subscribe('tls.check', { max: 1 });
    nc.publish('tls.check', 'over tls');
    for await (const m of sub) expect(m.string()).toBe('over tls');
    await nc.close();
  });

  it('refuses a server whose certificate the configured CA did not sign', async () => {
    const other = mkdtempSync(join(tmpdir(), 'hush-other-ca-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        join(other, 'k'),
        '-out',
        join(other, 'ca.pem'),
        '-subj',
        '/CN=other',
      ],
      { stdio: 'ignore' },
    );
    await expect(
      connect({ servers: url, reconnect: false, ...natsAuthOptions('gateway', { tlsCaFile: join(other, 'ca.pem') }) }),
    ).rejects.toThrow();
    rmSync(other, { recursive: true, force: true });
  });
});
