// An HDF5 file read whole into plain data: every group's path, the attributes the Keras importer
// asks for, and every dataset's shape and values as float32. It runs where h5wasm runs (a worker,
// host/import/hdf5-worker.ts, or in-thread, host/import/hdf5-read.ts) and is bounded by the file:
// at most MAX_OBJECTS objects, MAX_DEPTH levels (hard links can make a group its own descendant),
// and no dataset read whose shape claims more bytes than the file holds (Keras writes weights
// uncompressed; a dataset of fill values with a huge shape would otherwise be allocated).
// Every failure of h5wasm becomes a ModelFormatError naming the file and the object.
import { ModelFormatError } from '../core/errors';

export type H5Module = typeof import('h5wasm');
type H5Lib = H5Module['default'];
type H5FS = { writeFile(p: string, b: Uint8Array): void; unlink(p: string): void };

export interface Hdf5Tree {
  groups: string[]; // paths without the leading '/'; the root is ''
  attrs: Record<string, Record<string, string | string[]>>; // path -> wanted attribute -> value
  datasets: Record<string, { shape: number[]; values: Float32Array }>;
}

export const MAX_OBJECTS = 4096;
export const MAX_DEPTH = 16;
// The attributes the Keras importer reads (host/import/keras.ts).
const WANTED_ATTRS = ['model_config', 'weight_names'];

// Set once h5wasm has trapped (a wasm RuntimeError): its memory may be corrupt from then on, so
// the worker that saw it is replaced (host/import/hdf5-worker.ts).
export let h5Trapped = false;

let h5: Promise<{ lib: H5Lib; FS: H5FS }> | null = null;
export function loadH5() {
  h5 ??= import('h5wasm').then(async (m) => {
    const lib = (m as { default?: H5Lib }).default ?? (m as unknown as H5Lib);
    const module = await lib.ready;
    return { lib, FS: module.FS as unknown as H5FS };
  });
  return h5;
}

function attrText(v: unknown): string | string[] | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (Array.isArray(v)) return v.map(String);
  return undefined;
}

function float32Of(value: unknown, name: string, source: string): Float32Array {
  if (value instanceof Float32Array) return value;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Float32Array.from(value as unknown as ArrayLike<number>, Number);
  throw new ModelFormatError(`${source}: dataset '${name}' does not hold numbers`, source, name);
}

type Entity = { type?: string; keys?: () => string[]; attrs?: Record<string, { value?: unknown }>; metadata?: { shape?: number[] | null; size?: number }; value?: unknown };

function walk(root: Entity & { get(p: string): unknown }, fileBytes: number, source: string): Hdf5Tree {
  const tree: Hdf5Tree = { groups: [], attrs: {}, datasets: {} };
  let objects = 0;
  const visit = (path: string, e: Entity, depth: number) => {
    if (++objects > MAX_OBJECTS) throw new ModelFormatError(`${source}: more than ${MAX_OBJECTS} HDF5 objects (a Keras file has one group per layer)`, source, path);
    if (depth > MAX_DEPTH) throw new ModelFormatError(`${source}: HDF5 groups nested deeper than ${MAX_DEPTH} at '${path}' (a link cycle?)`, source, path);
    const attrs = e.attrs ?? {};
    for (const name of WANTED_ATTRS) {
      if (!(name in attrs)) continue;
      const text = attrText(attrs[name].value);
      if (text !== undefined) (tree.attrs[path] ??= {})[name] = text;
    }
    if (e.type === 'Dataset') {
      const shape = [...(e.metadata?.shape ?? [])];
      const bytes = shape.reduce((a, b) => a * b, 1) * (e.metadata?.size ?? 1);
      if (!(bytes <= fileBytes)) throw new ModelFormatError(`${source}: dataset '${path}' of shape [${shape}] claims ${bytes} bytes, more than the file's ${fileBytes}`, source, path);
      tree.datasets[path] = { shape, values: float32Of(e.value, path, source) };
      return;
    }
    if (e.type !== 'Group') return; // links and named datatypes hold no weights
    tree.groups.push(path);
    for (const name of e.keys!()) {
      const child = path ? `${path}/${name}` : name;
      const c = root.get(child) as Entity | null;
      if (c) visit(child, c, depth + 1);
    }
  };
  visit('', root, 0);
  return tree;
}

// Reads `bytes` through h5wasm's in-memory file system. Errors are ModelFormatErrors.
export async function readHdf5Tree(bytes: Uint8Array, source: string): Promise<Hdf5Tree> {
  const { lib, FS } = await loadH5();
  const path = `/edgetune-import-${Math.random().toString(36).slice(2)}.h5`;
  FS.writeFile(path, bytes);
  let file: InstanceType<H5Lib['File']> | undefined;
  try {
    file = new lib.File(path, 'r');
    return walk(file as unknown as Entity & { get(p: string): unknown }, bytes.length, source);
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    if (e instanceof WebAssembly.RuntimeError) h5Trapped = true;
    throw new ModelFormatError(`${source}: not a readable HDF5 file: ${(e as Error)?.message ?? e}`, source);
  } finally {
    try { file?.close(); } catch { /* a file h5wasm could not open has nothing to close */ }
    FS.unlink(path);
  }
}
