/** SqlPort over node-postgres: a pool against a PostgreSQL URL, optionally pinned to a schema. */
import pg from 'pg';
import { pgErrorInfo, type SqlPort, type SqlRow, type SqlRunner } from './sql-port.js';

/** Quote an SQL identifier (schema names come from config, never from requests). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Open a pool on `url`. With `schema`, every connection's `search_path` is that schema (created
 * if missing), so unqualified table names — including the seeds' Grafana SQL — resolve there.
 * Throws the driver's error if the server is unreachable (the caller wraps it).
 */
export async function openPgPort(url: string, opts: { schema?: string; poolSize?: number } = {}): Promise<SqlPort> {
  const { schema } = opts;
  if (schema !== undefined) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`).catch((e: unknown) => {
        // Two servers creating the schema at once: IF NOT EXISTS is not atomic, the loser sees 23505.
        if (pgErrorInfo(e).code !== '23505') throw e;
      });
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    ...(schema !== undefined ? { options: `-c search_path=${quoteIdent(schema)}` } : {}),
  });
  // An idle client's error (server restart) must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const runner = (c: pg.Pool | pg.PoolClient): SqlRunner => ({
    async query<R extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]) {
      const r = await c.query<R>(sql, params === undefined ? undefined : [...params]);
      return { rows: r.rows };
    },
    async exec(script: string) {
      await c.query(script); // no parameters → simple protocol → several statements allowed
    },
  });
  const top = runner(pool);
  // Smoke the pool so an unreachable server fails here, not on first use.
  await pool.query('SELECT 1');
  return {
    kind: 'postgres',
    query: top.query,
    exec: top.exec,
    async transaction(fn) {
      const client = await pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        try {
          const out = await fn(runner(client));
          await client.query('COMMIT');
          return out;
        } catch (e) {
          await client.query('ROLLBACK').catch((re: unknown) => { broken = re; });
          throw e;
        }
      } finally {
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    close: () => pool.end(),
  };
}
