// One entry for every importer: the format is chosen by the file name (and, for .json, by its
// "format" field), every importer returns an ordinary edgetune model.
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import type { Model, Prediction } from '../training/model';
import { modelFromBytes } from '../formats/serialize';
import { importKeras } from './keras';
import { importOnnx, type OnnxImportOptions } from './onnx';
import { importTfjsGraphModel } from './tfjs-graph';
import { importTfjsLayersModel } from './tfjs-layers';
import type { ShardReader } from './tfjs-weights';

export type ModelFileFormat = 'onnx' | 'safetensors' | 'tfjs-layers' | 'tfjs-graph' | 'keras';

export interface ImportProgress {
  (phase: string, done: number, total: number): void;
}

function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '' : path.slice(0, i + 1);
}

export function formatOf(path: string): ModelFileFormat | 'json' {
  const lower = path.toLowerCase();
  if (lower.endsWith('.onnx')) return 'onnx';
  if (lower.endsWith('.safetensors')) return 'safetensors';
  if (lower.endsWith('.keras') || lower.endsWith('.h5') || lower.endsWith('.hdf5')) return 'keras';
  if (lower.endsWith('.json')) return 'json';
  throw new ModelFormatError(`${path}: unknown model file type (expected .onnx, .safetensors, model.json (TF.js layers or graph model), .keras or .h5)`, path);
}

export interface ModelFileAccess {
  readFile(path: string): Promise<Uint8Array>;
  // Reads the shards of a TF.js model in `dir` (Node: shardReader, which keeps them inside `dir`);
  // without it, shards are read with readFile(dir + path).
  shardReader?(dir: string): ShardReader;
}

// Reads and imports the model at `path` (shards are read relative to a model.json). Nothing is written.
// `options` (graph cuts, input shapes) are the ONNX and TF.js graph importers' options.
export async function importModelFile(path: string, files: ModelFileAccess, progress?: ImportProgress, options?: OnnxImportOptions): Promise<{ model: Model<Prediction>; format: ModelFileFormat }> {
  const kind = formatOf(path);
  const cut = options && Object.keys(options).length > 0;
  if (cut && kind !== 'onnx' && kind !== 'json') throw new InvalidArgumentError(`${path}: --inputs, --outputs and --input-shape apply to ONNX and TF.js graph models only`);
  progress?.('reading', 0, 1);
  const bytes = await files.readFile(path);
  progress?.('reading', 1, 1);
  switch (kind) {
    case 'onnx': return { model: importOnnx(bytes, path, options), format: 'onnx' };
    case 'safetensors': return { model: modelFromBytes(bytes, path), format: 'safetensors' };
    case 'keras': return { model: await importKeras(bytes, path), format: 'keras' };
    default: {
      let json: { format?: string; modelTopology?: { node?: unknown } };
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch (e) {
        throw new ModelFormatError(`${path}: not valid JSON (${(e as Error).message})`, path);
      }
      const dir = dirOf(path);
      const read: ShardReader = files.shardReader?.(dir) ?? ((rel) => files.readFile(dir + rel));
      let shardsRead = 0;
      const readShard: ShardReader = async (rel, maxBytes) => {
        const b = await read(rel, maxBytes);
        progress?.('reading weights', ++shardsRead, 0);
        return b;
      };
      const graph = json.format === 'graph-model' || (json.format === undefined && Array.isArray(json.modelTopology?.node));
      if (graph) return { model: await importTfjsGraphModel(json, readShard, path, options), format: 'tfjs-graph' };
      if (cut) throw new InvalidArgumentError(`${path}: --inputs, --outputs and --input-shape apply to ONNX and TF.js graph models only`);
      if (json.format === 'layers-model' || json.modelTopology) return { model: await importTfjsLayersModel(json, readShard, path), format: 'tfjs-layers' };
      throw new ModelFormatError(`${path}: a JSON file that is neither a TF.js layers model nor a graph model (no "format" or "modelTopology")`, path);
    }
  }
}
