// Models as safetensors: weights as F32 (or F16) tensors named '<layer>/<weight>', the Keras-style
// topology (Sequential or Functional, snake_case configs), the training config and, for a
// checkpoint, the optimizer's state as JSON strings in __metadata__ and its slots as tensors
// 'optimizer/<slot>/<layer>/<weight>'. serialize.ts loads them back. This file works on what a
// model exposes (SavableModel), so the Model class can save itself without an import cycle.
import { checkOptions, optionNames } from '../core/options';
import type { Graph } from '../compile/graph';
import type { Layer } from '../layers/layer';
import type { LayerJson } from '../layers/keras-json';
import type { OptimizerSnapshot } from '../training/optimizer-state';
import { type TensorToWrite, writeSafetensors } from './safetensors';

// What saving reads of a model (the Model class has all of it).
export interface SavableModel {
  readonly name: string;
  readonly layers: Layer[];
  readonly graph: Graph;
  readonly isSequential: boolean;
  readonly inputShape: number[];
  readonly compileConfig: Readonly<{ optimizer: unknown; loss: unknown; lossWeights?: number[]; metrics: unknown; batchSize: number }> | null;
  optimizerSnapshot(): OptimizerSnapshot;
}

export const MODEL_FORMAT = 'edgetune-model';
export const MODEL_FORMAT_VERSION = '1';

// A layer's Keras JSON is its record's (host/layers/<kind>.ts); edgetune's files carry the full
// config (initializers, regularizers, constraints).
function layerToJson(l: Layer): LayerJson {
  return l.def.toKeras(l);
}

export function topologyOf(model: SavableModel): unknown {
  const g = model.graph;
  if (model.isSequential) {
    return {
      class_name: 'Sequential',
      config: {
        name: model.name,
        layers: model.layers.map((l, i) => {
          const j = layerToJson(l);
          if (i === 0) j.config.batch_input_shape = [null, ...model.inputShape];
          return j;
        }),
      },
    };
  }
  // Functional: an InputLayer per input, each layer with its calls (a shared layer has several),
  // Keras 2 inbound_nodes; the inputs and outputs in the model's order.
  const inputNames = g.inputs.length === 1 ? ['input_layer'] : g.inputs.map((id) => g.nodes[id].name);
  const callIndex = new Map<number, [string, number]>(); // node id -> [layer name, call index]
  const calls = new Map<string, number>();
  const layerJson = new Map<string, LayerJson>();
  for (const n of g.nodes) {
    if (!n.layer) { callIndex.set(n.id, [inputNames[g.inputs.indexOf(n.id)], 0]); continue; }
    const k = calls.get(n.layer.name) ?? 0;
    calls.set(n.layer.name, k + 1);
    callIndex.set(n.id, [n.layer.name, k]);
    let j = layerJson.get(n.layer.name);
    if (!j) { j = { ...layerToJson(n.layer), name: n.layer.name, inbound_nodes: [] }; layerJson.set(n.layer.name, j); }
    j.inbound_nodes!.push(n.inputs.map((i) => [...callIndex.get(i)!, 0, {}] as [string, number, number, Record<string, never>]));
  }
  return {
    class_name: 'Functional',
    config: {
      name: model.name,
      layers: [
        ...inputNames.map((name, i) => ({
          class_name: 'InputLayer', name, config: { name, batch_input_shape: [null, ...g.nodes[g.inputs[i]].shape] }, inbound_nodes: [],
        })),
        ...layerJson.values(),
      ],
      input_layers: inputNames.map((name) => [name, 0, 0]),
      output_layers: g.outputs.map((id) => [...callIndex.get(id)!, 0]),
    },
  };
}

// What a checkpoint keeps of the optimizer besides its slots (tensors 'optimizer/<slot>/<layer>/
// <weight>'): the iteration count (which is also the schedule's position), the learning-rate
// variable, the momentum in effect and Nadam's running product. With these, loading and continuing
// gives the same weights, bit for bit, as never having stopped.
export interface OptimizerStateJson {
  iterations: number;
  base_learning_rate: number;
  momentum: number;
  nadam_u_product: number;
}

// dtype F16 stores every weight as IEEE half (about half the size; loading widens to f32).
export interface SaveOptions {
  includeOptimizer?: boolean;
  dtype?: 'F32' | 'F16';
}
const SAVE_OPTIONS = optionNames<SaveOptions>()(['includeOptimizer', 'dtype']);

export function modelToBytes(model: SavableModel, options: SaveOptions = {}, where = 'toBytes'): Uint8Array {
  checkOptions(where, options, SAVE_OPTIONS);
  const metadata: Record<string, string> = {
    format: MODEL_FORMAT,
    format_version: MODEL_FORMAT_VERSION,
    topology: JSON.stringify(topologyOf(model)),
  };
  const cfg = model.compileConfig;
  if (cfg) {
    metadata.training_config = JSON.stringify({
      optimizer: cfg.optimizer, loss: cfg.loss, ...(cfg.lossWeights ? { loss_weights: cfg.lossWeights } : {}), metrics: cfg.metrics, batch_size: cfg.batchSize,
    });
  }
  const tensors: TensorToWrite[] = model.layers.flatMap((l) => l.weightSpecs.map((s, i) => ({
    name: `${l.name}/${s.name}`, dtype: options.dtype ?? 'F32', shape: s.shape, data: l.values[i],
  })));
  // An int8 kernel (Keras 3): I8 '<layer>/<kernel>' and F32 '<layer>/<kernel>_scale', one per output channel.
  for (const l of model.layers) {
    if (!l.int8) continue;
    const name = `${l.name}/${l.weightSpecs[0].name}`;
    const at = tensors.findIndex((t) => t.name === name);
    tensors[at] = { name, dtype: 'I8', shape: l.weightSpecs[0].shape, data: new Uint8Array(l.int8.q.buffer, l.int8.q.byteOffset, l.int8.q.length) };
    tensors.push({ name: `${name}_scale`, dtype: 'F32', shape: [l.int8.scale.length], data: l.int8.scale });
  }
  // The int8 layers whose inputs Keras's absmax quantizer quantizes (docs/formats.md), by name.
  const absmax = model.layers.filter((l) => l.int8?.activationQuantizer === 'absmax').map((l) => l.name);
  if (absmax.length) metadata.int8_activation_quantizer = JSON.stringify(Object.fromEntries(absmax.map((n) => [n, 'absmax'])));
  if (options.includeOptimizer && cfg) {
    const snap = model.optimizerSnapshot();
    const state: OptimizerStateJson = {
      iterations: snap.iterations,
      base_learning_rate: snap.baseLearningRate,
      momentum: snap.momentum,
      nadam_u_product: snap.nadamUProduct,
    };
    metadata.optimizer_state = JSON.stringify(state);
    const shapes = new Map<string, number[]>(model.layers.flatMap((l) => l.weightSpecs.map((s) => [`${l.name}/${s.name}`, [...s.shape]] as [string, number[]])));
    for (const [key, data] of snap.slots) {
      const weight = key.slice(key.indexOf('/') + 1);
      tensors.push({ name: `optimizer/${key}`, dtype: 'F32', shape: shapes.get(weight)!, data });
    }
  }
  return writeSafetensors(tensors, metadata);
}
