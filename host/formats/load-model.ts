// loadModel: an edgetune model (model.save / toBytes), or a model another library wrote, chosen by
// its bytes: ONNX (bytes or a path) and TF.js layers or graph models (a model.json path, whose
// weight shards are read next to it) go to their importers with the options that apply to them.
// Keras files (edgetune/import/keras, which brings h5wasm) and anything else are refused with the
// importer to use (serialize.ts otherModelFormat). The core entry carries no importer: loadModel
// uses those that 'edgetune/import' or 'edgetune/import/tfjs' (both re-exported by the Node entry)
// registered when they were loaded, so a bundle that only loads edgetune models does not carry
// them. (Not an import() here: a bundler without code splitting, esbuild's default, then wraps
// every module the importers reach and can drop none of them, unused layer kinds included.)
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import { requireFileSystem } from '../core/io';
import { checkOptions, optionNames } from '../core/options';
import type { ShardReader } from '../import/tfjs-weights';
import type { importOnnx } from '../import/onnx';
import type { importTfjsGraphModel } from '../import/tfjs-graph';
import type { importTfjsLayersModel } from '../import/tfjs-layers';
import type { Model } from '../training/model';
import { modelFromBytes, otherModelFormat } from './serialize';

export interface LoadModelOptions {
  // ONNX and TF.js graph models: tensors (graph nodes) to start the graph at instead of its inputs.
  inputs?: string[];
  // ONNX and TF.js graph models: tensors (graph nodes) to return, in this order: the graph is cut there.
  outputs?: string[];
  // ONNX and TF.js graph models: the per-sample shape (no batch; ONNX order for ONNX) of an input
  // whose size the file leaves open: one shape for a single input, or { inputName: shape }.
  inputShape?: number[] | Record<string, number[]>;
  // ONNX only: 'nchw' (the default) returns image outputs in the file's layout as onnxruntime does;
  // 'nhwc' keeps them NHWC, without the final permute (docs/importers.md).
  outputLayout?: 'nchw' | 'nhwc';
  // Any format: every layer's trainable flag after loading (false: a frozen base to put a head on).
  trainable?: boolean;
}
const OPTIONS = optionNames<LoadModelOptions>()(['inputs', 'outputs', 'inputShape', 'outputLayout', 'trainable']);
const GRAPH_OPTIONS = ['inputs', 'outputs', 'inputShape'] as const;

// The importers loadModel hands other formats to, as the importer entries registered them.
export interface ModelImporters {
  importOnnx?: typeof importOnnx;
  importTfjsGraphModel?: typeof importTfjsGraphModel;
  importTfjsLayersModel?: typeof importTfjsLayersModel;
}
const importers: ModelImporters = {};

/** @internal called by the importer entries (host/import/public.ts, host/import/tfjs.ts) when loaded */
export function registerImporters(more: ModelImporters): void {
  Object.assign(importers, more);
}

function importer<K extends keyof ModelImporters>(key: K, name: string, what: string, entry: string): NonNullable<ModelImporters[K]> {
  const f = importers[key];
  if (!f) throw new ModelFormatError(`${name}: this is ${what}; loadModel reads it once the importers are loaded: import '${entry}' first (the core entry carries none), or call its ${key} directly`, name);
  return f;
}

// A safetensors file: an 8-byte little-endian header length, then that much JSON ('{').
function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 9) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n > 0n && n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b;
}

function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '' : path.slice(0, i + 1);
}

export async function loadModel(source: Uint8Array | ArrayBuffer | string, options: LoadModelOptions = {}): Promise<Model> {
  checkOptions('loadModel', options, OPTIONS);
  if (options.trainable !== undefined && typeof options.trainable !== 'boolean') throw new InvalidArgumentError(`loadModel: trainable must be true or false, got ${String(options.trainable)}`);
  const path = typeof source === 'string' ? source : null;
  const name = path ?? '<bytes>';
  const bytes = typeof source === 'string' ? await requireFileSystem('loadModel(path)').readFile(source) : source instanceof Uint8Array ? source : new Uint8Array(source);
  const other = isSafetensors(bytes) ? null : otherModelFormat(bytes);
  const format = other?.format ?? 'edgetune';
  const graphOptions = Object.fromEntries(GRAPH_OPTIONS.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
  const given = Object.keys(graphOptions);
  if (given.length && format !== 'onnx' && format !== 'tfjs-graph') {
    throw new InvalidArgumentError(`loadModel: ${name} is ${other?.what ?? 'an edgetune (safetensors) model'}; option${given.length > 1 ? 's' : ''} ${given.map((k) => `'${k}'`).join(', ')} appl${given.length > 1 ? 'y' : 'ies'} to ONNX and TF.js graph models only`);
  }
  if (options.outputLayout !== undefined && format !== 'onnx') {
    throw new InvalidArgumentError(`loadModel: ${name} is ${other?.what ?? 'an edgetune (safetensors) model'}; option 'outputLayout' applies to ONNX models only`);
  }
  let model: Model;
  if (format === 'onnx') {
    const onnxOptions = options.outputLayout === undefined ? graphOptions : { ...graphOptions, outputLayout: options.outputLayout };
    model = importer('importOnnx', name, other!.what, 'edgetune/import')(bytes, name, onnxOptions);
  }
  else if (format === 'tfjs-graph' || format === 'tfjs-layers') {
    if (path === null) {
      throw new ModelFormatError(`${name}: this is ${other!.what}; loadModel reads one from its path (its weight shards are files next to it), or import it with ${other!.importer}`, name);
    }
    const json: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const fs = requireFileSystem('loadModel(path)');
    const dir = dirOf(path);
    const readShard: ShardReader = fs.shardReader?.(dir) ?? ((rel) => fs.readFile(dir + rel));
    model = format === 'tfjs-graph'
      ? await importer('importTfjsGraphModel', name, other!.what, 'edgetune/import/tfjs')(json, readShard, path, graphOptions) as Model
      : await importer('importTfjsLayersModel', name, other!.what, 'edgetune/import/tfjs')(json, readShard, path);
  } else model = modelFromBytes(bytes, name);
  if (options.trainable !== undefined) for (const l of model.layers) l.trainable = options.trainable;
  return model;
}
