// Keras topologies (the JSON of model.to_json(), TF.js model.json's modelTopology, a .keras
// config.json, a legacy .h5 model_config) -> edgetune layers and a model. Sequential and
// Functional; Keras 2 inbound_nodes ([[name, node, tensor, kwargs]]) and Keras 3 ones
// ({args: [keras tensors], kwargs}). Weights are not read here: `assignWeights` takes a lookup
// that each format implements (by '<layer>/<weight>' name, Keras 3 index, or h5 path).
import { ModelFormatError } from '../core/errors';
import { type Layer, input as symbolicInput, type SymbolicTensor } from '../layers/layer';
import { layers } from '../layers/index';
import { flag } from '../layers/config';
import { depthwiseOptionsFromKeras } from '../layers/depthwise-conv2d';
import { LAYER_DEFS, layerFromKerasJson } from '../layers/index';
import { activationOf, channelsLast, type LayerJson as KerasLayerJson } from '../layers/keras-json';
import { Model } from '../training/model';
import { UnsupportedOpError } from './errors';

export type { LayerJson as KerasLayerJson } from '../layers/keras-json';

// One Keras layer as edgetune layers: usually one; SeparableConv2D is a depthwise then a
// pointwise convolution. `weights` lists the Keras weights in Keras order and where each goes.
export interface ImportedLayer {
  kerasName: string;
  className: string;
  layers: Layer[];
  weights: { keras: string; layer: Layer; spec: string }[];
  // A Keras axis (Softmax, Concatenate, BatchNormalization) that must be the last one: checked
  // once the input rank is known.
  axis?: number;
}

export interface ImportedModel {
  model: Model;
  imported: ImportedLayer[]; // in topology order, layers without weights included
}

// Unwraps {model_config: ...} (TF.js, legacy h5) and returns {class_name, config}.
export function unwrapTopology(t: unknown, source: string): { class_name: string; config: any } {
  let j = t as any;
  if (j && typeof j === 'object' && j.model_config) j = j.model_config;
  if (typeof j === 'string') {
    try { j = JSON.parse(j); } catch { throw new ModelFormatError(`${source}: the model topology is not valid JSON`, source); }
    if (j && j.model_config) j = j.model_config;
  }
  if (!j || typeof j !== 'object' || typeof j.class_name !== 'string') throw new ModelFormatError(`${source}: no Keras model topology ({class_name, config}) found`, source);
  return j;
}

function layerName(j: KerasLayerJson): string {
  return (j.config?.name ?? j.name) as string;
}

// Keras axes that edgetune supports only as the last one: checked once the input rank is known.
const AXIS_CLASSES = new Set(['BatchNormalization', 'Softmax', 'Concatenate']);

// SeparableConv2D: a depthwise then a pointwise convolution.
function separableFromKeras(j: KerasLayerJson, source: string): ImportedLayer {
  const c = j.config ?? {};
  const name = layerName(j);
  const r = { className: j.class_name, name, base: { name, trainable: flag(name, 'trainable', c.trainable ?? undefined, true) }, own: false, source };
  channelsLast(r, c);
  const dw = layers.depthwiseConv2d({ name: `${name}_depthwise`, trainable: r.base.trainable, ...depthwiseOptionsFromKeras(c), useBias: false });
  const pw = layers.conv2d({ ...r.base, filters: c.filters, kernelSize: 1, activation: activationOf(c.activation), useBias: c.use_bias ?? undefined });
  return {
    kerasName: name, className: j.class_name, layers: [dw, pw],
    weights: [{ keras: 'depthwise_kernel', layer: dw, spec: 'depthwise_kernel' }, { keras: 'pointwise_kernel', layer: pw, spec: 'kernel' },
      ...(c.use_bias !== false ? [{ keras: 'bias', layer: pw, spec: 'bias' }] : [])],
  };
}

// The edgetune layers for one Keras layer config: its record's reader (host/layers/<kind>.ts).
export function layerFromKeras(j: KerasLayerJson, source: string): ImportedLayer {
  const c = j.config ?? {};
  const name = layerName(j);
  try {
    if (j.class_name === 'SeparableConv2D') return separableFromKeras(j, source);
    const layer = layerFromKerasJson(j, source, false);
    if (!layer) throw new UnsupportedOpError(j.class_name, name, source, 'no edgetune layer for this class');
    const names = LAYER_DEFS[layer.kind].kerasWeights?.(layer.config) ?? [];
    return {
      kerasName: name, className: j.class_name, layers: [layer], weights: names.map((w) => ({ keras: w, layer, spec: w })),
      ...(AXIS_CLASSES.has(j.class_name) ? { axis: Array.isArray(c.axis) ? c.axis[0] : c.axis ?? -1 } : {}),
    };
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError(`${source}: layer '${name}' (${j.class_name}): ${(e as Error).message}`, source, name);
  }
}

function inputShapeOf(c: Record<string, any>): number[] | null {
  const s = c.batch_input_shape ?? c.batch_shape;
  if (Array.isArray(s)) return s.slice(1);
  if (Array.isArray(c.input_shape)) return c.input_shape;
  return null;
}

function checkShape(shape: (number | null)[] | null, where: string, source: string): number[] {
  if (!shape || !shape.every((d) => typeof d === 'number' && d > 0)) {
    throw new ModelFormatError(`${source}: ${where} has input shape [${shape}]; every dimension but the batch must be known`, source);
  }
  return shape as number[];
}

// The inbound tensors of each call: Keras 2 [[name, node, tensor, kwargs], ...] or Keras 3
// {args: [...], kwargs}.
function callsOf(j: KerasLayerJson, source: string): [string, number, number][][] {
  const nodes = j.inbound_nodes ?? [];
  if (!Array.isArray(nodes)) throw new ModelFormatError(`${source}: layer '${layerName(j)}' has inbound_nodes ${JSON.stringify(nodes).slice(0, 80)}, not a list of calls`, source, layerName(j));
  return nodes.map((call) => {
    if (Array.isArray(call)) return (call as unknown[][]).map((r) => [r[0] as string, Number(r[1] ?? 0), Number(r[2] ?? 0)]);
    const refs: [string, number, number][] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) { v.forEach(walk); return; }
      if (v && typeof v === 'object') {
        const h = (v as any).config?.keras_history;
        if (Array.isArray(h)) refs.push([h[0], Number(h[1]), Number(h[2])]);
      }
    };
    walk((call as { args?: unknown }).args);
    return refs;
  });
}

function refsOf(v: unknown): [string, number, number][] {
  if (!Array.isArray(v)) return [];
  if (typeof v[0] === 'string') return [[v[0], Number(v[1] ?? 0), Number(v[2] ?? 0)]];
  return (v as unknown[]).flatMap(refsOf);
}

export function modelFromKeras(topology: unknown, source: string): ImportedModel {
  const t = unwrapTopology(topology, source);
  const cfg = t.config;
  const imported: ImportedLayer[] = [];
  const entries: unknown = Array.isArray(cfg) ? cfg : cfg?.layers;
  if (Array.isArray(entries)) {
    entries.forEach((j, i) => {
      if (!j || typeof j !== 'object' || typeof j.class_name !== 'string') throw new ModelFormatError(`${source}: layer ${i} of the topology is not a {class_name, config} object`, source);
    });
  }
  if (t.class_name === 'Sequential') {
    const list: KerasLayerJson[] = Array.isArray(cfg) ? cfg : cfg?.layers;
    if (!Array.isArray(list)) throw new ModelFormatError(`${source}: Sequential topology has no layer list`, source);
    let shape: number[] | null = null;
    const all: Layer[] = [];
    for (const j of list) {
      if (j.class_name === 'InputLayer') { shape = checkShape(inputShapeOf(j.config ?? {}), `input layer '${layerName(j)}'`, source); continue; }
      if (!shape && all.length === 0) {
        const s = inputShapeOf(j.config ?? {}) ?? (Array.isArray(cfg?.build_input_shape) ? cfg.build_input_shape.slice(1) : null);
        shape = checkShape(s, `the first layer '${layerName(j)}'`, source);
      }
      const l = layerFromKeras(j, source);
      imported.push(l);
      all.push(...l.layers);
    }
    if (!shape) throw new ModelFormatError(`${source}: the Sequential model has no input shape`, source);
    let model: Model;
    try {
      model = new Model(all, { name: cfg?.name ?? 'sequential', inputShape: shape });
    } catch (e) {
      throw new ModelFormatError(`${source}: ${(e as Error).message}`, source);
    }
    for (const l of imported) checkAxis(l, l.layers[0].builtInputShape!.length, source);
    return { model, imported };
  }
  if (t.class_name !== 'Functional' && t.class_name !== 'Model') {
    throw new UnsupportedOpError(t.class_name, cfg?.name ?? 'model', source, 'only Sequential and Functional models');
  }
  const list = cfg?.layers as KerasLayerJson[];
  if (!Array.isArray(list)) throw new ModelFormatError(`${source}: Functional topology has no layer list`, source);
  const inputs = refsOf(cfg.input_layers);
  const outputs = refsOf(cfg.output_layers);
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw new ModelFormatError(`${source}: the model has ${inputs.length} inputs and ${outputs.length} outputs; edgetune models have one of each`, source);
  }
  const produced = new Map<string, SymbolicTensor[]>();
  let modelInput: SymbolicTensor | null = null;
  const pending = list.slice();
  // Keras lists layers in creation order, which is topological for the common cases; a layer
  // whose inputs are not ready is retried after the others.
  for (let progress = true; pending.length && progress;) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const j = pending[i];
      const name = layerName(j);
      if (j.class_name === 'InputLayer') {
        modelInput = symbolicInput({ shape: checkShape(inputShapeOf(j.config ?? {}), `input layer '${name}'`, source), name });
        produced.set(name, [modelInput]);
      } else {
        const calls = callsOf(j, source);
        if (!calls.every((call) => call.every(([from, k]) => produced.get(from)?.[k]))) continue;
        if (j.class_name === 'Functional' || j.class_name === 'Sequential' || j.class_name === 'Model') {
          throw new UnsupportedOpError(j.class_name, name, source, 'nested models (flatten the model first)');
        }
        const l = layerFromKeras(j, source);
        imported.push(l);
        const results: SymbolicTensor[] = [];
        for (const call of calls) {
          const ins = call.map(([from, k]) => produced.get(from)![k]);
          checkAxis(l, ins[0].shape.length, source);
          try {
            let x: SymbolicTensor | SymbolicTensor[] = ins.length === 1 ? ins[0] : ins;
            for (const layer of l.layers) x = layer.apply(x);
            results.push(x as SymbolicTensor);
          } catch (e) {
            throw new ModelFormatError(`${source}: layer '${name}' (${j.class_name}): ${(e as Error).message}`, source, name);
          }
        }
        produced.set(name, results);
      }
      pending.splice(i--, 1);
      progress = true;
    }
  }
  if (pending.length) throw new ModelFormatError(`${source}: layers ${pending.map(layerName).join(', ')} read tensors that no layer produces`, source, layerName(pending[0]));
  const [outName, outNode] = outputs[0];
  const out = produced.get(outName)?.[outNode];
  if (!modelInput || !out) throw new ModelFormatError(`${source}: the output '${outName}' is not produced by the topology`, source, outName);
  try {
    return { model: new Model({ inputs: modelInput, outputs: out }, { name: cfg.name ?? 'functional' }), imported };
  } catch (e) {
    throw new ModelFormatError(`${source}: ${(e as Error).message}`, source);
  }
}

// Keras counts the batch axis: the last axis of a per-sample rank-r input is r (or -1).
function checkAxis(l: ImportedLayer, rank: number, source: string): void {
  if (l.axis === undefined || l.axis === -1 || l.axis === rank) return;
  throw new UnsupportedOpError(l.className, l.kerasName, source, `axis ${l.axis} of a rank-${rank + 1} input (only the last axis)`);
}

export interface FoundWeight {
  name: string; // for messages: the tensor's name or path in the file
  shape: number[];
  values: Float32Array;
}

// Checks every weight of the topology against the lookup, then assigns them all (a bad file
// changes nothing). `lookup(layer, kerasWeight, index)` returns the weight or undefined.
export function assignWeights(imp: ImportedModel, lookup: (layer: ImportedLayer, weight: string, index: number) => FoundWeight | undefined, source: string): void {
  const plan: { layer: Layer; index: number; values: Float32Array }[] = [];
  for (const il of imp.imported) {
    il.weights.forEach((w, i) => {
      const spec = w.layer.weightSpecs.findIndex((s) => s.name === w.spec);
      const shape = w.layer.weightSpecs[spec].shape;
      const found = lookup(il, w.keras, i);
      if (!found) throw new ModelFormatError(`${source}: no weight for layer '${il.kerasName}' (${il.className}) '${w.keras}' [${shape}]`, source, `${il.kerasName}/${w.keras}`);
      const same = found.shape.length === shape.length && found.shape.every((d, k) => d === shape[k]);
      if (!same) throw new ModelFormatError(`${source}: weight '${found.name}' has shape [${found.shape}], but layer '${il.kerasName}' (${il.className}) expects '${w.keras}' of shape [${shape}]`, source, found.name);
      plan.push({ layer: w.layer, index: spec, values: found.values });
    });
  }
  for (const p of plan) p.layer.values[p.index].set(p.values);
}
