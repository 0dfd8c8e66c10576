// Loading a model saved as safetensors (save.ts writes it: weights, Keras-style topology, training
// config and optimizer state). Loading checks every tensor against the topology before touching
// any layer, so a bad file changes nothing.
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import { sizeOf } from '../compile/graph';
import { input as symbolicInput, type Layer, type SymbolicTensor } from '../layers/layer';
import { layerFromKerasJson } from '../layers/index';
import type { LayerJson } from '../layers/keras-json';
import { Model } from '../training/model';
import { MODEL_FORMAT, type OptimizerStateJson } from './save';
import { readSafetensors, SafetensorsError, toFloat32 } from './safetensors';
import { asF32, finiteInF32 } from '../core/tensor';
import { canQuantize, dequantizeKernel, type Int8Kernel, outputChannels, takesActivationQuantizer } from '../layers/quantize';

// A config the layer refuses (units 0, trainable "abc") is a malformed file, named with the layer.
function layerFromJson(j: LayerJson, source: string): Layer {
  let layer: Layer | undefined;
  try {
    layer = layerFromKerasJson(j, source, true);
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    throw new ModelFormatError(`${source}: layer '${j.config?.name}' (${j.class_name}): ${e.message}`, source);
  }
  if (!layer) throw new ModelFormatError(`${source}: unknown layer class '${j.class_name}' (layer '${j.config?.name}')`, source);
  return layer;
}

// [null, d1, ...] with every per-sample dimension a positive integer; anything else is refused.
function batchShapeOf(v: unknown, where: string, source: string): number[] {
  if (!Array.isArray(v) || v.length < 2 || !v.slice(1).every((d) => Number.isInteger(d) && d > 0)) {
    throw new ModelFormatError(`${source}: ${where} has batch_input_shape ${JSON.stringify(v) ?? 'undefined'}; expected [null, d1, ...] with positive integer dimensions`, source);
  }
  return v.slice(1) as number[];
}

// A Keras 2 reference [layer name, call index, tensor index, kwargs?].
function isRef(r: unknown): r is [string, number, number] {
  return Array.isArray(r) && typeof r[0] === 'string' && Number.isInteger(r[1]) && r[1] >= 0;
}

// The tensor a layer's weight loads from, checked against the spec before the layer allocates it.
type TensorTable = ReturnType<typeof readSafetensors>['tensors'];
// An I8 kernel and its F32 '<kernel>_scale' (host/formats/save.ts): only a frozen layer with an
// int8 kernel, one scale per output channel.
function int8Kernel(tensors: TensorTable, l: Layer, index: number, data: Uint8Array, source: string): Int8Kernel {
  const name = `${l.name}/${l.weightSpecs[index].name}`;
  if (index !== 0 || !canQuantize(l) || l.trainable) {
    throw new ModelFormatError(`${source}: tensor '${name}' is I8, but only the kernel of a frozen dense, conv2d or depthwiseConv2d layer can be int8 (layer ${l.name} is ${l.trainable ? 'trainable ' : ''}${l.kind})`, source, name);
  }
  const ch = outputChannels(l);
  const s = tensors.get(`${name}_scale`);
  if (!s || s.dtype !== 'F32' || s.shape.length !== 1 || s.shape[0] !== ch) {
    throw new ModelFormatError(`${source}: int8 tensor '${name}' needs an F32 tensor '${name}_scale' of shape [${ch}]${s ? `, got ${s.dtype} [${s.shape}]` : ''}`, source, name);
  }
  const scale = toFloat32(s);
  if (!scale.every((v) => Number.isFinite(v) && v > 0)) throw new ModelFormatError(`${source}: '${name}_scale' must hold finite positive scales`, source, `${name}_scale`);
  // A copy of exactly the tensor's bytes: `data` may be a Node Buffer, whose slice() is a view of
  // the whole file's memory (loadModel(readFileSync(path)) read every byte of the file as q).
  return { q: new Int8Array(data.buffer, data.byteOffset, data.length).slice(), scale };
}

// metadata 'int8_activation_quantizer': a JSON object of layer name -> quantizer, or absent.
function activationQuantizers(text: string | undefined, source: string): Record<string, unknown> {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ModelFormatError(`${source}: metadata 'int8_activation_quantizer' is not valid JSON`, source);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ModelFormatError(`${source}: metadata 'int8_activation_quantizer' must be an object of layer name -> 'absmax'`, source);
  return v as Record<string, unknown>;
}

function weightTensor(tensors: TensorTable, layer: string, spec: { name: string; shape: readonly number[] }, source: string) {
  const name = `${layer}/${spec.name}`;
  const t = tensors.get(name);
  if (!t) throw new ModelFormatError(`${source}: tensor '${name}' (shape [${spec.shape}]) is missing`, source, name);
  const same = t.shape.length === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i]);
  if (!same) throw new ModelFormatError(`${source}: tensor '${name}' has shape [${t.shape}], layer ${layer} expects [${spec.shape}]`, source, name);
  return t;
}

// Layers are built from the topology with each weight checked against the file's tensor table
// first (Layer.checkWeights): a topology declaring more than the file holds allocates nothing.
function modelFromTopology(topology: unknown, tensors: TensorTable, source: string): Model {
  const top = topology as { class_name?: unknown; config?: Record<string, unknown> } | null;
  if (!top || typeof top !== 'object' || typeof top.class_name !== 'string') {
    throw new ModelFormatError(`${source}: metadata 'topology' is not a {class_name, config} object`, source);
  }
  const config = top.config ?? {};
  const list = config.layers as LayerJson[] | undefined;
  if (!Array.isArray(list)) throw new ModelFormatError(`${source}: topology has no layer list`, source);
  list.forEach((j, i) => {
    if (!j || typeof j !== 'object' || typeof j.class_name !== 'string') throw new ModelFormatError(`${source}: layer ${i} of the topology is not a {class_name, config} object`, source);
  });
  const built: Layer[] = [];
  const make = (j: LayerJson): Layer => {
    let layer: Layer;
    try {
      layer = layerFromJson(j, source);
    } catch (e) {
      if (e instanceof ModelFormatError) throw e;
      throw new ModelFormatError(`${source}: layer '${j.name ?? j.config?.name}' (${j.class_name}): ${(e as Error).message}`, source);
    }
    layer.checkWeights = (specs) => { for (const s of specs) weightTensor(tensors, layer.name, s, source); };
    built.push(layer);
    return layer;
  };
  try {
    return buildModel(top.class_name, config, list, make, source);
  } finally {
    for (const l of built) l.checkWeights = null;
  }
}

function buildModel(className: string, config: Record<string, unknown>, list: LayerJson[], make: (j: LayerJson) => Layer, source: string): Model {
  if (className === 'Sequential') {
    const shape = batchShapeOf(list[0]?.config?.batch_input_shape, 'the first layer', source);
    return new Model(list.map(make), { name: config.name as string, inputShape: shape });
  }
  if (className !== 'Functional' && className !== 'Model') {
    throw new ModelFormatError(`${source}: topology class '${className}' is neither Sequential nor Functional`, source);
  }
  const outputs = new Map<string, SymbolicTensor[]>(); // layer name -> output of each call
  const inputLayers: SymbolicTensor[] = [];
  for (const j of list) {
    const name = (j.name ?? j.config?.name) as string;
    if (j.class_name === 'InputLayer') {
      const shape = batchShapeOf(j.config?.batch_input_shape ?? j.config?.batch_shape, `input layer '${name}'`, source);
      const t = symbolicInput({ shape, name });
      inputLayers.push(t);
      outputs.set(name, [t]);
      continue;
    }
    const calls = j.inbound_nodes ?? [];
    if (!Array.isArray(calls) || !calls.every((call) => Array.isArray(call) && call.every(isRef))) {
      throw new ModelFormatError(`${source}: layer '${name}' has inbound_nodes that are not lists of [layer, call, tensor] references`, source);
    }
    const layer = make(j);
    const results: SymbolicTensor[] = [];
    for (const call of calls as [string, number, number][][]) {
      const ins = call.map(([from, k]) => {
        const t = outputs.get(from)?.[k];
        if (!t) throw new ModelFormatError(`${source}: layer '${name}' reads '${from}' call ${k}, which is not defined before it`, source);
        return t;
      });
      results.push(layer.apply(ins.length === 1 ? ins[0] : ins));
    }
    outputs.set(name, results);
  }
  // Keras lists the model's inputs and outputs in order: [[layer, call, tensor], ...].
  const refs = (key: 'input_layers' | 'output_layers'): SymbolicTensor[] | null => {
    const list = config[key];
    if (list === undefined && key === 'input_layers') return null;
    if (!Array.isArray(list) || list.length === 0 || !list.every(isRef)) {
      throw new ModelFormatError(`${source}: the functional topology has no ${key} [[name, call, tensor]] (got ${JSON.stringify(list) ?? 'undefined'})`, source);
    }
    return (list as [string, number, number][]).map(([name, call]) => {
      const t = outputs.get(name)?.[call];
      if (!t) throw new ModelFormatError(`${source}: the functional topology's ${key} names '${name}' call ${call}, which is undefined`, source);
      return t;
    });
  };
  const modelOutputs = refs('output_layers')!;
  const modelInputs = refs('input_layers') ?? inputLayers;
  if (modelInputs.length === 0) throw new ModelFormatError(`${source}: the functional topology has no input layer`, source);
  const one = <T>(list: T[]) => (list.length === 1 ? list[0] : list);
  return new Model({ inputs: one(modelInputs), outputs: one(modelOutputs) }, { name: config.name as string });
}

// The step header keeps iterations as an i32 and this update's t = iterations + 1 must fit too;
// the learning rate and momentum are f32 there, Nadam's product an f64.
const MAX_ITERATIONS = 2 ** 31 - 2;
function checkOptimizerState(st: OptimizerStateJson, source: string): void {
  const bad = (field: string, v: unknown, want: string, note = '') =>
    new ModelFormatError(`${source}: metadata 'optimizer_state' ${field} is ${JSON.stringify(v)}${note}; it must be ${want}`, source);
  if (!st || typeof st !== 'object') throw new ModelFormatError(`${source}: metadata 'optimizer_state' is not an object`, source);
  if (!Number.isInteger(st.iterations) || st.iterations < 0 || st.iterations > MAX_ITERATIONS) {
    throw bad('iterations', st.iterations, `an integer from 0 to ${MAX_ITERATIONS}`);
  }
  // base_learning_rate is 0 when a schedule sets the rate.
  for (const field of ['base_learning_rate', 'momentum'] as const) {
    const v = st[field];
    if (typeof v !== 'number' || !finiteInF32(v) || v < 0) throw bad(field, v, 'a non-negative number within f32 range', asF32(v));
  }
  if (typeof st.nadam_u_product !== 'number' || !Number.isFinite(st.nadam_u_product)) throw bad('nadam_u_product', st.nadam_u_product, 'a finite number');
}

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

// What a file that is not safetensors is, by its first bytes, and the importer that reads it.
// `format`: the formats loadModel imports itself.
export function otherModelFormat(bytes: Uint8Array): { what: string; importer: string; format?: 'onnx' | 'tfjs-graph' | 'tfjs-layers' } | null {
  if (ascii(bytes, 0, 8) === '\x89HDF\r\n\x1a\n') return { what: 'a Keras HDF5 file (.h5)', importer: 'importKeras(bytes)' };
  if (ascii(bytes, 0, 4) === 'PK\x03\x04') {
    // Both are zip archives; a .keras holds config.json, a PyTorch checkpoint data.pkl.
    const names = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 1 << 20)));
    if (names.includes('data.pkl')) return { what: 'a PyTorch checkpoint (.pt/.pth)', importer: 'importOnnx after torch.onnx.export, or importPytorchSafetensors on its state_dict saved as safetensors' };
    return { what: 'a zip archive (a Keras 3 .keras file?)', importer: 'importKeras(bytes)' };
  }
  const first = bytes.findIndex((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (first >= 0 && bytes[first] === 0x7b) { // '{': JSON
    let json: { format?: unknown; modelTopology?: { node?: unknown } } | null = null;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch { /* not JSON after all */ }
    if (json?.format === 'graph-model' || Array.isArray(json?.modelTopology?.node)) {
      return { what: 'a TF.js graph model (model.json)', importer: 'importTfjsGraphModel(json, readShard, name)', format: 'tfjs-graph' };
    }
    if (json?.format === 'layers-model' || json?.modelTopology) {
      return { what: 'a TF.js layers model (model.json)', importer: 'importTfjsLayersModel(json, readShard, name)', format: 'tfjs-layers' };
    }
    if (json) return { what: 'a JSON file', importer: 'the importer for its format (importTfjsLayersModel, importTfjsGraphModel)' };
  }
  // ONNX ModelProto: field 1 (ir_version, a small varint) first, as every exporter writes it.
  if (bytes[0] === 0x08 && bytes[1] > 0 && bytes[1] < 0x20) return { what: 'an ONNX model', importer: 'importOnnx(bytes)', format: 'onnx' };
  return null;
}

export function modelFromBytes(bytes: Uint8Array, source = '<bytes>'): Model {
  let file;
  try {
    file = readSafetensors(bytes, source);
  } catch (e) {
    if (e instanceof SafetensorsError) {
      const other = otherModelFormat(bytes);
      if (other) throw new ModelFormatError(`${source}: this is ${other.what}, not an edgetune (safetensors) model; import it with ${other.importer}, or convert it once with \`edgetune convert ${source} model.safetensors\``, source);
      throw new ModelFormatError(e.message, source, e.tensor);
    }
    throw e;
  }
  const meta = file.metadata;
  if (meta.format !== MODEL_FORMAT) {
    throw new ModelFormatError(`${source}: not an edgetune model (metadata 'format' is ${JSON.stringify(meta.format)}, expected '${MODEL_FORMAT}'); ` +
      'convert other formats with `edgetune convert`', source);
  }
  let topology: unknown;
  try {
    topology = JSON.parse(meta.topology);
  } catch {
    throw new ModelFormatError(`${source}: metadata 'topology' is not valid JSON`, source);
  }
  const model = modelFromTopology(topology, file.tensors, source);

  // Check everything first, then assign: a bad file leaves nothing half-loaded.
  const assignments: { layer: Layer; index: number; values: Float32Array }[] = [];
  const int8: { layer: Layer; kernel: Int8Kernel }[] = [];
  const expected = new Set<string>();
  for (const l of model.layers) {
    l.weightSpecs.forEach((s, index) => {
      const name = `${l.name}/${s.name}`;
      expected.add(name);
      const t = weightTensor(file.tensors, l.name, s, source);
      if (t.dtype === 'I8') {
        const kernel = int8Kernel(file.tensors, l, index, t.data, source);
        expected.add(`${name}_scale`);
        int8.push({ layer: l, kernel });
        assignments.push({ layer: l, index, values: dequantizeKernel(kernel) });
        return;
      }
      const values = toFloat32(t);
      if (values.length !== sizeOf(s.shape)) throw new ModelFormatError(`${source}: tensor '${name}' has ${values.length} values`, source, name);
      assignments.push({ layer: l, index, values });
    });
  }
  // The int8 layers whose inputs Keras's absmax quantizer quantizes (docs/formats.md).
  for (const [name, mode] of Object.entries(activationQuantizers(meta.int8_activation_quantizer, source))) {
    const entry = int8.find((e) => e.layer.name === name);
    if (!entry || !takesActivationQuantizer(entry.layer)) {
      throw new ModelFormatError(`${source}: metadata 'int8_activation_quantizer' names layer ${name}, which is not an int8 dense or one-group conv2d layer of this model`, source);
    }
    if (mode !== 'absmax') throw new ModelFormatError(`${source}: metadata 'int8_activation_quantizer': layer ${name}: activation quantizer must be 'absmax', got ${JSON.stringify(mode)}`, source);
    entry.kernel.activationQuantizer = 'absmax';
  }
  // Optimizer slots of a checkpoint: each must match a weight's shape.
  const slots = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (expected.has(name)) continue;
    const weight = name.startsWith('optimizer/') ? name.split('/').slice(2).join('/') : null;
    if (weight === null || !expected.has(weight) || !meta.optimizer_state) {
      throw new ModelFormatError(`${source}: tensor '${name}' matches no weight of the topology`, source, name);
    }
    const values = toFloat32(t);
    const [layerName, weightName] = [weight.slice(0, weight.lastIndexOf('/')), weight.slice(weight.lastIndexOf('/') + 1)];
    const spec = model.getLayer(layerName).weightSpecs.find((w) => w.name === weightName)!;
    if (values.length !== sizeOf(spec.shape)) throw new ModelFormatError(`${source}: optimizer tensor '${name}' has ${values.length} values, weight '${weight}' has ${sizeOf(spec.shape)}`, source, name);
    slots.set(name.slice('optimizer/'.length), values);
  }
  let optimizerState: OptimizerStateJson | null = null;
  if (meta.optimizer_state) {
    try {
      optimizerState = JSON.parse(meta.optimizer_state);
    } catch {
      throw new ModelFormatError(`${source}: metadata 'optimizer_state' is not valid JSON`, source);
    }
    if (!meta.training_config) throw new ModelFormatError(`${source}: optimizer_state without a training_config`, source);
    checkOptimizerState(optimizerState!, source);
  }
  // toFloat32 and dequantizeKernel return fresh arrays: the layers adopt them (no initial value is
  // drawn only to be overwritten, and no second host copy is made)
  for (const a of assignments) a.layer.adoptValue(a.index, a.values);
  for (const { layer, kernel } of int8) layer.int8 = kernel;
  if (meta.training_config) {
    try {
      const tc = JSON.parse(meta.training_config);
      model.restoreCompileConfig({
        optimizer: tc.optimizer, loss: tc.loss, metrics: tc.metrics, batchSize: tc.batch_size, ...(tc.loss_weights ? { lossWeights: tc.loss_weights } : {}),
      });
    } catch (e) {
      throw new ModelFormatError(`${source}: training_config cannot be restored: ${(e as Error).message}`, source);
    }
  }
  if (optimizerState) {
    model.restoreOptimizer({
      iterations: optimizerState.iterations, baseLearningRate: optimizerState.base_learning_rate, momentum: optimizerState.momentum,
      nadamUProduct: optimizerState.nadam_u_product, learningRateOverride: 0, slots,
    });
  }
  return model;
}
