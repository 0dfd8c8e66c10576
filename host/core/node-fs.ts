// File access for Node, Deno and Bun: crash-safe atomic writes, reads with typed errors, and TF.js
// shard reads confined to the model's folder. Importing this module plugs it into the core
// (model.save(path), loadModel(path)).
//
// writeFileAtomic(path, bytes) writes `.${basename}.${pid}-${hex}.tmp` in the destination's
// directory, fsyncs it, closes it, renames it over the destination and fsyncs the directory: a
// reader (or a crash at any moment, power loss included where the disk honours fsync) sees the
// old file or the new one, never a torn one. A process killed mid-save leaves its temporary
// behind; the next save of the same destination removes such stale temporaries first. A
// temporary is stale when the process named in it no longer runs on this machine, or when it
// has not been written for STALE_TEMP_MS (10 minutes: covers pids reused after a restart and
// temporaries from other machines on a shared file system). So concurrent saves of one
// destination from live processes keep their temporaries; one that stalls for 10 minutes
// mid-write may lose its temporary, and then its rename fails (an error, the destination untouched).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, isAbsolute, join, relative, sep } from 'node:path';
import { fileAccessError, setFileSystem } from './io';
import type { ShardReader } from '../import/tfjs-weights';

export const STALE_TEMP_MS = 10 * 60 * 1000;

function processRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (e) {
    // EPERM: it runs, as another user. Deno without --allow-run refuses to ask: assume it runs.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

// Removes the stale temporaries of `name` in `dir` (see the header); returns how many.
export async function removeStaleTemporaries(dir: string, name: string, now = Date.now()): Promise<number> {
  const prefix = `.${name}.`;
  let removed = 0;
  for (const entry of await readdir(dir)) {
    if (!entry.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]+\.tmp$/.exec(entry.slice(prefix.length));
    if (!m) continue;
    const file = join(dir, entry);
    try {
      const stale = !processRuns(Number(m[1])) || now - (await stat(file)).mtimeMs > STALE_TEMP_MS;
      if (stale) { await rm(file, { force: true }); removed++; }
    } catch {
      // gone meanwhile (another save cleaned it or renamed it): nothing to do
    }
  }
  return removed;
}

// Flushes a directory entry change (the rename) to disk. Some platforms refuse to open or sync a
// directory (Windows: EISDIR, EPERM; some file systems: EINVAL); there the rename is as durable
// as the platform makes it.
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (e) {
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EACCES', 'EBADF', 'ENOTSUP'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await handle?.close();
  }
}

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path) || '.';
  const tmp = join(dir, `.${basename(path)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await removeStaleTemporaries(dir, basename(path));
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncDirectory(dir);
  } catch (e) {
    await rm(tmp, { force: true });
    throw fileAccessError(path, 'write', e);
  }
}

async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw fileAccessError(path, 'read', e);
  }
}

// Reads the weight shards of a TF.js model in `dir`. A shard (a manifest path, already checked to be a
// plain relative name) must resolve, symlinks followed, to a regular file inside the real `dir`;
// at most `maxBytes` are read, so a device, a pipe or a huge file costs nothing. A file that is
// missing, outside, or not a regular file gets one message: nothing is told about files outside.
export function shardReader(dir: string): ShardReader {
  const notHere = "there is no regular file of that name inside the model's folder";
  return async (relativePath, maxBytes) => {
    const root = await realpath(dir || '.');
    const real = await realpath(join(root, relativePath)).catch(() => { throw new Error(notHere); });
    const inside = relative(root, real);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) throw new Error(notHere);
    if (!(await stat(real)).isFile()) throw new Error(notHere);
    const file = await open(real, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const opened = await file.stat(); // the file opened, should it have been swapped since
      if (!opened.isFile()) throw new Error(notHere);
      const bytes = new Uint8Array(Math.min(maxBytes, opened.size + 1)); // + 1: sees a file grown since
      let got = 0;
      for (let n = -1; n !== 0 && got < bytes.length; got += n) n = (await file.read(bytes, got, bytes.length - got, got)).bytesRead;
      return bytes.subarray(0, got);
    } finally {
      await file.close();
    }
  };
}

setFileSystem({
  readFile: readFileBytes,
  writeFileAtomic,
  shardReader,
});
