// File access for Node, Deno and Bun: atomic writes (temporary name, then rename). Importing
// this module plugs it into the core (model.save(path), loadModel(path)).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { fileAccessError, setFileSystem } from './io';

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

setFileSystem({
  readFile: readFileBytes,
  writeFileAtomic,
});
