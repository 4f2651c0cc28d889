import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { duplexPair } from '../../server/broker/index.js';

describe('duplexPair', () => {
  it('carries bytes both ways, in order', async () => {
    const [a, b] = duplexPair();
    const fromA: Buffer[] = [];
    const fromB: Buffer[] = [];
    b.on('data', (c: Buffer) => fromA.push(c));
    a.on('data', (c: Buffer) => fromB.push(c));
    a.write('one ');
    a.write('two');
    b.write('back');
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(fromA).toString()).toBe('one two');
    expect(Buffer.concat(fromB).toString()).toBe('back');
  });

  it('holds writes back while the reader does not read (backpressure), and releases them when it does', async () => {
    const [a, b] = duplexPair();
    const chunk = Buffer.alloc(64 * 1024, 7);
    let acknowledged = 0;
    for (let i = 0; i < 8; i++) a.write(chunk, () => { acknowledged++; });
    await new Promise((r) => setImmediate(r));
    // b's readable buffer (16 KiB high-water mark) is full after the first chunk: the rest wait.
    expect(acknowledged).toBeLessThan(8);
    expect(a.writableNeedDrain).toBe(true);
    let received = 0;
    b.on('data', (c: Buffer) => { received += c.length; });
    await once(a, 'drain');
    await new Promise((r) => setImmediate(r));
    expect(acknowledged).toBe(8);
    expect(received).toBe(8 * chunk.length);
  });

  it('ends the peer readable side when one side ends', async () => {
    const [a, b] = duplexPair();
    b.resume();
    a.end('bye');
    await once(b, 'end');
  });

  it('destroys the peer when one side is destroyed (a cut cable)', async () => {
    const [a, b] = duplexPair();
    a.destroy();
    await once(b, 'close');
    expect(b.destroyed).toBe(true);
  });

  it('fails a write once the peer is gone instead of losing it silently', async () => {
    const [a, b] = duplexPair();
    a.on('error', () => {});
    b.destroy();
    const err = await new Promise<Error | null | undefined>((resolve) => a.write('lost', (e) => resolve(e)));
    expect(err).toBeInstanceOf(Error);
  });
});
