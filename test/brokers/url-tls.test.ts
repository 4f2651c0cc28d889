/**
 * The broker suite on an `mqtts://` URL: embedded aedes behind a TLS listener with a throwaway
 * self-signed certificate (made with the openssl CLI; skips with a notice where it is absent),
 * trusted through `clientOptions.ca`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBroker } from '../../harness/brokers/index.js';
import { EmbeddedBroker } from '../../server/broker/index.js';
import { providerSuite } from './broker-suite.js';

function selfSigned(): { key: Buffer; cert: Buffer } | null {
  const dir = mkdtempSync(join(tmpdir(), 'otasim-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } catch (e) {
    process.stderr.write(`brokers: no self-signed certificate (${(e as Error).message.split('\n', 1)[0]}); the mqtts suite skips\n`);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pem = selfSigned();

describe.skipIf(pem === null)('broker provider: URL (mqtts://, aedes behind TLS)', () => {
  let broker: EmbeddedBroker;
  let server: Server;
  let url = '';
  beforeAll(async () => {
    broker = await EmbeddedBroker.create();
    server = createServer({ key: pem?.key, cert: pem?.cert }, (socket) => broker.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `mqtts://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await broker?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  // 200 clients: each TLS handshake costs about 1.5 ms of CPU on each side (loadtest-anchors §2).
  providerSuite(() => openBroker(url, { clientOptions: { ca: pem?.cert } }), { clients: 200 });

  it('refuses a broker whose certificate the client does not trust, at open, with one line', async () => {
    const error = await openBroker(url).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'OTASIM_ERR_MQTT_CONNECT' });
    expect((error as Error).message).toMatch(/self[- ]signed/);
    expect((error as Error).message).not.toContain('\n');
  });
});
