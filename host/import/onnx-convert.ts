// The ONNX graph walk: values and constants, constant folding, layouts (onnx-layout.ts) and the
// data moves they need, the graph's inputs and outputs (or the cut the caller asked for). The ops
// themselves are in onnx-nn.ts, onnx-math.ts and onnx-shape.ts.
import { InvalidArgumentError, ModelFormatError, ShapeError } from '../core/errors';
import { type Layer, input, type SymbolicTensor } from '../layers/layer';
import { layers } from '../layers/index';
import { type Model, model } from '../training/model';
import { UnsupportedOpError } from './errors';
import { BATCH, foldNode, type Widen } from './onnx-fold';
import { type Layout, canonical, compact, conversion, IMAGE_PERM, isCanonical, ourShape, preferredPerm, reshaped, sameList, sizeOf } from './onnx-layout';
import { L, MissingLayerError } from './onnx-layers';
import type { AttrValue, OnnxGraph, OnnxNode, OnnxTensor } from './onnx-proto';

// A value of the ONNX graph as held in ours: `shape` is ONNX's per-sample shape (no batch), `layout`
// how our tensor's memory maps onto it. t.shape is ourShape(layout) up to unit axes.
export interface Value {
  t: SymbolicTensor;
  shape: number[];
  layout: Layout;
}

export interface OnnxImportOptions {
  // graph inputs to start from (any tensor of the graph: the model then takes it as input)
  inputs?: string[];
  // tensors to return, in this order (any node's output: a backbone's feature map)
  outputs?: string[];
  // per-sample shape (ONNX order, no batch) for inputs whose shape is dynamic; one shape for a
  // single-input model or { name: shape }
  inputShape?: number[] | Record<string, number[]>;
  // the memory order of image outputs ([N, C, H, W] in the file): 'nchw' (the default) returns
  // them as the file and onnxruntime do, through a final permute; 'nhwc' returns the NHWC maps the
  // layers compute (no permute: cheaper, and what a new head on a feature map wants)
  outputLayout?: 'nchw' | 'nhwc';
}

export type OpFn = (c: Converter, node: OnnxNode) => void;

const DATA_DEPENDENT = new Set(['NonMaxSuppression', 'TopK', 'NonZero', 'Loop', 'If', 'Scan', 'Unique', 'Compress', 'RoiAlign', 'SequenceConstruct']);

export class Converter {
  readonly values = new Map<string, Value>();
  readonly consts = new Map<string, OnnxTensor>();
  readonly consumers = new Map<string, OnnxNode[]>();
  readonly pendingWeights: [Layer, Float32Array[]][] = [];
  readonly outputNames: string[];
  private readonly names = new Set<string>();

  constructor(readonly g: OnnxGraph, readonly file: string, private readonly ops: Record<string, OpFn>, private readonly options: OnnxImportOptions) {
    for (const [k, t] of g.initializers) this.consts.set(k, t);
    for (const n of g.nodes) for (const i of n.inputs) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
    this.outputNames = options.outputs ?? g.outputs.map((o) => o.name);
  }

  get opset(): number {
    return this.g.opset;
  }

  fail(node: OnnxNode | null, what: string, tensor?: string): ModelFormatError {
    const where = node ? `node '${node.name}' (${node.op})` : tensor ? `tensor '${tensor}'` : 'graph';
    return new ModelFormatError(`${this.file}: ${where}: ${what}`, this.file, node?.name ?? tensor);
  }

  layerName(node: OnnxNode, suffix = ''): string {
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

  apply(layer: Layer, inputs: SymbolicTensor[], weights: Float32Array[] | null = null): SymbolicTensor {
    const t = layer.apply(inputs.length === 1 ? inputs[0] : inputs);
    if (weights) this.pendingWeights.push([layer, weights]);
    return t;
  }

  // An attribute of the fallback's type: a file giving another (pads as an INT) is refused by name.
  attr<T extends AttrValue | undefined>(node: OnnxNode, name: string, fallback: T): Widen<T> {
    if (!node.attrs.has(name)) return fallback as Widen<T>;
    const v = node.attrs.get(name)!;
    if (fallback === undefined) return v as Widen<T>;
    const expected = Array.isArray(fallback) ? 'a list of ints' : typeof fallback === 'number' ? 'a number' : typeof fallback === 'string' ? 'a string' : 'a tensor';
    const ok = Array.isArray(fallback) ? Array.isArray(v) : typeof v === typeof fallback && Array.isArray(v) === Array.isArray(fallback);
    if (!ok) throw this.fail(node, `attribute '${name}' is ${Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a tensor' : `${typeof v} ${JSON.stringify(v)}`}, expected ${expected}`);
    return v as Widen<T>;
  }

  value(node: OnnxNode, name: string): Value {
    const v = this.values.get(name);
    if (v) return v;
    if (this.consts.has(name)) throw this.fail(node, `input '${name}' is a constant where a tensor computed from the model input is expected; not supported`);
    throw this.fail(node, `input '${name}' is not produced by any earlier node`);
  }

  isConst(name: string | undefined): boolean {
    return !!name && this.consts.has(name);
  }

  constant(node: OnnxNode, index: number, what: string): OnnxTensor {
    const name = node.inputs[index];
    const t = name ? this.consts.get(name) : undefined;
    if (!t) throw this.fail(node, `${what} (input ${index}${name ? ` '${name}'` : ''}) must be constant (an initializer, a Constant or computed from them and static shapes); computed ${what}s are not supported`);
    return t;
  }

  optionalConstant(node: OnnxNode, index: number, what: string): OnnxTensor | undefined {
    return node.inputs[index] ? this.constant(node, index, what) : undefined;
  }

  set(node: OnnxNode, v: Value, index = 0): void {
    this.values.set(node.outputs[index], v);
  }

  // A new value whose tensor has our shape for `layout`.
  make(t: SymbolicTensor, shape: number[], perm: number[] = preferredPerm(shape)): Value {
    return { t, shape, layout: canonical(shape, perm) };
  }

  reshapeLayer(node: OnnxNode, t: SymbolicTensor, shape: number[], suffix = '_reshape'): SymbolicTensor {
    const target = shape.length ? shape : [1];
    if (sameList(t.shape, target)) return t;
    return this.apply(layers.reshape(target, { name: this.layerName(node, suffix) }), [t]);
  }

  // v's tensor in exactly ourShape(v.layout) (a free reshape when it differs by unit axes).
  exact(node: OnnxNode, v: Value): SymbolicTensor {
    return this.reshapeLayer(node, v.t, ourShape(v.layout));
  }

  // v in the layout `to`: a reshape, or one permute between two reshapes.
  relayout(node: OnnxNode, v: Value, to: Layout): Value {
    const plan = conversion(v.layout, to);
    if (!plan) return this.relayout(node, this.relayout(node, v, canonical(v.shape)), to);
    let t = v.t;
    if (plan.perm) {
      if (plan.perm.length > 5) throw this.fail(node, `needs a transpose of rank ${plan.perm.length + 1}; at most rank 6 (5 per sample) is supported`);
      t = this.reshapeLayer(node, t, plan.source);
      t = this.apply(L.permute({ dims: plan.perm.map((p) => p + 1), name: this.layerName(node, '_permute') }), [t]);
    }
    t = this.reshapeLayer(node, t, ourShape(to));
    return { t, shape: v.shape, layout: to };
  }

  // v with our axes in `perm` order of ONNX axes, one entry per axis.
  inCanonical(node: OnnxNode, v: Value, perm: number[] = preferredPerm(v.shape)): Value {
    if (isCanonical(v.layout, perm)) return { ...v, t: this.exact(node, v) };
    return this.relayout(node, v, canonical(v.shape, perm));
  }

  image(node: OnnxNode, v: Value): Value {
    if (v.shape.length !== 3) throw this.fail(node, `needs an image tensor [N, C, H, W], got [N, ${v.shape}]`);
    return this.inCanonical(node, v, IMAGE_PERM);
  }

  // The same memory as the ONNX shape `shape`; a permute when the memory order cannot express it.
  reshapeValue(node: OnnxNode, v: Value, shape: number[]): Value {
    if (sizeOf(shape) !== sizeOf(v.shape)) throw this.fail(node, `cannot reshape [N, ${v.shape}] to [N, ${shape}]`);
    let layout = reshaped(v.layout, shape);
    if (!layout || layout.perm.length > 5) {
      const c = this.inCanonical(node, v, preferredPerm(v.shape));
      layout = reshaped(c.layout, shape)!;
      if (layout.perm.length > 5) return this.reshapeValue(node, this.inCanonical(node, v, v.shape.map((_, i) => i)), shape);
      return { t: c.t, shape: [...shape], layout };
    }
    return { t: v.t, shape: [...shape], layout: compact(layout) };
  }

  // Whether `name` is read only by `node` and is not a requested output (a weight may be folded).
  soleReader(name: string): boolean {
    return (this.consumers.get(name)?.length ?? 0) === 1 && !this.outputNames.includes(name);
  }

  private wrap(node: OnnxNode, e: unknown): unknown {
    if (e instanceof MissingLayerError) return new UnsupportedOpError(node.op, node.name, this.file, `${e.message}; cut the graph before it with the 'outputs' import option`);
    if (e instanceof UnsupportedOpError || !(e instanceof InvalidArgumentError || e instanceof ShapeError || e instanceof RangeError)) return e;
    return this.fail(node, e.message);
  }

  private constantNode(node: OnnxNode): void {
    const t = node.attrs.get('value');
    const f = node.attrs.get('value_float');
    const fs = node.attrs.get('value_floats');
    const i = node.attrs.get('value_int');
    const is = node.attrs.get('value_ints');
    const name = node.outputs[0];
    const data = t && typeof t === 'object' && !Array.isArray(t) ? t
      : typeof f === 'number' ? { name, dims: [], data: Float32Array.of(f) }
      : typeof i === 'number' ? { name, dims: [], data: Float32Array.of(i), dtype: 7 }
      : Array.isArray(fs) ? { name, dims: [fs.length], data: Float32Array.from(fs) }
      : Array.isArray(is) ? { name, dims: [is.length], data: Float32Array.from(is), dtype: 7 } : null;
    if (!data) throw this.fail(node, 'only tensor, float(s) and int(s) values are supported');
    this.consts.set(name, { ...data, name });
  }

  private fold(node: OnnxNode): boolean {
    const out = foldNode(node, {
      input: (i) => (node.inputs[i] ? this.consts.get(node.inputs[i]) : undefined),
      shapeOf: (i) => { const v = this.values.get(node.inputs[i]); return v ? [BATCH, ...v.shape] : undefined; },
      attr: (name, fallback) => this.attr(node, name, fallback as AttrValue) as Widen<typeof fallback>,
      fail: (what) => this.fail(node, what),
      opset: this.opset,
    });
    if (!out) return false;
    out.forEach((t, i) => this.consts.set(node.outputs[i], { ...t, name: node.outputs[i] }));
    return true;
  }

  private graphInput(name: string, dims: (number | string | null)[] | null): void {
    const given = this.options.inputShape;
    const fromOption = Array.isArray(given) ? given : given?.[name];
    let shape: number[];
    if (fromOption) {
      if (!fromOption.every((d) => Number.isInteger(d) && d > 0)) throw new InvalidArgumentError(`inputShape for '${name}' must be positive integers (ONNX order, no batch), got [${fromOption}]`);
      if (dims && dims.length !== fromOption.length + 1) throw this.fail(null, `inputShape [${fromOption}] has ${fromOption.length} dimensions, but input '${name}' has ${dims.length - 1} besides the batch`, name);
      dims?.slice(1).forEach((d, i) => {
        if (typeof d === 'number' && d > 0 && d !== fromOption[i]) throw this.fail(null, `inputShape [${fromOption}] disagrees with input '${name}' [${dims.map((x) => x ?? '?')}] at dimension ${i + 1}`, name);
      });
      shape = [...fromOption];
    } else {
      if (!dims) throw this.fail(null, `input '${name}' has no shape; give its shape with the inputShape import option`, name);
      const perSample = dims.slice(1);
      const dynamic = perSample.findIndex((d) => typeof d !== 'number' || d <= 0);
      if (dims.length < 2 || dynamic >= 0) {
        throw new ModelFormatError(`${this.file}: input '${name}' has a dynamic shape [${dims.map((d) => d ?? '?')}]: every dimension but the batch must be fixed` +
          (dynamic >= 0 ? ` (dimension ${dynamic + 1} is '${perSample[dynamic] ?? '?'}')` : '') + '; give it with the inputShape import option', this.file, name);
      }
      shape = perSample as number[];
    }
    // An NHWC input that the graph transposes to NCHW first (tf2onnx exports of Keras models) is
    // kept as given: the Transpose is then a relabelling.
    const readers = this.consumers.get(name) ?? [];
    const nhwcInput = shape.length === 3 && readers.length > 0 && readers.every((n) => n.op === 'Transpose' && sameList(this.attr<number[]>(n, 'perm', []), [0, 3, 1, 2]));
    const perm = nhwcInput ? [0, 1, 2] : preferredPerm(shape);
    this.values.set(name, { t: input({ shape: perm.map((p) => shape[p]), name }), shape, layout: canonical(shape, perm) });
  }

  convert(): Model {
    const inputNames = this.options.inputs ?? this.g.inputs.map((i) => i.name).filter((n) => !this.consts.has(n));
    const info = new Map(this.g.inputs.map((i) => [i.name, i.dims]));
    const all = new Set([...this.g.inputs.map((i) => i.name), ...this.g.nodes.flatMap((n) => n.outputs)]);
    const given = this.options.inputShape;
    if (given && Array.isArray(given) && inputNames.length !== 1) throw new InvalidArgumentError(`inputShape [${given}] is one shape, but the model has ${inputNames.length} inputs (${inputNames.join(', ')}); give { name: shape }`);
    if (given && !Array.isArray(given)) for (const k of Object.keys(given)) if (!inputNames.includes(k)) throw new InvalidArgumentError(`inputShape names '${k}', which is not an input (inputs: ${inputNames.join(', ')})`);
    for (const n of [...inputNames, ...this.outputNames]) if (!all.has(n)) throw new InvalidArgumentError(`${this.file}: no tensor '${n}' in the graph (inputs: ${this.g.inputs.map((i) => i.name).join(', ')}; outputs: ${this.g.outputs.map((o) => o.name).join(', ')})`);
    if (inputNames.length === 0) throw this.fail(null, 'has no input computed at run time');
    for (const name of inputNames) this.graphInput(name, info.get(name) ?? this.tensorDims(name));
    const wanted = this.needed(new Set(inputNames));
    for (const node of this.g.nodes) {
      if (!wanted.has(node) || node.outputs.every((o) => this.values.has(o) || this.consts.has(o))) continue;
      try {
        this.convertNode(node);
      } catch (e) {
        throw this.wrap(node, e);
      }
    }
    const layout = this.options.outputLayout ?? 'nchw';
    if (layout !== 'nchw' && layout !== 'nhwc') throw new InvalidArgumentError(`${this.file}: outputLayout must be 'nchw' or 'nhwc', got ${JSON.stringify(layout)}`);
    const nhwc = layout === 'nhwc';
    const outputs = this.outputNames.map((name) => {
      const v = this.values.get(name);
      if (!v) throw this.fail(null, `output '${name}' is ${this.consts.has(name) ? 'a constant' : 'not computed from the inputs'}`, name);
      // in ONNX's order, or images NHWC when asked
      const node = this.g.nodes.find((n) => n.outputs.includes(name)) ?? { name, op: 'Output', domain: '', inputs: [], outputs: [name], attrs: new Map() };
      try {
        return this.inCanonical(node, v, nhwc ? preferredPerm(v.shape) : v.shape.map((_, i) => i)).t;
      } catch (e) {
        throw this.wrap(node, e);
      }
    });
    const ins = inputNames.map((n) => this.values.get(n)!.t);
    const name = this.file.replace(/^.*[\\/]/, '').replace(/\.onnx$/i, '');
    let m: Model;
    try {
      m = ins.length === 1 && outputs.length === 1 ? model({ inputs: ins[0], outputs: outputs[0], name })
        : (model as unknown as (o: { inputs: SymbolicTensor[]; outputs: SymbolicTensor[]; name: string }) => Model)({ inputs: ins, outputs, name });
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      throw this.fail(null, `${ins.length} inputs (${inputNames.join(', ')}) and ${outputs.length} outputs (${this.outputNames.join(', ')}): ${e.message}; ` +
        "choose one of each with the 'inputs' and 'outputs' import options");
    }
    for (const [layer, ws] of this.pendingWeights) layer.setWeights(ws);
    return m;
  }

  private tensorDims(name: string): (number | string | null)[] | null {
    return this.g.valueInfo.find((v) => v.name === name)?.dims ?? null;
  }

  // The nodes the requested outputs depend on, stopping at the inputs.
  private needed(inputs: Set<string>): Set<OnnxNode> {
    const producer = new Map<string, OnnxNode>();
    for (const n of this.g.nodes) for (const o of n.outputs) producer.set(o, n);
    const wanted = new Set<OnnxNode>();
    const stack = [...this.outputNames];
    while (stack.length) {
      const name = stack.pop()!;
      if (inputs.has(name)) continue;
      const n = producer.get(name);
      if (!n || wanted.has(n)) continue;
      wanted.add(n);
      stack.push(...n.inputs.filter((i) => i));
    }
    return wanted;
  }

  private convertNode(node: OnnxNode): void {
    if (node.domain && node.domain !== 'ai.onnx') throw new UnsupportedOpError(node.op, node.name, this.file, `operator domain '${node.domain}' is not supported`);
    if (node.op === 'Constant') return this.constantNode(node);
    if (this.fold(node)) return;
    if (DATA_DEPENDENT.has(node.op)) {
      throw new UnsupportedOpError(node.op, node.name, this.file, `its output depends on the data (not a fixed-shape layer); cut the graph before it with the import option outputs: [${node.inputs.filter((i) => this.values.has(i)).map((i) => `'${i}'`).join(', ')}]`);
    }
    const fn = this.ops[node.op];
    if (!fn) {
      const before = node.inputs.filter((i) => this.values.has(i)).map((i) => `'${i}'`).join(', ');
      throw new UnsupportedOpError(node.op, node.name, this.file, `supported: ${Object.keys(this.ops).sort().join(', ')}${before ? `; to keep the model up to it, import with outputs: [${before}]` : ''}`);
    }
    fn(this, node);
  }
}
