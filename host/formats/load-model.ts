// loadModel: an edgetune model (model.save / toBytes), or a model another library wrote, chosen by
// its bytes: ONNX (bytes or a path) and TF.js layers or graph models (a model.json path, whose
// weight shards are read next to it) go to their importers with the options that apply to them.
// Keras files (edgetune/import/keras, which brings h5wasm) and anything else are refused with the
// importer to use (serialize.ts otherModelFormat). The importers are loaded only when such a file
// is read, so a bundle that only loads edgetune models does not carry them.
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import { requireFileSystem } from '../core/io';
import { checkOptions, optionNames } from '../core/options';
import type { ShardReader } from '../import/tfjs-weights';
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
    model = (await import('../import/onnx')).importOnnx(bytes, name, onnxOptions);
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
      ? await (await import('../import/tfjs-graph')).importTfjsGraphModel(json, readShard, path, graphOptions) as Model
      : await (await import('../import/tfjs-layers')).importTfjsLayersModel(json, readShard, path);
  } else model = modelFromBytes(bytes, name);
  if (options.trainable !== undefined) for (const l of model.layers) l.trainable = options.trainable;
  return model;
}
