/**
 * One PGlite per data directory. PGlite runs PostgreSQL single-user inside the process and does
 * not guard its data directory, so two servers on one `--data` would corrupt it. The lock is the
 * file `<dir>.lock` beside the directory (not inside it, so a dump of the directory never carries
 * it), holding the owner's pid, created exclusively; a lock whose process is gone (a crash,
 * SIGKILL) is stale and is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { StoreError } from '../../protocol/errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Take the lock on `dir`; resolves with its release. Throws `OTASIM_ERR_STORE_LOCKED` when a live process holds it. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = `${resolve(dir)}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') {
        throw new StoreError(`cannot lock the data directory ${dir}: ${(e as Error).message}`, { cause: e });
      }
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        throw new StoreError(`the data directory ${dir} is in use by process ${pid}${pid === process.pid ? ' (this one)' : ''}; ` +
          'stop that server or give this one another --data', { code: 'OTASIM_ERR_STORE_LOCKED' });
      }
      await rm(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new StoreError(`could not take the lock on ${dir}: another process keeps racing for it`, { code: 'OTASIM_ERR_STORE_LOCKED' });
}
