// File access is plugged in by the Node entry (edgetune/node); the core never imports a
// platform module, so it bundles unchanged for browsers and edge functions.
import { EdgetuneError, FileAccessError } from './errors';

export interface FileSystem {
  readFile(path: string): Promise<Uint8Array>;
  // Writes to a temporary name in the same directory, then renames: readers never see half a file.
  writeFileAtomic(path: string, bytes: Uint8Array): Promise<void>;
  // Reads the weight shards of a TF.js model.json in `dir`, kept inside it (Node: node-fs.ts
  // shardReader); without it loadModel reads them with readFile(dir + name).
  shardReader?(dir: string): (relativePath: string, maxBytes: number) => Promise<Uint8Array>;
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

const REASONS: Record<string, string> = {
  ENOENT: 'no such file', EISDIR: 'is a directory, not a file', ENOTDIR: 'a parent of this path is not a directory',
  EACCES: 'permission denied', EPERM: 'operation not permitted', EMFILE: 'too many open files', ENOSPC: 'no space left on the device',
};

// A platform I/O error as a FileAccessError naming the path (Node's code -> words; others keep their message).
export function fileAccessError(path: string, action: 'read' | 'write', e: unknown): FileAccessError {
  const code = (e as { code?: unknown })?.code;
  const reason = typeof code === 'string' && Object.hasOwn(REASONS, code) ? `${REASONS[code]} (${code})` : (e as Error)?.message ?? String(e);
  return new FileAccessError(path, `cannot ${action}: ${reason}`, e);
}
