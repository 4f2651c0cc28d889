/**
 * The physical floor of benchmark 1 (issue 5; loadtest-anchors §4 A): what a fleet-wide OTA of
 * `devices` × `imageBytes` cannot beat in one Node process on this machine — SHA-256 of every
 * device's copy of the image (one fresh hash per device), plus a raw loopback TCP transfer of the
 * same bytes (a `net` server writing one shared buffer, a client in this process reading and
 * dropping it). The two are timed one after the other and added.
 *
 * Prints one JSON line: `{ devices, imageBytes, shaMs, transferMs, floorMs }`.
 * Run: `node dist/bench/ota-floor.js <devices> <imageBytes>`.
 */
import { createHash } from 'node:crypto';
import { createServer, connect, type AddressInfo } from 'node:net';

const devices = Number(process.argv[2] ?? 2000);
const imageBytes = Number(process.argv[3] ?? 1024 * 1024);
const image = new Uint8Array(imageBytes).map((_, i) => (i * 131 + 7) & 0xff);

const s0 = performance.now();
let sink = 0;
for (let d = 0; d < devices; d++) sink ^= createHash('sha256').update(image).digest()[0] ?? 0;
const shaMs = performance.now() - s0;

const total = devices * imageBytes;
const server = createServer((socket) => {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      sent += imageBytes;
      if (!socket.write(image)) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const t0 = performance.now();
const received = await new Promise<number>((resolve, reject) => {
  let n = 0;
  const c = connect((server.address() as AddressInfo).port, '127.0.0.1');
  c.on('data', (b: Buffer) => { n += b.length; });
  c.on('end', () => resolve(n));
  c.on('error', reject);
});
const transferMs = performance.now() - t0;
server.close();
if (received !== total) throw new Error(`floor transfer moved ${received} of ${total} bytes`);
process.stdout.write(`${JSON.stringify({ devices, imageBytes, shaMs: Math.round(shaMs), transferMs: Math.round(transferMs), floorMs: Math.round(shaMs + transferMs), sink })}\n`);
