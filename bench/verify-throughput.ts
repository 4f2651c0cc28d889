/**
 * Image verification throughput against its floor: a plain SHA-256 of the same bytes, measured in the
 * same run. verifyImage must read every byte twice (XOR checksum, SHA-256), so the SHA-256 alone is
 * the bound; the goal is ≥ 0.8× of it, so 10,000 emulated devices can verify their images cheaply.
 * Batches of both alternate (which goes first flips each round) and the medians are compared.
 *
 * Run: `node dist/bench/verify-throughput.js [--reps N]`. Prints one line; exits 0 (figures, not a gate).
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { verifyImage } from '../simulator/esp32/app-image.js';
import { buildAppImage } from '../simulator/esp32/image-builder.js';

const SIZE = 1.5 * 1024 * 1024;
const GOAL = 0.8;
/** Calls per timed batch: long enough (~10 ms) that timer resolution does not matter. */
const BATCH = 10;

const repsArg = process.argv.indexOf('--reps');
const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 41;

const image = buildAppImage({ chip: 'esp32', version: 'bench', size: SIZE });
let sink = 0;

const contenders = {
  verify: (): void => {
    sink ^= verifyImage(image, { chip: 'esp32' }).checksum.computed;
  },
  sha256: (): void => {
    sink ^= createHash('sha256').update(image).digest()[0] ?? 0;
  },
};

/** MB/s (10^6 bytes per second) of one batch. */
function batch(fn: () => void): number {
  const t0 = performance.now();
  for (let i = 0; i < BATCH; i++) fn();
  const ms = performance.now() - t0;
  return (image.length * BATCH) / (ms * 1000);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

// Warm up both paths (JIT, crypto init), then interleave so drift hits both alike.
for (let i = 0; i < 5; i++) {
  batch(contenders.verify);
  batch(contenders.sha256);
}
const verifyRates: number[] = [];
const shaRates: number[] = [];
for (let r = 0; r < reps; r++) {
  if (r % 2 === 0) {
    verifyRates.push(batch(contenders.verify));
    shaRates.push(batch(contenders.sha256));
  } else {
    shaRates.push(batch(contenders.sha256));
    verifyRates.push(batch(contenders.verify));
  }
}
const v = median(verifyRates);
const s = median(shaRates);
const ratio = v / s;
process.stdout.write(`verify throughput: ${v.toFixed(0)} MB/s = ${ratio.toFixed(2)}x plain SHA-256 (${s.toFixed(0)} MB/s) `
  + `of the same ${SIZE / 1024 / 1024} MiB [goal >= ${GOAL}x]${ratio >= GOAL ? '' : ' BELOW GOAL'}\n`);
if (sink === -1) process.stdout.write('\n'); // keeps the results observable so no call is optimized away
