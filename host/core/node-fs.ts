// File access for Node, Deno and Bun: atomic writes (temporary name, then rename). Importing
// this module plugs it into the core (model.save(path), loadModel(path)).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, basename, isAbsolute, join, relative, sep } from 'node:path';
import { fileAccessError, setFileSystem } from './io';
import type { ShardReader } from '../import/tfjs-weights';

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path) || '.', { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
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
});
