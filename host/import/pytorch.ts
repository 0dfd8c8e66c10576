// PyTorch state dicts saved as safetensors -> the weights of an edgetune model the user built with
// the same architecture (a state dict has no topology). Names and layouts:
//   nn.Linear      weight [out, in]       -> dense kernel [in, out] (transposed); bias
//   nn.Conv2d      weight [O, I, kH, kW]  -> conv2d kernel [kH, kW, I, O] (OIHW -> HWIO); bias
//   nn.Conv2d with groups = in_channels (depthwise), weight [C*M, 1, kH, kW]
//                                         -> depthwiseConv2d kernel [kH, kW, C, M]; bias
//   nn.BatchNorm2d/1d weight, bias, running_mean, running_var -> gamma, beta, moving_mean,
//                  moving_variance (num_batches_tracked is ignored). Note PyTorch's eps is 1e-5
//                  and Keras's 1e-3: build the layer with epsilon: 1e-5.
// A dense layer reading a flatten of an (H, W, C) map gets its input rows reordered from
// PyTorch's (C, H, W) flattening to edgetune's (H, W, C).
// Which tensors feed which layer: `mapping[layerName]` gives the module prefix ('features.0'),
// `mapping['<layer>/<weight>']` a full tensor name; else the layer's own name is the prefix.
// (There is no fallback by position: safetensors files are sorted by dtype and name, so module
// registration order is lost.) Everything is checked before anything is written.
import { checkOptions, optionNames } from '../core/options';
import { ModelFormatError } from '../core/errors';
import { sizeOf } from '../compile/graph';
import type { Layer } from '../layers/layer';
import type { Model } from '../training/model';
import { readSafetensors, SafetensorsError, type TensorEntry, toFloat32 } from '../formats/safetensors';

const TORCH_NAMES: Record<string, string> = {
  kernel: 'weight', depthwise_kernel: 'weight', bias: 'bias', gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var',
};

export interface PytorchImportOptions {
  mapping?: Record<string, string>;
  strict?: boolean;
}
const PYTORCH_OPTIONS = optionNames<PytorchImportOptions>()(['mapping', 'strict']);

export function importPytorchSafetensors(bytes: Uint8Array, model: Model, options: PytorchImportOptions, fileName: string): Model {
  checkOptions('importPytorchSafetensors', options, PYTORCH_OPTIONS);
  let file;
  try {
    file = readSafetensors(bytes, fileName);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelFormatError(e.message, fileName, e.tensor);
    throw e;
  }
  const tensors = new Map([...file.tensors].filter(([n]) => !n.endsWith('num_batches_tracked')));
  const mapping = options.mapping ?? {};
  const weighted = model.layers.filter((l) => l.weightSpecs.length);
  // Module prefixes in file order.
  const modules: string[] = [];
  for (const n of tensors.keys()) {
    const p = n.includes('.') ? n.slice(0, n.lastIndexOf('.')) : '';
    if (!modules.includes(p)) modules.push(p);
  }
  const unmapped = weighted.filter((l) => mapping[l.name] === undefined && !modules.includes(l.name) && !l.weightSpecs.every((s) => mapping[`${l.name}/${s.name}`] !== undefined));
  if (unmapped.length === weighted.length) {
    throw new ModelFormatError(`${fileName}: the state dict's modules (${modules.slice(0, 8).join(', ')}${modules.length > 8 ? ', ...' : ''}) and the layers with weights of model ${model.name} ` +
      `(${weighted.map((l) => l.name).slice(0, 8).join(', ')}) share no name: pass options.mapping, e.g. { ${weighted[0]?.name}: '${modules[0]}' }`, fileName);
  }
  const used = new Set<string>();
  const plan: { layer: Layer; index: number; values: Float32Array }[] = [];
  weighted.forEach((layer) => {
    const prefix = mapping[layer.name] ?? layer.name;
    layer.weightSpecs.forEach((spec, index) => {
      const key = `${layer.name}/${spec.name}`;
      const torchName = mapping[key] ?? (prefix ? `${prefix}.${TORCH_NAMES[spec.name] ?? spec.name}` : TORCH_NAMES[spec.name] ?? spec.name);
      const t = tensors.get(torchName);
      if (!t) throw new ModelFormatError(`${fileName}: tensor '${torchName}' for '${key}' [${spec.shape}] is not in the state dict`, fileName, torchName);
      used.add(torchName);
      plan.push({ layer, index, values: convert(t, layer, spec.name, spec.shape, key, model, fileName) });
    });
  });
  if (options.strict !== false) {
    const unused = [...tensors.keys()].filter((n) => !used.has(n));
    if (unused.length) throw new ModelFormatError(`${fileName}: tensors ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''} match no weight of model ${model.name} (pass strict: false to ignore them)`, fileName, unused[0]);
  }
  for (const p of plan) p.layer.values[p.index].set(p.values);
  return model;
}

// The tensor in edgetune's layout for weight `spec` of `layer`, or a ModelFormatError naming both.
function convert(t: TensorEntry, layer: Layer, spec: string, shape: number[], key: string, model: Model, fileName: string): Float32Array {
  const v = toFloat32(t);
  const mismatch = (expected: number[]) => new ModelFormatError(`${fileName}: tensor '${t.name}' has shape [${t.shape}], but '${key}' [${shape}] needs [${expected}] from PyTorch`, fileName, t.name);
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  if (spec === 'kernel' && layer.kind === 'dense') {
    const [k, n] = shape;
    if (!same(t.shape, [n, k])) throw mismatch([n, k]);
    const out = new Float32Array(k * n);
    const rowOf = flattenOrder(layer, model, k);
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) out[rowOf[i] * n + j] = v[j * k + i];
    return out;
  }
  if (spec === 'kernel' && layer.kind === 'conv2d') {
    const [kh, kw, ci, co] = shape;
    if (!same(t.shape, [co, ci, kh, kw])) throw mismatch([co, ci, kh, kw]);
    const out = new Float32Array(v.length);
    for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      out[((y * kw + x) * ci + i) * co + o] = v[((o * ci + i) * kh + y) * kw + x];
    }
    return out;
  }
  if (spec === 'depthwise_kernel') {
    const [kh, kw, c, m] = shape;
    if (!same(t.shape, [c * m, 1, kh, kw])) throw mismatch([c * m, 1, kh, kw]);
    const out = new Float32Array(v.length);
    for (let ch = 0; ch < c; ch++) for (let mm = 0; mm < m; mm++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      out[((y * kw + x) * c + ch) * m + mm] = v[((ch * m + mm) * kh + y) * kw + x];
    }
    return out;
  }
  if (!same(t.shape, shape)) throw mismatch(shape);
  if (v.length !== sizeOf(shape)) throw mismatch(shape);
  return v;
}

// For a dense layer fed by flatten(H, W, C): rowOf[torchRow] = edgetune row, where PyTorch
// flattened (C, H, W). Identity otherwise.
function flattenOrder(layer: Layer, model: Model, k: number): Int32Array {
  const rowOf = Int32Array.from({ length: k }, (_, i) => i);
  const node = model.graph.nodes.find((n) => n.layer === layer);
  const src = node ? model.graph.nodes[node.inputs[0]] : null;
  if (!src || src.layer?.kind !== 'flatten') return rowOf;
  const map = model.graph.nodes[src.inputs[0]].shape;
  if (map.length !== 3 || map[0] * map[1] === 1) return rowOf;
  const [h, w, c] = map;
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rowOf[(ch * h + y) * w + x] = (y * w + x) * c + ch;
  return rowOf;
}
