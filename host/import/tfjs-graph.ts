// TF.js graph models (a frozen GraphDef as JSON) -> an ordinary functional edgetune model whose
// layers are trainable. Each supported op becomes the Keras layer it came from (Conv2D, BN, ...);
// constant operands of BiasAdd / Add / Sub / Mul are folded into the weights of the layer that
// produces the other operand (bias += c, kernel and bias *= s per output channel), and a fused or
// following activation becomes that layer's activation, when that layer has no other reader.
// An op that cannot be expressed is an UnsupportedOpError naming the op, the node and the file.
import { ModelFormatError } from '../core/errors';
import { type Layer, input as symbolicInput, type SymbolicTensor } from '../layers/layer';
import { layers } from '../layers/index';
import { Model } from '../training/model';
import { UnsupportedOpError } from './errors';
import { checkShape, type DecodedWeight, readWeightsManifest, type ShardReader } from './tfjs-weights';
import { ownEntry } from '../core/lookup';
import type { ActivationName } from '../layers/activations';

interface GraphNodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValue>;
}

interface AttrValue {
  i?: string | number;
  f?: number;
  b?: boolean;
  s?: string;
  type?: string;
  list?: { i?: (string | number)[]; s?: string[]; f?: number[] };
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
}

// A tensor while the graph is read: a layer not yet applied (so its bias and activation can still
// change), the model input, or a constant.
interface Pending {
  layer: Layer | null; // null: the model input
  inputs: Pending[];
  shape: number[]; // per sample
  weights: Map<string, Float32Array>;
  node: string;
}
type Value = { kind: 'tensor'; p: Pending } | { kind: 'const'; w: DecodedWeight; node: string };

const ACTIVATIONS: Record<string, ActivationName> = { Relu: 'relu', Relu6: 'relu6', Elu: 'elu', Sigmoid: 'sigmoid', Tanh: 'tanh', LeakyRelu: 'leakyRelu', Softmax: 'softmax' };
const WEIGHTED = new Set(['dense', 'conv2d', 'depthwiseConv2d']);

export async function importTfjsGraphModel(modelJson: unknown, readFile: ShardReader, fileName: string): Promise<Model> {
  const json = parseJson(modelJson, fileName) as { format?: string; modelTopology?: { node?: GraphNodeDef[] }; weightsManifest?: unknown };
  const defs = json.modelTopology?.node;
  if (!Array.isArray(defs)) {
    throw new ModelFormatError(`${fileName}: not a TF.js graph model (no modelTopology.node list${json.format ? `; format is '${json.format}'` : ''})`, fileName);
  }
  const weights = await readWeightsManifest(json.weightsManifest, readFile, fileName);
  return new GraphImporter(defs, weights, fileName).run();
}

function parseJson(modelJson: unknown, fileName: string): unknown {
  let j = modelJson;
  if (j instanceof Uint8Array) j = new TextDecoder().decode(j);
  if (typeof j === 'string') {
    try {
      j = JSON.parse(j);
    } catch (e) {
      throw new ModelFormatError(`${fileName}: not valid JSON: ${(e as Error).message}`, fileName);
    }
  }
  if (!j || typeof j !== 'object') throw new ModelFormatError(`${fileName}: model JSON must be an object`, fileName);
  return j;
}

class GraphImporter {
  private readonly byName = new Map<string, GraphNodeDef>();
  private readonly readers = new Map<string, number>(); // node -> how many data inputs read it
  private readonly values = new Map<string, Value>();
  private readonly created: Pending[] = [];
  private readonly usedNames = new Set<string>();
  private readonly prefix: string;

  constructor(private readonly defs: GraphNodeDef[], private readonly weights: Map<string, DecodedWeight>, private readonly file: string) {
    for (const d of defs) {
      if (!d || typeof d.name !== 'string' || typeof d.op !== 'string') throw new ModelFormatError(`${file}: a node has no name or op: ${JSON.stringify(d).slice(0, 200)}`, file);
      if (d.input !== undefined && !(Array.isArray(d.input) && d.input.every((s) => typeof s === 'string'))) {
        throw new ModelFormatError(`${file}: node '${d.name}': input is ${JSON.stringify(d.input).slice(0, 80)}, not a list of strings`, file, d.name);
      }
      this.byName.set(d.name, d);
    }
    for (const d of defs) for (const i of this.dataInputs(d)) this.readers.set(i.name, (this.readers.get(i.name) ?? 0) + 1);
    // Keras exports put every op under 'StatefulPartitionedCall/<model>/': layer names drop it.
    const scoped = defs.filter((d) => d.op !== 'Const' && d.op !== 'Placeholder' && d.op !== 'Identity').map((d) => d.name);
    const m = scoped.length ? /^(StatefulPartitionedCall\/[^/]+\/)/.exec(scoped[0]) : null;
    this.prefix = m && scoped.every((n) => n.startsWith(m[1])) ? m[1] : '';
  }

  private dataInputs(d: GraphNodeDef): { name: string; index: number }[] {
    return (d.input ?? []).filter((s) => !s.startsWith('^')).map((s) => {
      const m = /^(.*?)(?::(\d+))?$/.exec(s)!;
      return { name: m[1], index: m[2] ? Number(m[2]) : 0 };
    });
  }

  run(): Model {
    const placeholders = this.defs.filter((d) => d.op === 'Placeholder');
    if (placeholders.length !== 1) throw new ModelFormatError(`${this.file}: a graph model needs exactly one Placeholder input, found ${placeholders.length} (${placeholders.map((d) => d.name).join(', ')})`, this.file);
    const sinks = this.defs.filter((d) => d.op !== 'Const' && !this.readers.has(d.name));
    if (sinks.length !== 1) throw new ModelFormatError(`${this.file}: a graph model needs exactly one output, found ${sinks.length} (${sinks.map((d) => d.name).join(', ')})`, this.file);
    const out = this.value(sinks[0].name, []);
    if (out.kind !== 'tensor') throw new ModelFormatError(`${this.file}: the output '${sinks[0].name}' is a constant`, this.file, sinks[0].name);
    return this.build(out.p);
  }

  // ---------------------------------------------------------------------------------------------

  private value(name: string, path: string[]): Value {
    const known = this.values.get(name);
    if (known) return known;
    const d = this.byName.get(name);
    if (!d) throw new ModelFormatError(`${this.file}: node '${path[path.length - 1]}' reads '${name}', which is not in the graph`, this.file, name);
    if (path.includes(name)) throw new ModelFormatError(`${this.file}: the graph has a cycle through '${name}'`, this.file, name);
    const ins = this.dataInputs(d).map((i) => {
      if (i.index !== 0) throw new UnsupportedOpError(d.op, d.name, this.file, `it reads output ${i.index} of '${i.name}' (only first outputs are supported)`);
      return this.value(i.name, [...path, name]);
    });
    const v = this.convert(d, ins);
    this.values.set(name, v);
    return v;
  }

  private tensorIn(d: GraphNodeDef, ins: Value[], i: number): Pending {
    const v = ins[i];
    if (!v || v.kind !== 'tensor') throw new UnsupportedOpError(d.op, d.name, this.file, `input ${i} must be a computed tensor, not a constant`);
    return v.p;
  }

  private constIn(d: GraphNodeDef, ins: Value[], i: number, what: string): DecodedWeight {
    const v = ins[i];
    if (!v || v.kind !== 'const') throw new UnsupportedOpError(d.op, d.name, this.file, `its ${what} (input ${i}) must be a constant`);
    return v.w;
  }

  private layerName(node: string): string {
    let base = node.startsWith(this.prefix) ? node.slice(this.prefix.length) : node;
    base = base.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
    let name = base;
    for (let k = 1; this.usedNames.has(name); k++) name = `${base}_${k}`;
    this.usedNames.add(name);
    return name;
  }

  private add(node: string, layer: Layer, inputs: Pending[], weights: Record<string, Float32Array> = {}): Value {
    let shape: number[];
    try {
      shape = layer.outputShape(inputs.map((p) => p.shape));
    } catch (e) {
      throw new ModelFormatError(`${this.file}: node '${node}': ${(e as Error).message}`, this.file, node);
    }
    const p: Pending = { layer, inputs, shape, weights: new Map(Object.entries(weights)), node };
    this.created.push(p);
    return { kind: 'tensor', p };
  }

  // A string attribute, base64 in the JSON; one that is not base64 is refused by name.
  private text(d: GraphNodeDef, key: string, s: unknown): string {
    if (s === undefined) return '';
    try {
      if (typeof s !== 'string') throw new TypeError();
      return typeof atob === 'function' ? atob(s) : s;
    } catch {
      throw new ModelFormatError(`${this.file}: node '${d.name}': attribute '${key}' is ${JSON.stringify(s).slice(0, 80)}, not a base64 string`, this.file, d.name);
    }
  }

  private attrInts(d: GraphNodeDef, key: string): number[] | undefined {
    return d.attr?.[key]?.list?.i?.map(Number);
  }

  private padding(d: GraphNodeDef): 'same' | 'valid' {
    const p = this.text(d, 'padding', d.attr?.padding?.s);
    if (p === 'SAME') return 'same';
    if (p === 'VALID') return 'valid';
    if (p === 'EXPLICIT') {
      const e = this.attrInts(d, 'explicit_paddings') ?? [];
      if (e.every((x) => x === 0)) return 'valid';
    }
    throw new UnsupportedOpError(d.op, d.name, this.file, `padding '${p}' (supported: SAME, VALID, all-zero EXPLICIT)`);
  }

  private nhwc(d: GraphNodeDef): void {
    const f = this.text(d, 'data_format', d.attr?.data_format?.s);
    if (f && f !== 'NHWC') throw new UnsupportedOpError(d.op, d.name, this.file, `data_format '${f}' (only NHWC)`);
  }

  private spatial(d: GraphNodeDef, key: string): [number, number] {
    const v = this.attrInts(d, key) ?? [1, 1, 1, 1];
    if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) throw new UnsupportedOpError(d.op, d.name, this.file, `${key} [${v}] (batch and channel entries must be 1)`);
    return [v[1], v[2]];
  }

  // The fused ops of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul.
  private fused(d: GraphNodeDef): { bias: boolean; batchNorm: boolean; activation: string | null; alpha: number } {
    const list = d.attr?.fused_ops?.list?.s ?? [];
    if (!Array.isArray(list)) throw new ModelFormatError(`${this.file}: node '${d.name}': attribute 'fused_ops' is not a list of strings`, this.file, d.name);
    const ops = list.map((s) => this.text(d, 'fused_ops', s));
    let bias = false;
    let batchNorm = false;
    let activation: string | null = null;
    for (const [k, op] of ops.entries()) {
      if (k === 0 && op === 'BiasAdd') bias = true;
      else if (k === 0 && op === 'FusedBatchNorm') batchNorm = true;
      else if (k === ops.length - 1 && ownEntry(ACTIVATIONS, op) && op !== 'Softmax') activation = op;
      else throw new UnsupportedOpError(d.op, d.name, this.file, `fused ops [${ops.join(', ')}] (supported: BiasAdd or FusedBatchNorm, then Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh)`);
    }
    const alpha = d.attr?.leakyrelu_alpha?.f ?? 0.2;
    return { bias, batchNorm, activation, alpha };
  }

  // Emits the fused epilogue after a convolution or matmul layer `v`: batch norm, then activation.
  private epilogue(d: GraphNodeDef, ins: Value[], v: Value, f: ReturnType<GraphImporter['fused']>, argBase: number): Value {
    const p = (v as { p: Pending }).p;
    if (f.bias) {
      const b = this.constIn(d, ins, argBase, 'bias');
      checkShape(b, [p.shape[p.shape.length - 1]], `the fused bias of node '${d.name}'`, this.file);
      this.foldBias(d, p, b, 1);
    }
    let out = v;
    if (f.batchNorm) {
      const eps = d.attr?.epsilon?.f ?? 0.001;
      const [scale, offset, mean, variance] = [0, 1, 2, 3].map((k) => this.constIn(d, ins, argBase + k, ['scale', 'offset', 'mean', 'variance'][k]));
      out = this.batchNorm(d, `${d.name}/FusedBatchNorm`, p, scale, offset, mean, variance, eps);
    }
    if (f.activation) out = this.activation(d, (out as { p: Pending }).p, f.activation, f.alpha, `${d.name}/${f.activation}`, true);
    (out as { p: Pending }).p.node = d.name; // later ops read the fused result by the node's name
    return out;
  }

  private batchNorm(d: GraphNodeDef, node: string, x: Pending, scale: DecodedWeight, offset: DecodedWeight, mean: DecodedWeight, variance: DecodedWeight, eps: number): Value {
    const c = x.shape[x.shape.length - 1];
    if (!(eps > 0)) throw new UnsupportedOpError(d.op, d.name, this.file, `epsilon ${eps} (must be positive)`);
    const layer = layers.batchNormalization({ name: this.layerName(node), epsilon: eps });
    return this.add(node, layer, [x], {
      gamma: checkShape(scale, [c], `the scale of ${d.name}`, this.file), beta: checkShape(offset, [c], `the offset of ${d.name}`, this.file),
      moving_mean: checkShape(mean, [c], `the mean of ${d.name}`, this.file), moving_variance: checkShape(variance, [c], `the variance of ${d.name}`, this.file),
    });
  }

  // An activation op: fused into the layer that produced x when x is that layer's only reader and
  // linear, else an activation layer of its own.
  private activation(d: GraphNodeDef, x: Pending, op: string, alpha: number, node: string, fusedOp: boolean): Value {
    const name = ACTIVATIONS[op]; // callers pass only its keys
    const l = x.layer;
    const soleReader = fusedOp || this.readers.get(x.node) === 1;
    const fusable = l && soleReader && WEIGHTED.has(l.kind) && l.config.activation === 'linear' && (name !== 'leakyRelu' || Math.abs(alpha - 0.2) < 1e-7) &&
      (name !== 'softmax' || l.kind === 'dense');
    if (fusable) {
      l.config.activation = name;
      x.node = node;
      return { kind: 'tensor', p: x };
    }
    const layer = name === 'leakyRelu' ? layers.leakyRelu({ name: this.layerName(node), negativeSlope: alpha })
      : name === 'elu' ? layers.elu({ name: this.layerName(node) })
        : layers.activation(name, { name: this.layerName(node) });
    void d;
    return this.add(node, layer, [x]);
  }

  // Whether a constant can be folded into the layer that produced x (its only reader is this op).
  private foldable(x: Pending, fusedOp: boolean): boolean {
    const l = x.layer;
    if (!l || !(fusedOp || this.readers.get(x.node) === 1)) return false;
    return (WEIGHTED.has(l.kind) && l.config.activation === 'linear') || l.kind === 'batchNormalization' || l.kind === 'rescaling';
  }

  // Per-channel values of a constant broadcast against a (batch, ..., C) tensor: [C], [1, .., C] or
  // a scalar, of no higher rank than the tensor (a higher one would change the output's rank).
  private perChannel(d: GraphNodeDef, w: DecodedWeight, c: number, rank: number): Float32Array | null {
    const n = w.values.length;
    if (w.shape.length > rank) return null;
    const dims = w.shape.filter((x) => x !== 1);
    if (n === 1) return new Float32Array(c).fill(w.values[0]);
    if (dims.length === 1 && dims[0] === c && w.shape[w.shape.length - 1] === c) return Float32Array.from(w.values);
    void d;
    return null;
  }

  // x.bias += sign * c (per output channel).
  private foldBias(d: GraphNodeDef, x: Pending, w: DecodedWeight, sign: number): void {
    const l = x.layer!;
    const c = x.shape[x.shape.length - 1];
    const v = this.perChannel(d, w, c, x.shape.length + 1);
    if (!v) throw new ModelFormatError(`${this.file}: node '${d.name}': constant '${w.name}' of shape [${w.shape}] does not broadcast per channel over [${x.shape}]`, this.file, w.name);
    const key = l.kind === 'batchNormalization' ? 'beta' : l.kind === 'rescaling' ? 'offset' : 'bias';
    const bias = x.weights.get(key) ?? new Float32Array(c);
    for (let i = 0; i < c; i++) bias[i] += sign * v[i];
    x.weights.set(key, bias);
    if (WEIGHTED.has(l.kind)) l.config.useBias = true;
  }

  // x *= s per output channel: the kernel's output columns and the bias (gamma and beta for BN).
  private foldScale(d: GraphNodeDef, x: Pending, w: DecodedWeight): void {
    const l = x.layer!;
    const c = x.shape[x.shape.length - 1];
    const s = this.perChannel(d, w, c, x.shape.length + 1);
    if (!s) throw new ModelFormatError(`${this.file}: node '${d.name}': constant '${w.name}' of shape [${w.shape}] does not broadcast per channel over [${x.shape}]`, this.file, w.name);
    const keys = l.kind === 'batchNormalization' ? ['gamma', 'beta'] : l.kind === 'rescaling' ? ['scale', 'offset'] : [l.kind === 'depthwiseConv2d' ? 'depthwise_kernel' : 'kernel', 'bias'];
    for (const k of keys) {
      const a = x.weights.get(k);
      if (!a) continue;
      const scaled = a.slice();
      for (let i = 0; i < scaled.length; i++) scaled[i] *= s[i % c];
      x.weights.set(k, scaled);
    }
  }

  private convert(d: GraphNodeDef, ins: Value[]): Value {
    const file = this.file;
    switch (d.op) {
      case 'Const': {
        const w = this.weights.get(d.name);
        if (!w) throw new ModelFormatError(`${file}: constant '${d.name}' has no entry in weightsManifest`, file, d.name);
        return { kind: 'const', w, node: d.name };
      }
      case 'Placeholder': {
        const dims = d.attr?.shape?.shape?.dim?.map((x) => Number(x.size ?? -1));
        if (!dims || dims.length < 2 || dims.slice(1).some((x) => !(x > 0))) {
          throw new ModelFormatError(`${file}: input '${d.name}' has shape [${dims ?? 'unknown'}]; every dimension but the batch must be known`, file, d.name);
        }
        const p: Pending = { layer: null, inputs: [], shape: dims.slice(1), weights: new Map(), node: d.name };
        return { kind: 'tensor', p };
      }
      case 'Identity':
      case 'StopGradient':
        return ins[0];
      case 'Conv2D':
      case '_FusedConv2D': {
        this.nhwc(d);
        const x = this.tensorIn(d, ins, 0);
        const filter = this.constIn(d, ins, 1, 'filter');
        if (filter.shape.length !== 4 || filter.shape[2] !== x.shape[2]) {
          throw new ModelFormatError(`${file}: node '${d.name}': filter '${filter.name}' has shape [${filter.shape}], which does not fit its input [${x.shape}] (HWIO)`, file, filter.name);
        }
        const f = d.op === 'Conv2D' ? { bias: false, batchNorm: false, activation: null, alpha: 0.2 } : this.fused(d);
        const layer = layers.conv2d({
          name: this.layerName(d.name), filters: filter.shape[3], kernelSize: [filter.shape[0], filter.shape[1]],
          strides: this.spatial(d, 'strides'), dilationRate: this.spatial(d, 'dilations'), padding: this.padding(d), useBias: false,
        });
        const v = this.add(d.name, layer, [x], { kernel: Float32Array.from(filter.values) });
        return this.epilogue(d, ins, v, f, 2);
      }
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative': {
        this.nhwc(d);
        const x = this.tensorIn(d, ins, 0);
        const filter = this.constIn(d, ins, 1, 'filter');
        if (filter.shape.length !== 4 || filter.shape[2] !== x.shape[2]) {
          throw new ModelFormatError(`${file}: node '${d.name}': filter '${filter.name}' has shape [${filter.shape}], which does not fit its input [${x.shape}] (H, W, C, multiplier)`, file, filter.name);
        }
        const f = d.op === 'DepthwiseConv2dNative' ? { bias: false, batchNorm: false, activation: null, alpha: 0.2 } : this.fused(d);
        const layer = layers.depthwiseConv2d({
          name: this.layerName(d.name), kernelSize: [filter.shape[0], filter.shape[1]], depthMultiplier: filter.shape[3],
          strides: this.spatial(d, 'strides'), dilationRate: this.spatial(d, 'dilations'), padding: this.padding(d), useBias: false,
        });
        const v = this.add(d.name, layer, [x], { depthwise_kernel: Float32Array.from(filter.values) });
        return this.epilogue(d, ins, v, f, 2);
      }
      case 'MatMul':
      case '_FusedMatMul': {
        const x = this.tensorIn(d, ins, 0);
        const w = this.constIn(d, ins, 1, 'weights');
        if (d.attr?.transpose_a?.b) throw new UnsupportedOpError(d.op, d.name, file, 'transpose_a');
        const tb = !!d.attr?.transpose_b?.b;
        if (x.shape.length !== 1 || w.shape.length !== 2 || w.shape[tb ? 1 : 0] !== x.shape[0]) {
          throw new ModelFormatError(`${file}: node '${d.name}': weights '${w.name}' of shape [${w.shape}]${tb ? ' (transposed)' : ''} do not fit its input [batch, ${x.shape}]`, file, w.name);
        }
        const [k, n] = tb ? [w.shape[1], w.shape[0]] : w.shape;
        let kernel = Float32Array.from(w.values);
        if (tb) { kernel = new Float32Array(k * n); for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) kernel[i * n + j] = w.values[j * k + i]; }
        const f = d.op === 'MatMul' ? { bias: false, batchNorm: false, activation: null, alpha: 0.2 } : this.fused(d);
        if (f.batchNorm) throw new UnsupportedOpError(d.op, d.name, file, 'FusedBatchNorm after MatMul');
        const v = this.add(d.name, layers.dense(n, { name: this.layerName(d.name), useBias: false }), [x], { kernel });
        return this.epilogue(d, ins, v, f, 2);
      }
      case 'FusedBatchNorm':
      case 'FusedBatchNormV2':
      case 'FusedBatchNormV3': {
        if (d.attr?.is_training?.b) throw new UnsupportedOpError(d.op, d.name, file, 'is_training is true (a frozen graph must use moving statistics)');
        this.nhwc(d);
        const x = this.tensorIn(d, ins, 0);
        const [scale, offset, mean, variance] = [1, 2, 3, 4].map((k) => this.constIn(d, ins, k, ['scale', 'offset', 'mean', 'variance'][k - 1]));
        return this.batchNorm(d, d.name, x, scale, offset, mean, variance, d.attr?.epsilon?.f ?? 0.001);
      }
      case 'BiasAdd':
      case 'Add':
      case 'AddV2':
      case 'Sub':
      case 'Mul': {
        if (d.op === 'BiasAdd') this.nhwc(d);
        const [a, b] = ins;
        if (!a || !b) throw new ModelFormatError(`${file}: node '${d.name}' (${d.op}) needs two inputs`, file, d.name);
        if (a.kind === 'tensor' && b.kind === 'tensor') {
          if (d.op === 'Add' || d.op === 'AddV2') {
            const same = a.p.shape.length === b.p.shape.length && a.p.shape.every((x, i) => x === b.p.shape[i]);
            if (!same) throw new UnsupportedOpError(d.op, d.name, file, `broadcasting between two computed tensors [${a.p.shape}] and [${b.p.shape}]`);
            return this.add(d.name, layers.add({ name: this.layerName(d.name) }), [a.p, b.p]);
          }
          const same = a.p.shape.length === b.p.shape.length && a.p.shape.every((x, i) => x === b.p.shape[i]);
          if (!same || d.op === 'BiasAdd') throw new UnsupportedOpError(d.op, d.name, file, `broadcasting between two computed tensors [${a.p.shape}] and [${b.p.shape}]`);
          const layer = d.op === 'Sub' ? layers.subtract({ name: this.layerName(d.name) }) : layers.multiply({ name: this.layerName(d.name) });
          return this.add(d.name, layer, [a.p, b.p]);
        }
        if (a.kind === 'const' && b.kind === 'const') throw new UnsupportedOpError(d.op, d.name, file, 'of two constants (not folded by the converter)');
        const [x, c] = a.kind === 'tensor' ? [a.p, (b as { w: DecodedWeight }).w] : [(b as { p: Pending }).p, (a as { w: DecodedWeight }).w];
        if (d.op === 'BiasAdd') checkShape(c, [x.shape[x.shape.length - 1]], `the bias of node '${d.name}'`, file);
        const negate = d.op === 'Sub' && a.kind === 'const'; // c - x = -1 * x + c
        if (negate || !this.foldable(x, false)) {
          // No layer to fold into (the model input, a layer with other readers or an activation):
          // a Rescaling layer holds the constant, y = x * scale + offset.
          const ch = x.shape[x.shape.length - 1];
          const v = this.perChannel(d, c, ch, x.shape.length + 1);
          if (!v) throw new ModelFormatError(`${file}: node '${d.name}': constant '${c.name}' of shape [${c.shape}] does not broadcast per channel over [${x.shape}]`, file, c.name);
          const scale = d.op === 'Mul' ? v : new Float32Array(ch).fill(negate ? -1 : 1);
          const offset = d.op === 'Mul' ? new Float32Array(ch) : d.op === 'Sub' && !negate ? v.map((t) => -t) : v;
          const r = this.add(d.name, layers.rescaling(Array.from(scale), { name: this.layerName(d.name), offset: Array.from(offset) }), [x], { scale, offset });
          (r as { p: Pending }).p.node = d.name;
          return r;
        }
        if (d.op === 'Mul') this.foldScale(d, x, c);
        else this.foldBias(d, x, c, d.op === 'Sub' ? -1 : 1);
        x.node = d.name;
        return { kind: 'tensor', p: x };
      }
      case 'Relu':
      case 'Relu6':
      case 'Elu':
      case 'Sigmoid':
      case 'Tanh':
      case 'LeakyRelu':
      case 'Softmax':
        return this.activation(d, this.tensorIn(d, ins, 0), d.op, d.attr?.alpha?.f ?? 0.2, d.name, false);
      case 'MaxPool':
      case 'AvgPool': {
        this.nhwc(d);
        const x = this.tensorIn(d, ins, 0);
        const options = { name: this.layerName(d.name), poolSize: this.spatial(d, 'ksize'), strides: this.spatial(d, 'strides'), padding: this.padding(d) };
        return this.add(d.name, d.op === 'MaxPool' ? layers.maxPooling2d(options) : layers.averagePooling2d(options), [x]);
      }
      case 'Mean': {
        const x = this.tensorIn(d, ins, 0);
        const axes = [...this.constIn(d, ins, 1, 'axes').values].map((a) => (a < 0 ? a + x.shape.length + 1 : a)).sort();
        if (x.shape.length !== 3 || axes.length !== 2 || axes[0] !== 1 || axes[1] !== 2) {
          throw new UnsupportedOpError(d.op, d.name, file, `mean over axes [${axes}] of [batch, ${x.shape}] (only global spatial pooling, axes 1 and 2 of NHWC)`);
        }
        const keep = !!d.attr?.keep_dims?.b;
        const v = this.add(d.name, layers.globalAveragePooling2d({ name: this.layerName(keep ? `${d.name}/pool` : d.name) }), [x]);
        if (!keep) return v;
        return this.add(d.name, layers.reshape([1, 1, x.shape[2]], { name: this.layerName(d.name) }), [(v as { p: Pending }).p]);
      }
      case 'Reshape': {
        const x = this.tensorIn(d, ins, 0);
        const shape = [...this.constIn(d, ins, 1, 'shape').values];
        const target = shape.length >= 1 && (shape[0] === -1 || !shape.slice(1).includes(-1)) ? shape.slice(1) : null;
        if (!target || target.length === 0) throw new UnsupportedOpError(d.op, d.name, file, `target shape [${shape}] (the first dimension must be the batch)`);
        const flat = target.length === 1 && (target[0] === -1 || target[0] === x.shape.reduce((m, n) => m * n, 1));
        return this.add(d.name, flat ? layers.flatten({ name: this.layerName(d.name) }) : layers.reshape(target, { name: this.layerName(d.name) }), [x]);
      }
      case 'Pad':
      case 'PadV2': {
        const x = this.tensorIn(d, ins, 0);
        const pads = [...this.constIn(d, ins, 1, 'paddings').values];
        if (d.op === 'PadV2' && this.constIn(d, ins, 2, 'constant value').values[0] !== 0) throw new UnsupportedOpError(d.op, d.name, file, 'a non-zero padding value');
        if (x.shape.length !== 3 || pads.length !== 8 || pads[0] || pads[1] || pads[6] || pads[7]) {
          throw new UnsupportedOpError(d.op, d.name, file, `paddings [${pads}] of [batch, ${x.shape}] (only zero padding of height and width in NHWC)`);
        }
        return this.add(d.name, layers.zeroPadding2d({ name: this.layerName(d.name), padding: [[pads[2], pads[3]], [pads[4], pads[5]]] }), [x]);
      }
      case 'ResizeBilinear': {
        const x = this.tensorIn(d, ins, 0);
        const size = [...this.constIn(d, ins, 1, 'size').values];
        if (d.attr?.align_corners?.b || !d.attr?.half_pixel_centers?.b) throw new UnsupportedOpError(d.op, d.name, file, 'only half_pixel_centers without align_corners (Keras Resizing)');
        return this.add(d.name, layers.resizing(size[0], size[1], { name: this.layerName(d.name) }), [x]);
      }
      case 'ConcatV2': {
        const n = ins.length - 1;
        const axis = this.constIn(d, ins, n, 'axis').values[0];
        const xs = ins.slice(0, n).map((_, i) => this.tensorIn(d, ins, i));
        const rank = xs[0].shape.length + 1;
        if (axis !== -1 && axis !== rank - 1) throw new UnsupportedOpError(d.op, d.name, file, `concatenation on axis ${axis} (only the last axis)`);
        if (n === 1) return ins[0];
        return this.add(d.name, layers.concatenate({ name: this.layerName(d.name) }), xs);
      }
      default:
        throw new UnsupportedOpError(d.op, d.name, file);
    }
  }

  // Applies the layers in creation order and sets the weights (a missing bias created by folding
  // nothing stays zero).
  private build(output: Pending): Model {
    const tensors = new Map<Pending, SymbolicTensor>();
    let modelInput: SymbolicTensor | null = null;
    const tensorOf = (p: Pending): SymbolicTensor => {
      let t = tensors.get(p);
      if (!t) {
        if (p.layer) throw new Error(`internal: ${p.node} used before it is built`);
        t = modelInput = symbolicInput({ shape: p.shape, name: p.node.replace(/[^A-Za-z0-9_.-]+/g, '_') });
        tensors.set(p, t);
      }
      return t;
    };
    for (const p of this.created) {
      const layer = p.layer!;
      const ins = p.inputs.map(tensorOf);
      if (layer.kind === 'rescaling') { // the topology keeps the folded constants too
        layer.config.scale = Array.from(p.weights.get('scale')!);
        layer.config.offset = Array.from(p.weights.get('offset')!);
      }
      tensors.set(p, layer.apply(ins.length === 1 ? ins[0] : ins));
      const values = layer.weightSpecs.map((s) => {
        const v = p.weights.get(s.name);
        if (!v) return layer.values[layer.weightSpecs.indexOf(s)].fill(0);
        return checkShape({ name: `${p.node} ${s.name}`, shape: s.shape, dtype: 'float32', values: v }, s.shape, `layer ${layer.name}`, this.file);
      });
      for (const [k, v] of p.weights) {
        const spec = layer.weightSpecs.find((s) => s.name === k);
        if (!spec) throw new Error(`internal: layer ${layer.name} has no weight ${k}`);
        if (v.length !== spec.shape.reduce((a, b) => a * b, 1)) {
          throw new ModelFormatError(`${this.file}: node '${p.node}': weight ${k} has ${v.length} values, layer ${layer.name} expects [${spec.shape}]`, this.file, p.node);
        }
      }
      layer.setWeights(values);
    }
    const out = tensorOf(output);
    if (!modelInput) throw new ModelFormatError(`${this.file}: the output does not depend on the Placeholder input`, this.file);
    return new Model({ inputs: modelInput, outputs: out }, { name: 'graph_model' });
  }
}
