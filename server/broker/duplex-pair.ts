/**
 * Two in-memory Duplex streams wired back to back: what one side writes, the other side reads.
 *
 * This is the memory transport of ARCHITECTURE.md "No sockets in memory mode": an mqtt.js client
 * writes into one half and aedes `handle()`s the other, so a device costs no file descriptor.
 * (Node 22 has `stream.duplexPair`; Node 20, our floor, does not.)
 *
 * Backpressure is real: a write is acknowledged only once the peer's reader has room, so a
 * stalled consumer stalls its producer exactly as a TCP window would. Ending one side ends the
 * peer's readable side; destroying one side destroys the peer (a cut cable, which is how tests
 * simulate a crash that makes the broker publish the last will).
 */
import { Duplex } from 'node:stream';

class Half extends Duplex {
  /** The other end; set right after construction by `duplexPair`. */
  peer: Half | undefined;
  /** The write callback held back until the peer's reader asks for more. */
  private heldWrite: (() => void) | undefined;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (peer === undefined || peer.destroyed) {
      callback(new Error('in-memory duplex: the peer is closed'));
      return;
    }
    if (peer.push(chunk)) callback();
    else this.heldWrite = () => callback();
  }

  /** The peer's reader wants more: release the writer we held back, if any. */
  override _read(): void {
    const peer = this.peer;
    const held = peer?.heldWrite;
    if (peer !== undefined && held !== undefined) {
      peer.heldWrite = undefined;
      held();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (peer !== undefined && !peer.destroyed) peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    const held = this.heldWrite;
    this.heldWrite = undefined;
    if (held !== undefined) held();
    if (peer !== undefined && !peer.destroyed) peer.destroy();
    callback(error);
  }
}

/**
 * Create two connected in-memory Duplex streams.
 *
 * @returns `[a, b]`: bytes written to `a` are read from `b` and vice versa.
 */
export function duplexPair(): [Duplex, Duplex] {
  const a = new Half();
  const b = new Half();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
