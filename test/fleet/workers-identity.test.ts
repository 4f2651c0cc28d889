/**
 * A fleet split across worker processes is the same fleet as in one process (issue 5): the same
 * seed and composition give the same device ids, MACs, models, starting versions and groups. Two
 * embedded servers (each with its broker on TCP) register what the devices tell them: one fleet
 * runs `--workers 3`, the same flags run `--workers 1`, and the servers' device tables must match.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from '../../simulator/fleet/embedded.js';
import { projectRoot } from '../fixtures.js';

const N = 150;
const MODELS = ['esp32', 'esp32s3'];
let dir: string;
let servers: EmbeddedServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otasim-fleet-ids-'));
  await writeFile(join(dir, 'mix.yaml'), [
    'models: { esp32: 2, esp32s3: 1 }',
    'versions: { "1.0.0": 3, "0.9.0": 1 }',
    'groups: { canary: 0.2, eu: 0.5 }',
  ].join('\n'));
  servers = await Promise.all([0, 1].map(() => startEmbeddedServer({ mqttPort: 0 })));
}, 120_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s[Symbol.asyncDispose]()));
  await rm(dir, { recursive: true, force: true });
});

/** Device rows by id: what the server learnt of each device. */
async function table(s: EmbeddedServer): Promise<Map<string, unknown>> {
  const rows = (await Promise.all(MODELS.map((m) => s.server.store.devicesOfModel(m)))).flat();
  return new Map(rows.map((r) => [r.device_id, { mac: r.mac_address, model: r.device_model, version: r.current_firmware_version, groups: [...r.groups].sort() }]));
}

/** Run the fleet against `s` until the server has registered every device, then SIGINT it. */
async function fleetOn(s: EmbeddedServer, workers: number): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'otasim.js'), 'fleet', '--devices', String(N), '--server', s.url,
    '--broker', s.server.mqttUrl as string, '--workers', String(workers), '--mix', join(dir, 'mix.yaml'), '--seed', '11', '--prefix', 'ids', '--json'],
  { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const closed = new Promise<number | null>((res) => child.on('close', res));
  for (let i = 0; i < 1200 && (await table(s)).size < N; i++) await new Promise((res) => setTimeout(res, 100));
  child.kill('SIGINT');
  return { code: await closed, out };
}

describe('identity across worker processes', () => {
  it(`${N} devices: --workers 3 registers the same ids, MACs, models, versions and groups as one process`, async () => {
    const [split, single] = servers as [EmbeddedServer, EmbeddedServer];
    const [a, b] = await Promise.all([fleetOn(split, 3), fleetOn(single, 1)]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect((JSON.parse(a.out) as { workers: unknown[] }).workers).toHaveLength(3);
    expect(JSON.parse(b.out)).not.toHaveProperty('workers');
    const ta = await table(split);
    const tb = await table(single);
    expect(ta.size).toBe(N);
    expect(ta).toEqual(tb);
    // The mix is honoured (both models and both versions occur), so the comparison is not of uniform rows.
    const rows = [...ta.values()] as Array<{ model: string; version: string }>;
    expect(new Set(rows.map((r) => r.model))).toEqual(new Set(MODELS));
    expect(new Set(rows.map((r) => r.version))).toEqual(new Set(['1.0.0', '0.9.0']));
  }, 180_000);
});
