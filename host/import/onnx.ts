// ONNX -> an ordinary edgetune model (trainable, freezable, saveable). The protobuf is decoded by
// onnx-proto.ts (on our own wire-format reader, protobuf.ts); the graph is converted from ONNX's
// NCHW to our NHWC once, here: convolution weights are transposed (OIHW -> HWIO), and a Flatten of
// a CHW tensor becomes our HWC flatten with the following Gemm's rows permuted to match, so no
// transpose runs at inference or training time.
//
// The batch dimension may be symbolic ('N'); any other symbolic or unknown dimension is refused.
// Every refusal is a ModelFormatError naming the file and the node (or tensor).
import { ModelFormatError } from '../core/errors';
import { type Layer, input, type SymbolicTensor } from '../layers/layer';
import { layers } from '../layers/index';
import { type Model, model } from '../training/model';
import { UnsupportedOpError } from './errors';
import { type AttrValue, DTYPE_NAMES, FLOAT, type OnnxGraph, type OnnxNode, type OnnxTensor, parseOnnxModel } from './onnx-proto';
import { ProtoError } from './protobuf';

// How a value of the ONNX graph is held in ours. `shape` is ONNX's per-sample shape (no batch).
// plain: our tensor has the same row-major memory order (our shape may drop 1s, e.g. after
// GlobalAveragePool [C,1,1] -> [C]); nhwc: ONNX [C,H,W] is our [H,W,C]; chwFlat: ONNX flattened a
// [C,H,W] tensor in CHW order, we flattened our [H,W,C] in HWC order (the consumer permutes).
type Layout = { kind: 'plain' } | { kind: 'nhwc' } | { kind: 'chwFlat'; c: number; h: number; w: number };
interface Value {
  t: SymbolicTensor;
  shape: number[];
  layout: Layout;
}

export function importOnnx(bytes: Uint8Array, fileName: string): Model {
  let graph: OnnxGraph;
  try {
    graph = parseOnnxModel(bytes);
  } catch (e) {
    if (e instanceof ProtoError || e instanceof TypeError || e instanceof RangeError) {
      throw new ModelFormatError(`${fileName}: not a readable ONNX model (${e.message})`, fileName);
    }
    throw e instanceof ModelFormatError ? new ModelFormatError(`${fileName}: ${e.message}`, fileName, e.tensor) : e;
  }
  return new OnnxConverter(graph, fileName).convert();
}

// -------------------------------------------------------------------------------------------------
// Graph conversion

const IDENTITY_OPS = new Set(['Identity', 'Dropout']);
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
const sameList = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const ACTIVATIONS: Record<string, 'relu' | 'sigmoid' | 'tanh'> = { Relu: 'relu', Sigmoid: 'sigmoid', Tanh: 'tanh' };

class OnnxConverter {
  private readonly values = new Map<string, Value>();
  private readonly consts = new Map<string, OnnxTensor>();
  private readonly consumers = new Map<string, OnnxNode[]>();
  private readonly names = new Set<string>();
  private readonly done = new Set<OnnxNode>();
  private readonly pendingWeights: [Layer, Float32Array[]][] = [];

  constructor(private readonly g: OnnxGraph, private readonly file: string) {
    for (const [k, t] of g.initializers) this.consts.set(k, t);
    for (const n of g.nodes) for (const i of n.inputs) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
  }

  private fail(node: OnnxNode | null, what: string, tensor?: string): ModelFormatError {
    const where = node ? `node '${node.name}' (${node.op})` : tensor ? `tensor '${tensor}'` : 'graph';
    return new ModelFormatError(`${this.file}: ${where}: ${what}`, this.file, node?.name ?? tensor);
  }

  private layerName(node: OnnxNode, suffix = ''): string {
    // PyTorch names nodes by module path and op ('/layer1/conv/Conv'): keep the module path.
    const torch = /^\/(.+)\/[A-Za-z]+(?:_\d+)?$/.exec(node.name);
    let base = ((torch ? torch[1] : node.name) + suffix).replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || node.op.toLowerCase();
    if (this.names.has(base)) {
      let i = 1;
      while (this.names.has(`${base}_${i}`)) i++;
      base = `${base}_${i}`;
    }
    this.names.add(base);
    return base;
  }

  convert(): Model {
    const graphInputs = this.g.inputs.filter((i) => !this.consts.has(i.name));
    if (graphInputs.length !== 1) throw this.fail(null, `has ${graphInputs.length} inputs (${graphInputs.map((i) => i.name).join(', ')}); edgetune models take exactly one`);
    if (this.g.outputs.length !== 1) throw this.fail(null, `has ${this.g.outputs.length} outputs (${this.g.outputs.map((i) => i.name).join(', ')}); edgetune models have exactly one`);
    const gi = graphInputs[0];
    if (!gi.dims) throw this.fail(null, `input '${gi.name}' has no shape; export with a fixed input shape (batch may be symbolic)`, gi.name);
    const perSample = gi.dims.slice(1);
    const dynamic = perSample.findIndex((d) => typeof d !== 'number' || d <= 0);
    if (gi.dims.length < 2 || dynamic >= 0) {
      throw new ModelFormatError(`${this.file}: input '${gi.name}' has a dynamic shape [${gi.dims.map((d) => d ?? '?')}]: every dimension but the batch must be fixed` +
        (dynamic >= 0 ? ` (dimension ${dynamic + 1} is '${perSample[dynamic] ?? '?'}')` : ''), this.file, gi.name);
    }
    const shape = perSample as number[];
    // An NHWC input that the graph transposes to NCHW first (tf2onnx exports of Keras models) is
    // already our layout: the Transpose becomes a relabelling, no op.
    const readers = this.consumers.get(gi.name) ?? [];
    const nhwcInput = shape.length === 3 && readers.length > 0 && readers.every((n) => n.op === 'Transpose' && sameList(this.attr<number[]>(n, 'perm', []), TO_NCHW));
    if (shape.length === 3 && !nhwcInput) {
      const [c, h, w] = shape;
      this.values.set(gi.name, { t: input({ shape: [h, w, c], name: gi.name }), shape, layout: { kind: 'nhwc' } });
    } else {
      this.values.set(gi.name, { t: input({ shape, name: gi.name }), shape, layout: { kind: 'plain' } });
    }
    const inputTensor = this.values.get(gi.name)!.t;

    for (const node of this.g.nodes) {
      if (this.done.has(node)) continue;
      if (node.domain && node.domain !== 'ai.onnx') throw this.fail(node, `operator domain '${node.domain}' is not supported`);
      this.convertNode(node);
    }
    const out = this.values.get(this.g.outputs[0].name);
    if (!out) throw this.fail(null, `output '${this.g.outputs[0].name}' is not computed from the input`, this.g.outputs[0].name);
    if (out.layout.kind === 'chwFlat' && out.layout.h * out.layout.w > 1 && out.layout.c > 1) {
      throw this.fail(null, `output '${this.g.outputs[0].name}' is a flattened CHW tensor; edgetune keeps NHWC and would return it in HWC order`, this.g.outputs[0].name);
    }
    const m = model({ inputs: inputTensor, outputs: out.t, name: this.file.replace(/^.*[\\/]/, '').replace(/\.onnx$/i, '') });
    for (const [layer, ws] of this.pendingWeights) layer.setWeights(ws);
    return m;
  }

  private value(node: OnnxNode, name: string): Value {
    const v = this.values.get(name);
    if (v) return v;
    if (this.consts.has(name)) throw this.fail(node, `input '${name}' is a constant where a tensor computed from the model input is expected; not supported`);
    throw this.fail(node, `input '${name}' is not produced by any earlier node`);
  }

  private constant(node: OnnxNode, index: number, what: string): OnnxTensor {
    const name = node.inputs[index];
    const t = name ? this.consts.get(name) : undefined;
    if (!t) throw this.fail(node, `${what} (input ${index}${name ? ` '${name}'` : ''}) must be an initializer or a Constant; computed ${what}s are not supported`);
    return t;
  }

  private set(node: OnnxNode, v: Value): void {
    this.values.set(node.outputs[0], v);
  }

  private apply(layer: Layer, inputs: SymbolicTensor[], weights: Float32Array[] | null = null): SymbolicTensor {
    const t = layer.apply(inputs.length === 1 ? inputs[0] : inputs);
    if (weights) this.pendingWeights.push([layer, weights]);
    return t;
  }

  // An attribute of the fallback's type: a file giving another (pads as an INT) is refused by name.
  private attr<T extends AttrValue>(node: OnnxNode, name: string, fallback: T): T {
    if (!node.attrs.has(name)) return fallback;
    const v = node.attrs.get(name)!;
    const expected = Array.isArray(fallback) ? 'a list of ints' : typeof fallback === 'number' ? 'a number' : typeof fallback === 'string' ? 'a string' : 'a tensor';
    const ok = Array.isArray(fallback) ? Array.isArray(v) : typeof v === typeof fallback && Array.isArray(v) === Array.isArray(fallback);
    if (!ok) throw this.fail(node, `attribute '${name}' is ${Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a tensor' : `${typeof v} ${JSON.stringify(v)}`}, expected ${expected}`);
    return v as T;
  }

  private convertNode(node: OnnxNode): void {
    const op = node.op;
    if (op === 'Constant') {
      const t = node.attrs.get('value');
      const f = node.attrs.get('value_float');
      const fs = node.attrs.get('value_floats');
      const i = node.attrs.get('value_int');
      const is = node.attrs.get('value_ints');
      const data = t && typeof t === 'object' && !Array.isArray(t) ? t
        : f !== undefined ? { name: node.outputs[0], dims: [], data: Float32Array.of(f as number) }
        : i !== undefined ? { name: node.outputs[0], dims: [], data: Float32Array.of(i as number) }
        : fs !== undefined ? { name: node.outputs[0], dims: [(fs as number[]).length], data: Float32Array.from(fs as number[]) }
        : is !== undefined ? { name: node.outputs[0], dims: [(is as number[]).length], data: Float32Array.from(is as number[]) } : null;
      if (!data) throw this.fail(node, 'only tensor, float and int values are supported');
      this.consts.set(node.outputs[0], { ...data, name: node.outputs[0] });
      return;
    }
    if (op === 'Cast' && this.consts.has(node.inputs[0])) {
      // Folded: a Cast of a float16 (or integer) initializer to float, as float16-weight exports have.
      const to = this.attr(node, 'to', FLOAT);
      if (to !== FLOAT) throw this.fail(node, `Cast of constant '${node.inputs[0]}' to type ${DTYPE_NAMES[to] ?? to}: only FLOAT is supported`);
      this.consts.set(node.outputs[0], { ...this.consts.get(node.inputs[0])!, name: node.outputs[0] });
      return;
    }
    if (IDENTITY_OPS.has(op)) {
      this.set(node, this.value(node, node.inputs[0]));
      return;
    }
    switch (op) {
      case 'Gemm': return this.gemm(node);
      case 'MatMul': return this.matmul(node);
      case 'Conv': return this.conv(node);
      case 'BatchNormalization': return this.batchNorm(node);
      case 'Relu': case 'Sigmoid': case 'Tanh': case 'LeakyRelu': {
        const x = this.value(node, node.inputs[0]);
        const name = this.layerName(node);
        const layer = op === 'LeakyRelu' ? layers.leakyRelu({ negativeSlope: this.attr(node, 'alpha', 0.01), name }) : layers.activation(ACTIVATIONS[op], { name });
        this.set(node, { ...x, t: this.apply(layer, [x.t]) });
        return;
      }
      case 'Softmax': {
        const x = this.value(node, node.inputs[0]);
        const rank = x.shape.length + 1;
        const axis = this.attr(node, 'axis', this.g.opset >= 13 ? -1 : 1);
        const a = axis < 0 ? axis + rank : axis;
        const lastOfOurs = x.layout.kind === 'nhwc' ? a === 1 : a === rank - 1 && (x.layout.kind === 'plain' || rank === 2);
        if (!lastOfOurs || (x.layout.kind === 'chwFlat')) throw this.fail(node, `softmax over axis ${axis} of a rank-${rank} tensor: only the channel (last) axis is supported`);
        this.set(node, { ...x, t: this.apply(layers.softmax({ name: this.layerName(node) }), [x.t]) });
        return;
      }
      case 'MaxPool': case 'AveragePool': return this.pool(node);
      case 'GlobalAveragePool': {
        const x = this.nhwc(node, this.value(node, node.inputs[0]));
        const t = this.apply(layers.globalAveragePooling2d({ name: this.layerName(node) }), [x.t]);
        this.set(node, { t, shape: [x.shape[0], 1, 1], layout: { kind: 'plain' } });
        return;
      }
      case 'Flatten': {
        const axis = this.attr(node, 'axis', 1);
        if (axis !== 1) throw this.fail(node, `Flatten with axis ${axis}: only axis 1 (keep the batch) is supported`);
        this.set(node, this.flatten(node, this.value(node, node.inputs[0])));
        return;
      }
      case 'Reshape': return this.reshape(node);
      case 'Transpose': {
        // Only the two layout changes, which cost nothing here: NHWC -> NCHW and back.
        const x = this.value(node, node.inputs[0]);
        const perm = this.attr<number[]>(node, 'perm', []);
        if (x.layout.kind === 'plain' && x.shape.length === 3 && x.t.shape.length === 3 && sameList(perm, TO_NCHW)) {
          const [h, w, c] = x.shape;
          this.set(node, { t: x.t, shape: [c, h, w], layout: { kind: 'nhwc' } });
        } else if (x.layout.kind === 'nhwc' && sameList(perm, TO_NHWC)) {
          const [c, h, w] = x.shape;
          this.set(node, { t: x.t, shape: [h, w, c], layout: { kind: 'plain' } });
        } else {
          throw this.fail(node, `Transpose with perm [${perm}] of [N, ${x.shape}]: only NHWC <-> NCHW ([0, 3, 1, 2] and [0, 2, 3, 1]) is supported`);
        }
        return;
      }
      case 'Add': case 'Mul': case 'Sub': case 'Div': return this.binary(node);
      case 'Concat': {
        const xs = node.inputs.map((i) => this.value(node, i));
        const rank = xs[0].shape.length + 1;
        const axis = this.attr(node, 'axis', 1);
        const a = axis < 0 ? axis + rank : axis;
        const kind = xs[0].layout.kind;
        if (!xs.every((x) => x.layout.kind === kind) || kind === 'chwFlat') throw this.fail(node, 'inputs have different layouts (mixing image and flattened tensors)');
        if (kind === 'nhwc' ? a !== 1 : a !== rank - 1) throw this.fail(node, `concatenation on axis ${axis} of rank-${rank} tensors: only the channel axis is supported`);
        const t = this.apply(layers.concatenate({ name: this.layerName(node) }), xs.map((x) => x.t));
        const shape = [...xs[0].shape];
        shape[kind === 'nhwc' ? 0 : shape.length - 1] = xs.reduce((n, x) => n + x.shape[kind === 'nhwc' ? 0 : x.shape.length - 1], 0);
        this.set(node, { t, shape, layout: xs[0].layout });
        return;
      }
      default:
        throw new UnsupportedOpError(op, node.name, this.file, 'supported: Gemm, MatMul, Conv, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, ' +
          'MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Transpose (NHWC <-> NCHW), Add, Sub, Mul, Div (by a constant), Concat, Softmax, Identity, Dropout, Constant, Cast of constants');
    }
  }

  private nhwc(node: OnnxNode, x: Value): Value {
    if (x.layout.kind !== 'nhwc') throw this.fail(node, `needs an image tensor [N, C, H, W], got [N, ${x.shape}]`);
    return x;
  }

  private flatten(node: OnnxNode, x: Value): Value {
    const size = x.shape.reduce((a, b) => a * b, 1);
    const flat = (layout: Layout): Value => {
      const t = x.t.shape.length === 1 ? x.t : this.apply(layers.flatten({ name: this.layerName(node) }), [x.t]);
      return { t, shape: [size], layout };
    };
    if (x.layout.kind === 'nhwc') {
      const [c, h, w] = x.shape;
      return flat(c === 1 || h * w === 1 ? { kind: 'plain' } : { kind: 'chwFlat', c, h, w });
    }
    return flat(x.layout);
  }

  // Dense kernel [K, N] from ONNX's B (K, N), rows reordered when the input is a CHW flatten.
  private denseKernel(x: Value, kernel: Float32Array, k: number, n: number): Float32Array {
    if (x.layout.kind !== 'chwFlat') return kernel;
    const { c, h, w } = x.layout;
    const out = new Float32Array(kernel.length);
    for (let ci = 0; ci < c; ci++) {
      for (let hi = 0; hi < h; hi++) {
        for (let wi = 0; wi < w; wi++) {
          const onnxRow = (ci * h + hi) * w + wi;
          const ourRow = (hi * w + wi) * c + ci;
          out.set(kernel.subarray(onnxRow * n, onnxRow * n + n), ourRow * n);
        }
      }
    }
    void k;
    return out;
  }

  private denseInput(node: OnnxNode, x: Value): number {
    if (x.shape.length !== 1) throw this.fail(node, `needs a [N, K] input, got [N, ${x.shape}]`);
    return x.shape[0];
  }

  private gemm(node: OnnxNode): void {
    const x = this.value(node, node.inputs[0]);
    if (this.attr(node, 'transA', 0)) throw this.fail(node, 'transA = 1 is not supported (the input is the model\'s activation)');
    const k = this.denseInput(node, x);
    const bt = this.constant(node, 1, 'weight');
    const transB = this.attr(node, 'transB', 0);
    const alpha = this.attr(node, 'alpha', 1);
    const beta = this.attr(node, 'beta', 1);
    if (bt.dims.length !== 2) throw this.fail(node, `weight '${bt.name}' has shape [${bt.dims}], expected rank 2`, bt.name);
    const [r, c] = bt.dims;
    const wantK = transB ? c : r;
    const n = transB ? r : c;
    if (wantK !== k) throw this.fail(node, `weight '${bt.name}' has shape [${bt.dims}]${transB ? ' (transB)' : ''}: ${wantK} inputs, but the input has ${k} features`, bt.name);
    const kernel = new Float32Array(k * n);
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) kernel[i * n + j] = alpha * (transB ? bt.data[j * k + i] : bt.data[i * n + j]);
    let bias: Float32Array | null = null;
    if (node.inputs[2]) {
      const ct = this.constant(node, 2, 'bias');
      const size = ct.data.length;
      if (!(size === n || size === 1) || (ct.dims.length === 2 && ct.dims[0] !== 1)) throw this.fail(node, `bias '${ct.name}' has shape [${ct.dims}], expected [${n}]`, ct.name);
      bias = new Float32Array(n);
      for (let j = 0; j < n; j++) bias[j] = beta * ct.data[size === 1 ? 0 : j];
    } else if (this.biasWanted(node.outputs[0])) bias = new Float32Array(n);
    this.dense(node, x, k, n, kernel, bias);
  }

  private dense(node: OnnxNode, x: Value, k: number, n: number, kernel: Float32Array, bias: Float32Array | null, outputOf: OnnxNode = node): void {
    const layer = layers.dense(n, { name: this.layerName(node), useBias: bias !== null });
    const w = this.denseKernel(x, kernel, k, n);
    const t = this.apply(layer, [x.t], bias ? [w, bias] : [w]);
    this.values.set(outputOf.outputs[0], { t, shape: [n], layout: { kind: 'plain' } });
  }

  // MatMul with a constant [K, N]; a following Add of a constant [N] becomes the dense bias.
  private matmul(node: OnnxNode): void {
    const x = this.value(node, node.inputs[0]);
    const k = this.denseInput(node, x);
    const bt = this.constant(node, 1, 'weight');
    if (bt.dims.length !== 2 || bt.dims[0] !== k) throw this.fail(node, `weight '${bt.name}' has shape [${bt.dims}], expected [${k}, units] for an input with ${k} features`, bt.name);
    const n = bt.dims[1];
    const users = this.consumers.get(node.outputs[0]) ?? [];
    const add = users.length === 1 && users[0].op === 'Add' ? users[0] : null;
    const biasName = add ? add.inputs.find((i) => i !== node.outputs[0]) : undefined;
    const bias = biasName !== undefined ? this.consts.get(biasName) : undefined;
    if (add && bias && bias.data.length === n && this.g.outputs[0].name !== node.outputs[0]) {
      this.done.add(add);
      this.dense(node, x, k, n, bt.data, bias.data.slice(), add);
      return;
    }
    this.dense(node, x, k, n, bt.data.slice(), this.biasWanted(node.outputs[0]) ? new Float32Array(n) : null);
  }

  // 'valid', Keras 'same', or explicit [top, left, bottom, right] pads that neither expresses.
  private padding(node: OnnxNode, h: number, w: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number): 'same' | 'valid' | number[] {
    const autoPad = this.attr<string>(node, 'auto_pad', 'NOTSET');
    if (autoPad === 'VALID') return 'valid';
    if (autoPad === 'SAME_UPPER') return 'same';
    const pads = this.attr<number[]>(node, 'pads', [0, 0, 0, 0]);
    if (autoPad === 'SAME_LOWER') {
      // same as SAME_UPPER when the total padding is even
      const even = [[h, kh, sh, dh], [w, kw, sw, dw]].every(([n, k, s, d]) => (Math.max((Math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)) % 2 === 0);
      if (even) return 'same';
      throw this.fail(node, 'auto_pad SAME_LOWER with odd padding is not supported');
    }
    if (pads.every((p) => p === 0)) return 'valid';
    const same = (n: number, k: number, s: number, d: number) => {
      const total = Math.max((Math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    const [ht, hb] = same(h, kh, sh, dh);
    const [wl, wr] = same(w, kw, sw, dw);
    if (pads[0] === ht && pads[1] === wl && pads[2] === hb && pads[3] === wr) return 'same';
    if (pads.length !== 4 || !pads.every((p) => Number.isInteger(p) && p >= 0)) throw this.fail(node, `pads [${pads}] must be four non-negative integers`);
    return pads;
  }

  // Explicit pads as a zeroPadding2d layer in front (exact for convolutions and for averages that
  // count the padding); `padding` is then 'valid'.
  private padded(node: OnnxNode, x: Value, pads: number[]): Value {
    const [t, l, b, r] = pads;
    const layer = layers.zeroPadding2d({ padding: [[t, b], [l, r]], name: this.layerName(node, '_pad') });
    const y = this.apply(layer, [x.t]);
    return { t: y, shape: [x.shape[0], x.shape[1] + t + b, x.shape[2] + l + r], layout: { kind: 'nhwc' } };
  }

  private conv(node: OnnxNode): void {
    const x = this.nhwc(node, this.value(node, node.inputs[0]));
    const [c, h, w] = x.shape;
    const wt = this.constant(node, 1, 'weight');
    if (wt.dims.length !== 4) throw this.fail(node, `weight '${wt.name}' has shape [${wt.dims}], expected [M, C/group, kH, kW]`, wt.name);
    const [m, cg, kh, kw] = wt.dims;
    const group = this.attr(node, 'group', 1);
    if (cg * group !== c || m % group) throw this.fail(node, `weight '${wt.name}' has shape [${wt.dims}] with group ${group}, but the input has ${c} channels`, wt.name);
    const ks = this.attr<number[]>(node, 'kernel_shape', [kh, kw]);
    if (ks[0] !== kh || ks[1] !== kw) throw this.fail(node, `kernel_shape [${ks}] does not match weight '${wt.name}' [${wt.dims}]`, wt.name);
    const [sh, sw] = this.attr<number[]>(node, 'strides', [1, 1]);
    const [dh, dw] = this.attr<number[]>(node, 'dilations', [1, 1]);
    const pads = this.padding(node, h, w, kh, kw, sh, sw, dh, dw);
    const input = Array.isArray(pads) ? this.padded(node, x, pads) : x;
    const padding = Array.isArray(pads) ? 'valid' : pads;
    let bias: Float32Array | null = null;
    if (node.inputs[2]) {
      const bt = this.constant(node, 2, 'bias');
      if (bt.data.length !== m) throw this.fail(node, `bias '${bt.name}' has ${bt.data.length} values, expected ${m}`, bt.name);
      bias = bt.data.slice();
    } else if (this.biasWanted(node.outputs[0])) bias = new Float32Array(m);
    const name = this.layerName(node);
    const common = { kernelSize: [kh, kw] as [number, number], strides: [sh, sw] as [number, number], dilationRate: [dh, dw] as [number, number], padding, useBias: bias !== null, name };
    let layer: Layer;
    let kernel: Float32Array;
    if (group === 1) {
      // OIHW -> HWIO
      kernel = new Float32Array(wt.data.length);
      for (let o = 0; o < m; o++) for (let i = 0; i < c; i++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) {
        kernel[((y * kw + z) * c + i) * m + o] = wt.data[((o * c + i) * kh + y) * kw + z];
      }
      layer = layers.conv2d({ filters: m, ...common });
    } else if (group === c) {
      // Depthwise: output channel o = ci * mult + j reads input channel ci; [M, 1, kH, kW] -> [kH, kW, C, mult].
      const mult = m / c;
      kernel = new Float32Array(wt.data.length);
      for (let ci = 0; ci < c; ci++) for (let j = 0; j < mult; j++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) {
        kernel[((y * kw + z) * c + ci) * mult + j] = wt.data[((ci * mult + j) * kh + y) * kw + z];
      }
      layer = layers.depthwiseConv2d({ depthMultiplier: mult, ...common });
    } else {
      throw this.fail(node, `grouped convolution with group ${group} of ${c} channels: edgetune has ordinary (group 1) and depthwise (group = channels) convolutions only`);
    }
    const t = this.apply(layer, [input.t], bias ? [kernel, bias] : [kernel]);
    this.set(node, { t, shape: [t.shape[2], t.shape[0], t.shape[1]], layout: { kind: 'nhwc' } });
  }

  private pool(node: OnnxNode): void {
    const x = this.nhwc(node, this.value(node, node.inputs[0]));
    const [, h, w] = x.shape;
    const [kh, kw] = this.attr<number[]>(node, 'kernel_shape', []);
    if (kh === undefined || kw === undefined) throw this.fail(node, 'kernel_shape must have two entries');
    const [sh, sw] = this.attr<number[]>(node, 'strides', [1, 1]);
    const [dh, dw] = this.attr<number[]>(node, 'dilations', [1, 1]);
    if (dh !== 1 || dw !== 1) throw this.fail(node, `dilations [${dh}, ${dw}] are not supported for pooling`);
    const includePad = this.attr(node, 'count_include_pad', 0);
    const rawPads = this.attr<number[]>(node, 'pads', [0, 0, 0, 0]);
    // An average that counts its padding is a zero padding and a 'valid' average, even where the
    // pads equal Keras 'same' (which averages over the taps inside the input only).
    const countedPads = node.op === 'AveragePool' && includePad && this.attr<string>(node, 'auto_pad', 'NOTSET') === 'NOTSET' && rawPads.some((p) => p !== 0);
    const pads = countedPads ? rawPads : this.padding(node, h, w, kh, kw, sh, sw, 1, 1);
    if (Array.isArray(pads) && !(node.op === 'AveragePool' && includePad)) {
      throw this.fail(node, `pads [${pads}] on a ${h}x${w} input are neither 'valid' nor Keras 'same'; explicit pooling pads are supported only for AveragePool with count_include_pad = 1`);
    }
    const input = Array.isArray(pads) ? this.padded(node, x, pads) : x;
    const padding = Array.isArray(pads) ? 'valid' : pads;
    if (this.attr(node, 'ceil_mode', 0)) {
      const floorOut = (n: number, k: number, s: number) => Math.floor((n - k) / s) + 1;
      const ceilOut = (n: number, k: number, s: number) => Math.ceil((n - k) / s) + 1;
      const [, ph, pw] = input.shape;
      if (padding !== 'valid' || floorOut(ph, kh, sh) !== ceilOut(ph, kh, sh) || floorOut(pw, kw, sw) !== ceilOut(pw, kw, sw)) {
        throw this.fail(node, 'ceil_mode = 1 changes the output size here; not supported');
      }
    }
    if (node.op === 'AveragePool' && padding === 'same' && includePad) {
      throw this.fail(node, 'count_include_pad = 1 with padding: Keras averages over the taps inside the input only');
    }
    const options = { poolSize: [kh, kw] as [number, number], strides: [sh, sw] as [number, number], padding, name: this.layerName(node) };
    const layer = node.op === 'MaxPool' ? layers.maxPooling2d(options) : layers.averagePooling2d(options);
    const t = this.apply(layer, [input.t]);
    this.set(node, { t, shape: [t.shape[2], t.shape[0], t.shape[1]], layout: { kind: 'nhwc' } });
  }

  private batchNorm(node: OnnxNode): void {
    const x = this.value(node, node.inputs[0]);
    const c = x.shape[0];
    if (!(x.layout.kind === 'nhwc' || (x.layout.kind === 'plain' && x.shape.length === 1))) {
      throw this.fail(node, `batch normalization of a [N, ${x.shape}] tensor: only [N, C, H, W] and [N, C] are supported`);
    }
    const ws = ['scale', 'bias', 'mean', 'variance'].map((what, i) => {
      const t = this.constant(node, i + 1, what);
      if (t.data.length !== c) throw this.fail(node, `${what} '${t.name}' has ${t.data.length} values, expected ${c} (channels)`, t.name);
      return t.data.slice();
    });
    const layer = layers.batchNormalization({ epsilon: this.attr(node, 'epsilon', 1e-5), momentum: this.attr(node, 'momentum', 0.9), name: this.layerName(node) });
    this.set(node, { ...x, t: this.apply(layer, [x.t], ws) });
  }

  private reshape(node: OnnxNode): void {
    const x = this.value(node, node.inputs[0]);
    const target = Array.from(this.constant(node, 1, 'shape').data);
    const size = x.shape.reduce((a, b) => a * b, 1);
    // The first entry is the batch (0 copies it, -1 or a number keeps it).
    const rest = target.slice(1).map((d, i) => (d === 0 && this.attr(node, 'allowzero', 0) === 0 ? x.shape[i] : d));
    const known = rest.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const resolved = rest.map((d) => (d === -1 ? size / known : d));
    if (target.length < 2 || !resolved.every((d) => Number.isInteger(d) && d > 0) || resolved.reduce((a, b) => a * b, 1) !== size) {
      throw this.fail(node, `cannot reshape [N, ${x.shape}] to [${target}] keeping the batch dimension first`);
    }
    if (resolved.length === 1) {
      this.set(node, this.flatten(node, x));
      return;
    }
    if (x.layout.kind === 'chwFlat' || (x.layout.kind === 'nhwc' && x.shape[0] > 1 && x.shape[1] * x.shape[2] > 1)) {
      throw this.fail(node, `reshaping the image tensor [N, ${x.shape}] to [${target}] would need a transpose from NHWC; not supported`);
    }
    // Memory order is ONNX's: an image result is [C, H, W] -> ours [H, W, C] only when C or H*W is 1.
    let ours = resolved;
    let layout: Layout = { kind: 'plain' };
    if (resolved.length === 3) {
      const [c, h, w] = resolved;
      if (c !== 1 && h * w !== 1) throw this.fail(node, `reshaping to the image shape [${target}] would need a transpose to NHWC; not supported`);
      ours = [h, w, c];
      layout = { kind: 'nhwc' };
    }
    const t = this.apply(layers.reshape(ours, { name: this.layerName(node) }), [x.t]);
    this.set(node, { t, shape: resolved, layout });
  }

  // Whether the layer that produces `name` should have a bias so that a later Add of a constant can
  // be folded into it (through a chain of single-reader Mul/Add-with-constant nodes).
  private biasWanted(name: string): boolean {
    for (let cur = name; ;) {
      const users = this.consumers.get(cur) ?? [];
      if (users.length !== 1 || cur === this.g.outputs[0].name) return false;
      const u = users[0];
      if (!['Add', 'Mul', 'Sub', 'Div'].includes(u.op) || !u.inputs.some((i) => this.consts.has(i) && i !== cur)) return false;
      if (u.op === 'Add' || u.op === 'Sub') return u.inputs[0] === cur || u.op === 'Add';
      cur = u.outputs[0];
    }
  }

  // Add or Mul of a per-channel (or scalar) constant, folded into the weights of the layer that
  // produced the tensor: a dense or convolution (bias, kernel columns) or a batch normalization
  // (beta, gamma). The tensor must be read by this node alone.
  // Folded into the producer when it can be; otherwise a rescaling layer (y = x * scale + offset).
  private constantOperand(node: OnnxNode, tensorName: string, c: OnnxTensor, op: 'Add' | 'Mul' | 'Sub-from'): void {
    const x = this.value(node, tensorName);
    const layer = x.t.layer;
    const channels = x.layout.kind === 'nhwc' ? x.shape[0] : x.shape[x.shape.length - 1];
    const perChannel = c.data.length === 1 || (x.layout.kind !== 'chwFlat' && c.data.length === channels &&
      (x.layout.kind === 'nhwc' ? c.dims.filter((d) => d !== 1).length <= 1 && c.dims.length >= 3 && c.dims[c.dims.length - 3] === channels
        : c.dims[c.dims.length - 1] === channels));
    if (!perChannel) throw this.fail(node, `constant '${c.name}' of shape [${c.dims}] does not broadcast per channel over [N, ${x.shape}]; not supported`, c.name);
    const pending = this.pendingWeights.find(([l]) => l === layer);
    const readers = this.consumers.get(tensorName)?.length ?? 0;
    const foldable = op !== 'Sub-from' && !!layer && !!pending && readers === 1 && tensorName !== this.g.outputs[0].name &&
      ['dense', 'conv2d', 'depthwiseConv2d', 'batchNormalization'].includes(layer.kind) && (op === 'Mul' || layer.kind === 'batchNormalization' || !!pending[1][1]);
    const values = Array.from(c.data.length === 1 ? [c.data[0]] : c.data);
    const one = (v: number[]) => (v.length === 1 ? v[0] : v);
    if (!foldable) {
      const scale = op === 'Mul' ? one(values) : op === 'Sub-from' ? -1 : 1;
      const offset = op === 'Add' ? one(values) : op === 'Sub-from' ? one(values) : 0;
      const t = this.apply(layers.rescaling(scale, { offset, name: this.layerName(node) }), [x.t]);
      this.set(node, { ...x, t });
      return;
    }
    const v = (j: number) => c.data[c.data.length === 1 ? 0 : j];
    const ws = pending![1];
    if (layer!.kind === 'batchNormalization') {
      const names = layer!.weightSpecs.map((s) => s.name);
      const gamma = ws[names.indexOf('gamma')];
      const beta = ws[names.indexOf('beta')];
      for (let j = 0; j < channels; j++) {
        if (op === 'Mul') { gamma[j] *= v(j); beta[j] *= v(j); } else beta[j] += v(j);
      }
    } else if (op === 'Mul') {
      for (let i = 0; i < ws[0].length; i++) ws[0][i] *= v(i % channels);
      if (ws[1]) for (let j = 0; j < channels; j++) ws[1][j] *= v(j);
    } else {
      for (let j = 0; j < channels; j++) ws[1][j] += v(j);
    }
    this.set(node, x);
  }

  private binary(node: OnnxNode): void {
    const [a, b] = node.inputs;
    if (this.consts.has(a) && this.consts.has(b)) throw this.fail(node, `${node.op} of two constants is not supported`);
    if (this.consts.has(a) || this.consts.has(b)) {
      const constFirst = this.consts.has(a);
      const c = this.consts.get(constFirst ? a : b)!;
      const tensorName = constFirst ? b : a;
      // x - c = x + (-c); x / c = x * (1/c); c - x = -x + c (a rescaling); c / x is refused.
      if (node.op === 'Div' && constFirst) throw this.fail(node, `constant '${c.name}' divided by a tensor is not supported`, c.name);
      if (node.op === 'Sub' && constFirst) {
        this.constantOperand(node, tensorName, c, 'Sub-from');
        return;
      }
      const data = node.op === 'Sub' ? c.data.map((v) => -v) : node.op === 'Div' ? c.data.map((v) => 1 / v) : c.data;
      this.constantOperand(node, tensorName, { ...c, data }, node.op === 'Sub' ? 'Add' : node.op === 'Div' ? 'Mul' : node.op as 'Add' | 'Mul');
      return;
    }
    if (node.op === 'Div') throw this.fail(node, 'division of two tensors is not supported');
    const x = this.value(node, a);
    const y = this.value(node, b);
    const same = x.layout.kind === y.layout.kind && x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i]);
    if (!same) throw this.fail(node, `operands of shapes [N, ${x.shape}] and [N, ${y.shape}]: broadcasting is not supported`);
    let layer: Layer;
    if (node.op === 'Add') layer = layers.add({ name: this.layerName(node) });
    else if (node.op === 'Sub') layer = layers.subtract({ name: this.layerName(node) });
    else layer = layers.multiply({ name: this.layerName(node) });
    this.set(node, { ...x, t: this.apply(layer, [x.t, y.t]) });
  }
}
