/**
 * A throwaway certificate authority for TLS tests, made inside the test with the `openssl` CLI
 * (on every machine that runs these suites; tests skip with a notice without it): an EC P-256 CA
 * and a server certificate for 127.0.0.1 and localhost that it signed, valid for two days. Why the
 * CLI and not a JS library: the certificates are then exactly what an operator's own tooling
 * makes, and no dependency is added for tests alone.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Files of a test CA, all PEM, in `dir`. */
export interface TestCa extends AsyncDisposable {
  readonly dir: string;
  /** The CA certificate clients trust (`--ca`). */
  readonly caFile: string;
  readonly ca: string;
  /** The server certificate (127.0.0.1, localhost) and its key. */
  readonly certFile: string;
  readonly keyFile: string;
}

/** True when the `openssl` CLI runs here. */
export async function opensslAvailable(): Promise<boolean> {
  try {
    await run('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

/** Make a CA and a server certificate signed by it in a new temp directory. */
export async function makeTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'otasim-ca-'));
  const f = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=otasim test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
    await writeFile(f('server.ext'), [
      'subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', '',
    ].join('\n'));
    await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-out', f('server.pem'), '-days', '2', '-extfile', f('server.ext')]);
    return {
      dir, caFile: f('ca.pem'), ca: await readFile(f('ca.pem'), 'utf8'), certFile: f('server.pem'), keyFile: f('server.key'),
      async [Symbol.asyncDispose]() {
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
