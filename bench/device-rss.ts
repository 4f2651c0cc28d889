/**
 * Memory per emulated device when a fleet shares one image: build one 1.5 MiB app image,
 * provision 10,000 ESP32s holding it in BOTH OTA slots (one shared buffer via the ImagePool),
 * boot each once (first boot from erased otadata writes its own otadata entry), then force GC
 * and report the RSS growth per device against a baseline taken in this process after the image
 * and the shared flash plan exist. Before the baseline, 1,000 throwaway devices are booted and
 * dropped, so that JIT code and V8's young-generation sizing (process-wide, about 20 MiB, not
 * per device) are already in the baseline and the delta is what the devices themselves retain.
 *
 * Run: `node --expose-gc dist/bench/device-rss.js [devices]`. Exit code 1 when over the goal.
 */
import {
  Esp32, ImagePool, buildAppImage, flashFromPlan, planFlash, type Partition, type PartitionTable,
} from '../simulator/esp32/index.js';

const GOAL_KIB = 4;
const IMAGE_SIZE = 1536 * 1024;
const devices = Number(process.argv[2] ?? 10_000);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('device-rss: run with node --expose-gc\n');
  process.exit(2);
}

function settle(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().rss;
}

const part = (label: string, type: number, subtype: number, offset: number, size: number): Partition =>
  ({ label, type, subtype, offset, size, flags: 0 });
// ESP-IDF's "Two large size OTA partitions" layout (partitions_two_ota_large.csv).
const table: PartitionTable = {
  md5: true,
  partitions: [
    part('nvs', 1, 2, 0x9000, 0x6000),
    part('otadata', 1, 0, 0xf000, 0x2000),
    part('phy_init', 1, 1, 0x11000, 0x1000),
    part('ota_0', 0, 0x10, 0x20000, 0x1a9000),
    part('ota_1', 0, 0x11, 0x1d0000, 0x1a9000),
  ],
};

const image = buildAppImage({ chip: 'esp32c3', version: 'fleet-1.0.0', size: IMAGE_SIZE });
const pool = new ImagePool();
const plan = planFlash({ chip: 'esp32c3', flashSize: 0x400000, table, pool, apps: { ota_0: image, ota_1: image } });
const config = { chip: 'esp32c3' as const, rollback: true };

const WARM_UP = 1000;
let warm: Esp32[] | null = [];
for (let i = 0; i < WARM_UP; i++) {
  const dev = Esp32.create({ config, flash: flashFromPlan(plan), pool });
  dev.boot();
  warm.push(dev);
}
warm = null;

const baseline = settle();
const heapBaseline = process.memoryUsage().heapUsed;
const fleet: Esp32[] = new Array<Esp32>(devices);
let booted = 0;
for (let i = 0; i < devices; i++) {
  const dev = Esp32.create({ config, flash: flashFromPlan(plan), pool });
  if (dev.boot().ok) booted++;
  fleet[i] = dev;
}
const after = settle();
const heap = process.memoryUsage().heapUsed;

// Keep every device reachable until after the measurement, and check they all run ota_0.
const onOta0 = fleet.filter((d) => d.getRunningPartition().label === 'ota_0').length;
const owned = fleet.reduce((n, d) => n + d.flash.footprint().ownedBytes, 0);
const perDeviceKiB = (after - baseline) / devices / 1024;
const heapPerDevice = (heap - heapBaseline) / devices;
const imageMiB = image.length / (1024 * 1024);

process.stdout.write(`device RSS: ${perDeviceKiB.toFixed(2)} KiB/device beyond the shared ${imageMiB.toFixed(1)} MiB image `
  + `(${devices} devices, baseline RSS measured before creating them) [goal <= ${GOAL_KIB} KiB]\n`);
process.stdout.write(`  JS heap: ${heapPerDevice.toFixed(0)} B/device; `);
process.stdout.write(`booted ${booted}/${devices}, on ota_0 ${onOta0}; pool holds ${pool.size} shared buffers (image + partition table), ${(pool.bytes / 1048576).toFixed(2)} MiB; `
  + `devices own ${(owned / devices).toFixed(0)} flash bytes each on average\n`);
if (booted !== devices || onOta0 !== devices || perDeviceKiB > GOAL_KIB) process.exitCode = 1;
