// Keras files -> an edgetune model.
// - `.keras` (Keras 3): a zip of config.json (the model's serialized config), metadata.json and
//   model.weights.h5, whose weights follow the object graph: layers/<snake_case class>[_k]/vars/<i>
//   (the k-th layer of that class in model order; vars in the layer's creation order).
// - legacy `.h5` (Keras 2 model.save): root attribute model_config (JSON), weights under
//   model_weights/<layer>/, listed in order by the group's weight_names attribute.
// HDF5 is read with h5wasm, loaded on first use so the core bundle stays small, in a worker that
// is stopped after `timeoutMs` (host/import/hdf5-read.ts: a corrupt file can hang h5wasm's C
// reader); the zip is inflated with the platform's DecompressionStream('deflate-raw') (no Node modules).
import { ModelFormatError } from '../core/errors';
import type { Model } from '../training/model';
import { DEFAULT_HDF5_TIMEOUT_MS, readHdf5 } from './hdf5-read';
import type { Hdf5Tree } from './hdf5-tree';
import { assignWeights, type FoundWeight, type ImportedLayer, modelFromKeras } from './keras-topology';

export interface KerasImportOptions {
  // How long the HDF5 reader may take before the file is refused (default 30 s).
  timeoutMs?: number;
  // Read HDF5 in the calling thread, without the time limit (a corrupt file can then hang the
  // caller). Where no worker can start, importKeras refuses HDF5 with an InvalidArgumentError
  // unless this is set.
  inThread?: boolean;
}

const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const isHdf5 = (b: Uint8Array) => [0, 512, 1024, 2048].some((o) => HDF5_MAGIC.every((v, i) => b[o + i] === v));
const isZip = (b: Uint8Array) => b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

export async function importKeras(bytes: Uint8Array, fileName: string, options: KerasImportOptions = {}): Promise<Model> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HDF5_TIMEOUT_MS;
  const read = (b: Uint8Array, where: string) => readHdf5(b, where, timeoutMs, options.inThread);
  if (isZip(bytes)) return importKerasZip(bytes, fileName, read);
  if (isHdf5(bytes)) return importLegacyH5(await read(bytes, fileName), fileName);
  throw new ModelFormatError(`${fileName}: neither a .keras zip nor an HDF5 (.h5) file`, fileName);
}

// Keras's naming.to_snake_case.
export function toSnakeCase(name: string): string {
  return name.replace(/\W+/g, '').replace(/(.)([A-Z][a-z]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

function readDataset(f: Hdf5Tree, path: string): FoundWeight | undefined {
  const d = f.datasets[path];
  return d && { name: path, shape: d.shape, values: d.values };
}

async function importKerasZip(bytes: Uint8Array, source: string, read: (b: Uint8Array, where: string) => Promise<Hdf5Tree>): Promise<Model> {
  const entries = await unzip(bytes, source);
  const config = entries.get('config.json');
  const weights = entries.get('model.weights.h5');
  if (!config) throw new ModelFormatError(`${source}: the .keras archive has no config.json (entries: ${[...entries.keys()].join(', ')})`, source);
  if (!weights) throw new ModelFormatError(`${source}: the .keras archive has no model.weights.h5`, source);
  let topology: unknown;
  try {
    topology = JSON.parse(new TextDecoder().decode(config));
  } catch (e) {
    throw new ModelFormatError(`${source}: config.json is not valid JSON: ${(e as Error).message}`, `${source}/config.json`);
  }
  const imported = modelFromKeras(topology, source);
  const where = `${source}/model.weights.h5`;
  const f = await read(weights, where);
  const paths = kerasPaths(imported.imported);
  assignWeights(imported, (layer, _weight, index) => readDataset(f, `${paths.get(layer)}/vars/${index}`), where);
  return imported.model;
}

// layers/<snake_case class>[_k] for each Keras layer, counted per class in model order.
function kerasPaths(list: ImportedLayer[]): Map<ImportedLayer, string> {
  const used = new Map<string, number>();
  const out = new Map<ImportedLayer, string>();
  for (const l of list) {
    const base = toSnakeCase(l.className);
    const k = used.get(base);
    used.set(base, k === undefined ? 0 : k + 1);
    out.set(l, `layers/${k === undefined ? base : `${base}_${k + 1}`}`);
  }
  return out;
}

function importLegacyH5(f: Hdf5Tree, source: string): Model {
  const text = f.attrs['']?.model_config;
  if (typeof text !== 'string') throw new ModelFormatError(`${source}: the HDF5 file has no model_config attribute (a weights-only file needs the model's topology)`, source);
  const imported = modelFromKeras(text, source);
  const root = f.groups.includes('model_weights') ? 'model_weights' : '';
  assignWeights(imported, (layer, weight, index) => {
    const group = `${root ? `${root}/` : ''}${layer.kerasName}`;
    if (!f.groups.includes(group)) return undefined;
    const listed = f.attrs[group]?.weight_names;
    const names = Array.isArray(listed) ? listed : typeof listed === 'string' ? [listed] : [];
    const bare = (n: string) => n.replace(/:\d+$/, '').split('/').pop();
    const hit = names.find((n) => bare(n) === weight) ?? (weight === 'depthwise_kernel' ? names.find((n) => bare(n) === 'kernel') : undefined) ?? names[index];
    if (hit) return readDataset(f, `${group}/${hit}`);
    return readDataset(f, `${group}/${layer.kerasName}/${weight}:0`) ?? readDataset(f, `${group}/${layer.kerasName}/${weight}`);
  }, source);
  return imported.model;
}

// ---------------------------------------------------------------------------------------------
// Zip reading (stored and deflated entries), from the central directory.

async function unzip(bytes: Uint8Array, source: string): Promise<Map<string, Uint8Array>> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new ModelFormatError(`${source}: truncated zip (no end of central directory)`, source);
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let k = 0; k < count; k++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) throw new ModelFormatError(`${source}: corrupt zip central directory (entry ${k})`, source);
    const method = view.getUint16(at + 10, true);
    const compressed = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) throw new ModelFormatError(`${source}: corrupt zip entry '${name}'`, source, name);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + compressed > bytes.length) throw new ModelFormatError(`${source}: zip entry '${name}' is truncated`, source, name);
    const data = bytes.subarray(start, start + compressed);
    let content: Uint8Array;
    if (method === 0) content = data;
    else if (method === 8) content = await inflateRaw(data, name, source);
    else throw new ModelFormatError(`${source}: zip entry '${name}' uses compression method ${method} (supported: stored, deflate)`, source, name);
    if (content.length !== size) throw new ModelFormatError(`${source}: zip entry '${name}' inflates to ${content.length} bytes, its header says ${size}`, source, name);
    out.set(name, content);
  }
  return out;
}

async function inflateRaw(data: Uint8Array, name: string, source: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new ModelFormatError(`${source}: zip entry '${name}' does not inflate: ${(e as Error).message}`, source, name);
  }
}
