// TF.js weights manifests: groups of shard files holding weights back to back in manifest order
// (raw little-endian, row-major, no padding), optionally quantized (uint8/uint16 with min and scale,
// or float16). Shared by the layers-model and graph-model importers. Every error names the file and
// the tensor; nothing is returned unless every listed weight was read whole.
//
// A manifest is untrusted data: every shard path must be a plain relative name (checked here, so
// URL and browser readers get the check too), the bytes each group needs are known from the
// manifest before any shard is read, a reader is asked for at most that many bytes (+1, to see extra
// bytes) and the shards must hold exactly that many.
import { ModelFormatError } from '../core/errors';
import { float16BitsToFloat32 } from '../core/float16';
import { ownEntry } from '../core/lookup';

export interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number; original_dtype?: string };
}

export interface ManifestGroup {
  paths: string[];
  weights: ManifestWeight[];
}

export interface DecodedWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array | Int32Array;
}

// Reads a shard named in the manifest (relative to the model.json). `maxBytes` is all the manifest
// can still use: a reader should stop there; more bytes returned are refused anyway.
export type ShardReader = (relativePath: string, maxBytes: number) => Promise<Uint8Array>;

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };
// Every weight becomes float32 in one wasm32 memory, which holds at most 4 GiB.
const MAX_FLOAT32_BYTES = 2 ** 32;

// Why `path` is not a plain relative file name inside the model's folder, or null when it is one:
// no absolute path, drive letter, URL scheme, backslash, NUL or control character, and no empty,
// '.' or '..' segment (also percent-encoded, which URL resolution would decode).
export function shardPathProblem(path: unknown): string | null {
  if (typeof path !== 'string' || path.length === 0) return 'not a non-empty string';
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'it contains a NUL or control character';
  if (path.includes('\\')) return "it contains '\\'";
  if (path.includes(':')) return "it contains ':' (a drive letter, URL scheme or stream name)";
  if (path.startsWith('/')) return 'it is absolute';
  const segments = path.split('/');
  if (segments.some((s) => s === '')) return 'it has an empty segment';
  if (segments.some((s) => { const d = s.replace(/%2e/gi, '.'); return d === '.' || d === '..'; })) return "it has a '.' or '..' segment";
  return null;
}

// The path as written, short and printable, for messages.
const quoted = (path: unknown): string => {
  const s = JSON.stringify(path) ?? String(path);
  return s.length > 120 ? `${s.slice(0, 117)}..."` : s;
};

interface PlannedGroup {
  paths: string[];
  weights: { w: ManifestWeight; stored: string; count: number; bytes: number }[];
  total: number; // bytes the shards must hold, together
}

// Checks the whole manifest as data and computes each group's byte total, before any shard is read.
function planManifest(manifest: unknown, fileName: string): PlannedGroup[] {
  if (!Array.isArray(manifest)) throw new ModelFormatError(`${fileName}: weightsManifest is not a list`, fileName);
  const names = new Set<string>();
  let float32Bytes = 0;
  return (manifest as ManifestGroup[]).map((group, gi) => {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new ModelFormatError(`${fileName}: weightsManifest group ${gi} needs 'paths' and 'weights' lists`, fileName);
    }
    group.paths.forEach((path, pi) => {
      const problem = shardPathProblem(path);
      if (problem) {
        throw new ModelFormatError(`${fileName}: weightsManifest group ${gi} path ${pi} ${quoted(path)} is refused: ${problem}; ` +
          "shards must be plain relative file names inside the model's folder", fileName);
      }
    });
    let total = 0;
    const weights = group.weights.map((w) => {
      if (!w || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new ModelFormatError(`${fileName}: weightsManifest entry ${JSON.stringify(w)?.slice(0, 200)} needs a name and a shape of non-negative integers`, fileName);
      }
      const stored = w.quantization?.dtype ?? w.dtype;
      const size = ownEntry(BYTES, stored);
      if (size === undefined || !['float32', 'int32', 'bool'].includes(w.dtype)) {
        throw new ModelFormatError(`${fileName}: weight '${w.name}' has dtype '${w.dtype}'${w.quantization ? ` quantized as '${stored}'` : ''}, which is not supported (float32, int32, bool; quantized uint8, uint16, float16)`, fileName, w.name);
      }
      const q = w.quantization;
      if (q && !['float16', 'uint8', 'uint16'].includes(stored)) {
        throw new ModelFormatError(`${fileName}: weight '${w.name}' uses quantization dtype '${stored}' (supported: uint8, uint16, float16)`, fileName, w.name);
      }
      if (q && stored !== 'float16' && (typeof q.min !== 'number' || typeof q.scale !== 'number')) {
        throw new ModelFormatError(`${fileName}: weight '${w.name}' is ${stored}-quantized without numeric min and scale`, fileName, w.name);
      }
      if (names.has(w.name)) throw new ModelFormatError(`${fileName}: weight '${w.name}' is listed twice in the manifest`, fileName, w.name);
      names.add(w.name);
      const count = w.shape.reduce((a, b) => a * b, 1);
      float32Bytes += 4 * count;
      if (float32Bytes > MAX_FLOAT32_BYTES) {
        throw new ModelFormatError(`${fileName}: weightsManifest group ${gi}: weight '${w.name}' [${w.shape}] brings the weights past 4 GiB of float32, more than a wasm memory holds`, fileName, w.name);
      }
      const bytes = count * size;
      total += bytes;
      return { w, stored, count, bytes };
    });
    return { paths: group.paths, weights, total };
  });
}

// A group's shards, concatenated: exactly `g.total` bytes or an error naming the shard or weight.
async function readGroup(g: PlannedGroup, gi: number, readFile: ShardReader, fileName: string): Promise<Uint8Array> {
  const shards: Uint8Array[] = [];
  let got = 0;
  for (const path of g.paths) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path, g.total - got + 1);
    } catch (e) {
      const names = g.weights.map((p) => p.w.name);
      throw new ModelFormatError(`${fileName}: weight shard '${path}' (group ${gi}, holding ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}) cannot be read: ${(e as Error).message}`, path);
    }
    if (got + bytes.length > g.total) {
      throw new ModelFormatError(`${fileName}: weightsManifest group ${gi}: shard '${path}' holds bytes past the ${g.total} the manifest's weights take; ` +
        'the shards must hold exactly the listed weights (a wrong shape shifts every later weight)', path);
    }
    shards.push(bytes);
    got += bytes.length;
  }
  if (got < g.total) {
    let offset = 0;
    const short = g.weights.find((p) => (offset += p.bytes) > got)!;
    throw new ModelFormatError(`${g.paths.join(' + ')}: shards are ${got} bytes, shorter than the manifest of ${fileName}: weight '${short.w.name}' [${short.w.shape}] needs bytes ${offset - short.bytes}..${offset}`,
      g.paths[g.paths.length - 1], short.w.name);
  }
  if (shards.length === 1) return shards[0];
  const data = new Uint8Array(g.total);
  let at = 0;
  for (const s of shards) { data.set(s, at); at += s.length; }
  return data;
}

// The shards are little-endian, as typed arrays are on every engine in use: their float32 and
// int32 weights are copied byte for byte (a cold start decoded the emotion model's 205k floats one
// DataView read at a time in interpreted JavaScript).
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export async function readWeightsManifest(manifest: unknown, readFile: ShardReader, fileName: string): Promise<Map<string, DecodedWeight>> {
  const out = new Map<string, DecodedWeight>();
  if (manifest === undefined || manifest === null) return out;
  const groups = planManifest(manifest, fileName);
  for (const [gi, g] of groups.entries()) {
    const data = await readGroup(g, gi, readFile, fileName);
    let offset = 0;
    for (const { w, stored, count, bytes } of g.weights) {
      const view = new DataView(data.buffer, data.byteOffset + offset, bytes);
      let values: Float32Array | Int32Array;
      if (w.dtype === 'int32' && !w.quantization) {
        values = new Int32Array(count);
        if (LITTLE_ENDIAN) new Uint8Array(values.buffer).set(data.subarray(offset, offset + bytes));
        else for (let i = 0; i < count; i++) values[i] = view.getInt32(4 * i, true);
      } else {
        const f = new Float32Array(count);
        const q = w.quantization;
        if (!q) {
          if (w.dtype === 'bool') for (let i = 0; i < count; i++) f[i] = view.getUint8(i) ? 1 : 0;
          else if (LITTLE_ENDIAN) new Uint8Array(f.buffer).set(data.subarray(offset, offset + bytes));
          else for (let i = 0; i < count; i++) f[i] = view.getFloat32(4 * i, true);
        } else if (stored === 'float16') {
          for (let i = 0; i < count; i++) f[i] = float16BitsToFloat32(view.getUint16(2 * i, true));
        } else { // uint8 or uint16, with min and scale (checked by planManifest)
          const min = q.min!, scale = q.scale!;
          for (let i = 0; i < count; i++) f[i] = (stored === 'uint8' ? view.getUint8(i) : view.getUint16(2 * i, true)) * scale + min;
        }
        values = w.dtype === 'int32' ? Int32Array.from(f, Math.round) : f;
      }
      out.set(w.name, { name: w.name, shape: [...w.shape], dtype: w.dtype === 'int32' ? 'int32' : 'float32', values });
      offset += bytes;
    }
  }
  return out;
}

// Copies `w` into the layer weight of the expected shape; a different shape is an error naming both.
export function checkShape(w: DecodedWeight, expected: readonly number[], target: string, fileName: string): Float32Array {
  const same = w.shape.length === expected.length && w.shape.every((d, i) => d === expected[i]);
  if (!same) throw new ModelFormatError(`${fileName}: weight '${w.name}' has shape [${w.shape}], but ${target} expects [${expected}]`, fileName, w.name);
  return w.values instanceof Float32Array ? w.values : Float32Array.from(w.values);
}
