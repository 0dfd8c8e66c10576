// TF.js weights manifests: groups of shard files holding weights back to back in manifest order
// (raw little-endian, row-major, no padding), optionally quantized (uint8/uint16 with min and scale,
// or float16). Shared by the layers-model and graph-model importers. Every error names the file and
// the tensor; nothing is returned unless every listed weight was read whole.
import { ModelFormatError } from '../core/errors';
import { float16BitsToFloat32 } from '../core/float16';

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

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

export async function readWeightsManifest(manifest: unknown, readFile: (relativePath: string) => Promise<Uint8Array>, fileName: string): Promise<Map<string, DecodedWeight>> {
  const out = new Map<string, DecodedWeight>();
  if (manifest === undefined || manifest === null) return out;
  if (!Array.isArray(manifest)) throw new ModelFormatError(`${fileName}: weightsManifest is not a list`, fileName);
  for (const [gi, group] of (manifest as ManifestGroup[]).entries()) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new ModelFormatError(`${fileName}: weightsManifest group ${gi} needs 'paths' and 'weights' lists`, fileName);
    }
    const shards: Uint8Array[] = [];
    for (const path of group.paths) {
      try {
        shards.push(await readFile(path));
      } catch (e) {
        throw new ModelFormatError(`${fileName}: weight shard '${path}' (group ${gi}, holding ${group.weights.map((w) => w.name).slice(0, 3).join(', ')}${group.weights.length > 3 ? ', ...' : ''}) cannot be read: ${(e as Error).message}`, path);
      }
    }
    const total = shards.reduce((n, s) => n + s.length, 0);
    const data = new Uint8Array(total);
    let at = 0;
    for (const s of shards) { data.set(s, at); at += s.length; }
    const where = group.paths.join(' + ');
    let offset = 0;
    for (const w of group.weights) {
      if (!w || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new ModelFormatError(`${fileName}: weightsManifest entry ${JSON.stringify(w)} needs a name and a shape of non-negative integers`, fileName);
      }
      const count = w.shape.reduce((a, b) => a * b, 1);
      const stored = w.quantization?.dtype ?? w.dtype;
      const size = BYTES[stored];
      if (size === undefined || !['float32', 'int32', 'bool'].includes(w.dtype)) {
        throw new ModelFormatError(`${fileName}: weight '${w.name}' has dtype '${w.dtype}'${w.quantization ? ` quantized as '${stored}'` : ''}, which is not supported (float32, int32, bool; quantized uint8, uint16, float16)`, fileName, w.name);
      }
      const bytes = count * size;
      if (offset + bytes > total) {
        throw new ModelFormatError(`${where}: shards are ${total} bytes, shorter than the manifest of ${fileName}: weight '${w.name}' [${w.shape}] needs bytes ${offset}..${offset + bytes}`, group.paths[group.paths.length - 1], w.name);
      }
      const view = new DataView(data.buffer, offset, bytes);
      let values: Float32Array | Int32Array;
      if (w.dtype === 'int32' && !w.quantization) {
        values = new Int32Array(count);
        for (let i = 0; i < count; i++) values[i] = view.getInt32(4 * i, true);
      } else {
        const f = new Float32Array(count);
        const q = w.quantization;
        if (!q) {
          if (w.dtype === 'bool') for (let i = 0; i < count; i++) f[i] = view.getUint8(i) ? 1 : 0;
          else for (let i = 0; i < count; i++) f[i] = view.getFloat32(4 * i, true);
        } else if (stored === 'float16') {
          for (let i = 0; i < count; i++) f[i] = float16BitsToFloat32(view.getUint16(2 * i, true));
        } else if (stored === 'uint8' || stored === 'uint16') {
          const { min, scale } = q;
          if (typeof min !== 'number' || typeof scale !== 'number') throw new ModelFormatError(`${fileName}: weight '${w.name}' is ${stored}-quantized without numeric min and scale`, fileName, w.name);
          for (let i = 0; i < count; i++) f[i] = (stored === 'uint8' ? view.getUint8(i) : view.getUint16(2 * i, true)) * scale + min;
        } else {
          throw new ModelFormatError(`${fileName}: weight '${w.name}' uses quantization dtype '${stored}' (supported: uint8, uint16, float16)`, fileName, w.name);
        }
        values = w.dtype === 'int32' ? Int32Array.from(f, Math.round) : f;
      }
      if (out.has(w.name)) throw new ModelFormatError(`${fileName}: weight '${w.name}' is listed twice in the manifest`, fileName, w.name);
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
