// File access is plugged in by the Node entry (edgetune/node); the core never imports a
// platform module, so it bundles unchanged for browsers and edge functions.
import { EdgetuneError } from './errors';

export interface FileSystem {
  readFile(path: string): Promise<Uint8Array>;
  // Writes to a temporary name in the same directory, then renames: readers never see half a file.
  writeFileAtomic(path: string, bytes: Uint8Array): Promise<void>;
}

let fileSystem: FileSystem | null = null;

export function setFileSystem(fs: FileSystem): void {
  fileSystem = fs;
}

export function requireFileSystem(what: string): FileSystem {
  if (!fileSystem) {
    throw new EdgetuneError('NoFileSystem', `${what} needs a file system: in Node, Deno or Bun import 'edgetune' (or 'edgetune/node'); ` +
      'in browsers and edge functions use model.toBytes() and loadModel(bytes)');
  }
  return fileSystem;
}
