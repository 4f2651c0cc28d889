/** openStore: the three locations, persistence across reopen, typed failures, concurrent migration. */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OtasimError } from '../../protocol/errors.js';
import { openStore } from '../../server/store/open.js';
import { MIGRATIONS } from '../../server/store/migrate.js';
import { DATABASE_URL, dropSchema, postgresReachable, uniqueSchema } from './store-harness.js';

async function code(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  return e instanceof OtasimError ? e.code : `untyped: ${String(e)}`;
}

describe('openStore: PGlite', () => {
  it('a data directory keeps what was committed across close and reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otasim-open-'));
    try {
      {
        await using store = await openStore({ data: join(dir, 'db') });
        expect(store.kind).toBe('pglite');
        await store.checkIn({ device_id: 'ESP32-20E955A0', device_model: 'esp32', current_firmware_version: '1.4.2' });
        await store.insertStatusBatch([{ device_id: 'ESP32-20E955A0', firmware_version: '1.4.3', status: 'pending' }]);
      }
      await using again = await openStore({ data: join(dir, 'db') });
      expect((await again.getDevice('ESP32-20E955A0'))?.current_firmware_version).toBe('1.4.2');
      expect(await again.listStatus()).toHaveLength(1);
      const migrations = await again.rawQuery('SELECT COUNT(*) AS n FROM schema_migrations');
      expect(Number(migrations[0]?.['n'])).toBe(MIGRATIONS.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('one store per data directory: a second open is refused until the first closes; a dead owner\'s lock is taken over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otasim-lock-'));
    try {
      const db = join(dir, 'db');
      const first = await openStore({ data: db });
      const e = await openStore({ data: db }).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(OtasimError);
      expect((e as OtasimError).code).toBe('OTASIM_ERR_STORE_LOCKED');
      expect((e as OtasimError).message).toMatch(String(process.pid));
      await first.close();
      expect(existsSync(`${db}.lock`)).toBe(false);
      const second = await openStore({ data: db });
      await second.close();
      // A crashed owner leaves its lock behind; its pid no longer runs.
      await writeFile(`${db}.lock`, '2147483646\n');
      await (await openStore({ data: db })).close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a fresh data directory starts from the cached template; the template holds the schema, never data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otasim-tpl-'));
    const cache = join(dir, 'cache');
    try {
      {
        await using first = await openStore({ data: join(dir, 'a') }, { pgliteTemplateDir: cache });
        await first.checkIn({ device_id: 'only-in-a', device_model: 'esp32', current_firmware_version: '1' });
      }
      const files = await readdir(cache);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^pglite-\d+\.\d+\.\d+-schema-[0-9a-f]{16}\.tar\.gz$/);
      await using second = await openStore({ data: join(dir, 'b') }, { pgliteTemplateDir: cache });
      expect(await second.getDevice('only-in-a')).toBeUndefined();
      expect((await second.rawQuery('SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r['version']))).toEqual(MIGRATIONS.map((m) => m.version));
      await second.checkIn({ device_id: 'b1', device_model: 'esp32', current_firmware_version: '1' });
      expect((await second.listDevices()).map((d) => d.device_id)).toEqual(['b1']);
      expect(existsSync(join(dir, 'b', 'PG_VERSION'))).toBe(true);
      await using mem = await openStore({ memory: true }, { pgliteTemplateDir: cache });
      expect(await mem.listDevices()).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a damaged template is dropped and rebuilt; the store still opens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otasim-tpl-'));
    const cache = join(dir, 'cache');
    try {
      await (await openStore({ memory: true }, { pgliteTemplateDir: cache })).close();
      const [name] = await readdir(cache);
      await writeFile(join(cache, name!), 'not a tar at all');
      await using store = await openStore({ data: join(dir, 'd') }, { pgliteTemplateDir: cache });
      await store.checkIn({ device_id: 'x', device_model: 'esp32', current_firmware_version: '1' });
      const { size } = await import('node:fs/promises').then((fs) => fs.stat(join(cache, name!)));
      expect(size).toBeGreaterThan(100_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a closed store refuses with a typed error; close is idempotent', async () => {
    const store = await openStore({ memory: true });
    await store.close();
    await store.close();
    expect(await code(store.ping())).toBe('OTASIM_ERR_STORE_CLOSED');
    expect(await code(store.insertStatusBatch([{ device_id: 'a', status: 'pending' }]))).toBe('OTASIM_ERR_STORE_CLOSED');
  });

  it('uses the injected clock for every timestamp it writes', async () => {
    await using store = await openStore({ memory: true }, { clock: () => new Date('2030-01-02T03:04:05.000Z') });
    const d = await store.checkIn({ device_id: 'a', device_model: 'esp32', current_firmware_version: '1' });
    expect(d.last_seen?.toISOString()).toBe('2030-01-02T03:04:05.000Z');
    expect(d.created_at.toISOString()).toBe('2030-01-02T03:04:05.000Z');
  });
});

describe('openStore: PostgreSQL', () => {
  it('an unreachable server is a typed OTASIM_ERR_STORE_UNREACHABLE', async () => {
    expect(await code(openStore({ database: 'postgres://postgres@127.0.0.1:1/test' }))).toBe('OTASIM_ERR_STORE_UNREACHABLE');
  });

  it('a schema name that is not a plain identifier is refused before connecting', async () => {
    expect(await code(openStore({ database: DATABASE_URL, schema: 'x"; DROP TABLE devices; --' }))).toBe('OTASIM_ERR_STORE_CONFIG');
  });

  it('two servers opening one fresh schema at once migrate it exactly once', async (ctx) => {
    if (!(await postgresReachable('store-open'))) return ctx.skip();
    const schema = uniqueSchema('open');
    try {
      const [a, b] = await Promise.all([openStore({ database: DATABASE_URL, schema }), openStore({ database: DATABASE_URL, schema })]);
      try {
        expect(a.kind).toBe('postgres');
        const rows = await a.rawQuery('SELECT version FROM schema_migrations ORDER BY version');
        expect(rows.map((r) => Number(r['version']))).toEqual(MIGRATIONS.map((m) => m.version));
        await a.checkIn({ device_id: 'x', device_model: 'esp32', current_firmware_version: '1' });
        expect((await b.getDevice('x'))?.device_model).toBe('esp32');
        // The tables really are in the schema, not in public.
        const where = await a.rawQuery(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'devices' AND table_schema = $1`, [schema]);
        expect(where).toHaveLength(1);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });
});
