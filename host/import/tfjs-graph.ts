// TF.js graph models (a frozen GraphDef as JSON) -> an ordinary functional edgetune model whose
// layers are trainable. Subgraphs of constants and static shapes are evaluated at import
// (tfjs-fold.ts); every other op becomes the layer it computes (tfjs-graph-conv.ts for the weighted
// ops and what folds into them, tfjs-graph-ops.ts for the rest). The model keeps every input and
// output of the graph, outputs in the order of the file's signature (as tf.loadGraphModel returns
// them), and can be cut at any node with the `inputs` / `outputs` options. An op that cannot be
// expressed is an UnsupportedOpError naming the op, the node and the file.
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import { checkOptions, optionNames } from '../core/options';
import { type Layer, input as symbolicInput, type SymbolicTensor } from '../layers/layer';
import { Model, type Prediction } from '../training/model';
import { UnsupportedOpError } from './errors';
import { dataInputs, type GraphNodeDef, parseInputRef } from './tfjs-graph-attrs';
import { convertWeighted } from './tfjs-graph-conv';
import { convertTensorOp } from './tfjs-graph-ops';
import { type Const, foldOp, isLoop, refuseDataDependent } from './tfjs-fold';
import { checkShape, type DecodedWeight, readWeightsManifest, type ShardReader } from './tfjs-weights';

export interface TfjsGraphImportOptions {
  // Node names (optionally 'name:k') to read as the model's inputs instead of the Placeholders.
  inputs?: string[];
  // Node names (optionally 'name:k') to return, in this order, instead of the signature's outputs.
  outputs?: string[];
  // Per-sample shape (no batch) of an input whose height or width is unknown (-1) in the file, or
  // of a cut input: one array for a single input, or { inputName: shape }.
  inputShape?: number[] | Record<string, number[]>;
}
const OPTIONS = optionNames<TfjsGraphImportOptions>()(['inputs', 'outputs', 'inputShape']);

// A tensor while the graph is read: a layer not yet applied (so its bias and activation can still
// change), or a model input (layer null).
export interface Pending {
  layer: Layer | null;
  inputs: Pending[];
  shape: number[]; // per sample
  weights: Map<string, Float32Array>;
  node: string; // the node whose value this is (moves to the consumer when one is folded in)
  scalar?: boolean; // shape [1] stands for a rank-0 value per sample (TF.js shape [batch])
}
export type Value = { kind: 'tensor'; p: Pending } | { kind: 'const'; w: Const };

// What the op converters use of the importer.
export interface GraphContext {
  readonly file: string;
  readonly fixedBatch: number | null;
  readerCount(node: string): number;
  consumers(node: string): GraphNodeDef[];
  nodeDef(name: string): GraphNodeDef | undefined;
  add(node: string, layer: Layer, inputs: Pending[], weights?: Record<string, Float32Array>): Pending;
  layerName(node: string): string;
}

export async function importTfjsGraphModel(modelJson: unknown, readFile: ShardReader, fileName: string, options: TfjsGraphImportOptions = {}): Promise<Model<Prediction>> {
  checkOptions('importTfjsGraphModel', options, OPTIONS);
  for (const key of ['inputs', 'outputs'] as const) {
    const v = options[key];
    if (v !== undefined && !(Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string'))) {
      throw new InvalidArgumentError(`importTfjsGraphModel: option '${key}' must be a non-empty list of node names, got ${JSON.stringify(v)}`);
    }
  }
  const json = parseJson(modelJson, fileName) as { format?: string; modelTopology?: { node?: GraphNodeDef[] }; weightsManifest?: unknown; signature?: Signature; userDefinedMetadata?: { signature?: Signature } };
  const defs = json.modelTopology?.node;
  if (!Array.isArray(defs)) {
    throw new ModelFormatError(`${fileName}: not a TF.js graph model (no modelTopology.node list${json.format ? `; format is '${json.format}'` : ''})`, fileName);
  }
  const weights = await readWeightsManifest(json.weightsManifest, readFile, fileName);
  // As tf.loadGraphModel: a signature in userDefinedMetadata (older converters put it there) wins.
  const signature = json.userDefinedMetadata?.signature ?? json.signature;
  return new GraphImporter(defs, weights, fileName, signature, options).run();
}

interface Signature { inputs?: Record<string, { name?: string }>; outputs?: Record<string, { name?: string }> }

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

// Signature entries name tensors ('Identity:0'); TF.js keys an object by those names and takes its
// keys in order (so integer-like names first, repeats once), then drops names the graph lacks.
function signatureRefs(entries: Signature['inputs'], byName: Map<string, GraphNodeDef>): string[] {
  const named: Record<string, true> = {};
  for (const e of Object.values(entries ?? {})) if (typeof e?.name === 'string') named[e.name] = true;
  const out: string[] = [];
  for (const name of Object.keys(named)) {
    if (!byName.has(parseInputRef(name).name)) continue;
    const ref = name.includes(':') ? name : `${name}:0`;
    if (!out.includes(ref)) out.push(ref);
  }
  return out;
}

class GraphImporter implements GraphContext {
  private readonly byName = new Map<string, GraphNodeDef>();
  private readonly readers = new Map<string, number>(); // node -> data inputs reading it (within the cut)
  private readonly readersOf = new Map<string, GraphNodeDef[]>();
  private readonly outputs = new Map<string, Value[]>();
  private readonly created: Pending[] = [];
  private readonly usedNames = new Set<string>();
  private readonly prefix: string;
  private readonly inputRefs: string[];
  private readonly outputRefs: string[];

  constructor(private readonly defs: GraphNodeDef[], private readonly weights: Map<string, DecodedWeight>, readonly file: string, signature: Signature | undefined, private readonly options: TfjsGraphImportOptions) {
    for (const d of defs) {
      if (!d || typeof d.name !== 'string' || typeof d.op !== 'string') throw new ModelFormatError(`${file}: a node has no name or op: ${JSON.stringify(d).slice(0, 200)}`, file);
      if (d.input !== undefined && !(Array.isArray(d.input) && d.input.every((s) => typeof s === 'string'))) {
        throw new ModelFormatError(`${file}: node '${d.name}': input is ${JSON.stringify(d.input).slice(0, 80)}, not a list of strings`, file, d.name);
      }
      this.byName.set(d.name, d);
    }
    const sig = signature && typeof signature === 'object' ? signature : {};
    this.inputRefs = options.inputs ?? (signatureRefs(sig.inputs, this.byName).length ? signatureRefs(sig.inputs, this.byName) : defs.filter((d) => d.op === 'Placeholder').map((d) => `${d.name}:0`));
    this.outputRefs = options.outputs ?? (signatureRefs(sig.outputs, this.byName).length ? signatureRefs(sig.outputs, this.byName) : this.sinks());
    for (const ref of [...this.inputRefs, ...this.outputRefs]) {
      if (!this.byName.has(parseInputRef(ref).name)) throw new ModelFormatError(`${file}: there is no node '${parseInputRef(ref).name}' in the graph (named by ${this.inputRefs.includes(ref) ? 'inputs' : 'outputs'})`, file, ref);
    }
    // Keras exports put every op under 'StatefulPartitionedCall/<model>/': layer names drop it.
    const scoped = defs.filter((d) => d.op !== 'Const' && d.op !== 'Placeholder' && d.op !== 'Identity').map((d) => d.name);
    const m = scoped.length ? /^(StatefulPartitionedCall\/[^/]+\/)/.exec(scoped[0]) : null;
    this.prefix = m && scoped.every((n) => n.startsWith(m[1])) ? m[1] : '';
  }

  // Nodes nothing reads (control edges count, as in TF.js), without constants and no-ops.
  private sinks(): string[] {
    const read = new Set<string>();
    for (const d of this.defs) for (const s of d.input ?? []) read.add(parseInputRef(s.replace(/^\^/, '')).name);
    return this.defs.filter((d) => !read.has(d.name) && d.op !== 'Const' && d.op !== 'NoOp').map((d) => `${d.name}:0`);
  }

  // The batch size when every input fixes it in the file (e.g. [1, 256, 256, 3]), else null.
  get fixedBatch(): number | null {
    const sizes = this.inputRefs.map((r) => this.byName.get(parseInputRef(r).name)?.attr?.shape?.shape?.dim?.[0]?.size).map((v) => (v === undefined ? -1 : Number(v)));
    return sizes.length && sizes.every((v) => v > 0 && v === sizes[0]) ? sizes[0] : null;
  }

  readerCount(node: string): number { return this.readers.get(node) ?? 0; }
  consumers(node: string): GraphNodeDef[] { return this.readersOf.get(node) ?? []; }
  nodeDef(name: string): GraphNodeDef | undefined { return this.byName.get(name); }

  run(): Model<Prediction> {
    const cutInputs = new Set(this.inputRefs.map((r) => parseInputRef(r).name));
    const order = this.topologicalOrder(this.outputRefs.map((r) => parseInputRef(r).name), cutInputs);
    for (const d of order) {
      if (cutInputs.has(d.name)) continue;
      for (const i of dataInputs(d)) {
        this.readers.set(i.name, (this.readers.get(i.name) ?? 0) + 1);
        this.readersOf.set(i.name, [...(this.readersOf.get(i.name) ?? []), d]);
      }
    }
    for (const r of this.outputRefs) this.readers.set(parseInputRef(r).name, (this.readers.get(parseInputRef(r).name) ?? 0) + 1); // an output is never folded into
    const inputs: Pending[] = [];
    for (const d of order) {
      if (cutInputs.has(d.name)) {
        const p = this.inputTensor(d);
        inputs.push(p);
        this.outputs.set(d.name, [{ kind: 'tensor', p }]);
      } else this.outputs.set(d.name, this.convertNode(d));
    }
    const outs = this.outputRefs.map((ref) => {
      const { name, index } = parseInputRef(ref);
      const v = this.outputs.get(name)![index];
      if (!v) throw new ModelFormatError(`${this.file}: output '${ref}': node '${name}' has no output ${index}`, this.file, name);
      if (v.kind !== 'tensor') throw new ModelFormatError(`${this.file}: the output '${ref}' is a constant (it does not depend on any input)`, this.file, name);
      return v.p;
    });
    return this.build(inputs, outs);
  }

  // The nodes the outputs depend on, each after its inputs (iterative: graphs are thousands deep).
  private topologicalOrder(roots: string[], stops: Set<string>): GraphNodeDef[] {
    const state = new Map<string, 1 | 2>(); // 1: on the stack, 2: done
    const order: GraphNodeDef[] = [];
    for (const root of roots) {
      const stack: { name: string; from: string; next: number }[] = [{ name: root, from: root, next: 0 }];
      while (stack.length) {
        const top = stack[stack.length - 1];
        const d = this.byName.get(top.name);
        if (!d) throw new ModelFormatError(`${this.file}: node '${top.from}' reads '${top.name}', which is not in the graph`, this.file, top.name);
        if (top.next === 0) {
          if (state.get(d.name) === 2) { stack.pop(); continue; }
          state.set(d.name, 1);
        }
        const ins = stops.has(d.name) || isLoop(d) ? [] : dataInputs(d); // a loop is refused, not walked
        if (top.next < ins.length) {
          const next = ins[top.next++].name;
          if (state.get(next) === 1) throw new ModelFormatError(`${this.file}: the graph has a cycle through '${next}'`, this.file, next);
          if (state.get(next) !== 2) stack.push({ name: next, from: d.name, next: 0 });
          continue;
        }
        state.set(d.name, 2);
        order.push(d);
        stack.pop();
      }
    }
    return order;
  }

  // A model input: its per-sample shape from the file, unknown sizes from the inputShape option.
  private inputTensor(d: GraphNodeDef): Pending {
    const given = this.options.inputShape;
    const named = given && !Array.isArray(given) ? given[d.name] : this.inputRefs.length === 1 ? given : undefined;
    if (given && !Array.isArray(given) && typeof given === 'object') {
      for (const k of Object.keys(given)) if (!this.inputRefs.some((r) => parseInputRef(r).name === k)) throw new InvalidArgumentError(`importTfjsGraphModel: inputShape names '${k}', which is not an input (inputs: ${this.inputRefs.join(', ')})`);
    }
    const where = `${this.file}: input '${d.name}'`;
    const dimList: unknown = d.op === 'Placeholder' ? d.attr?.shape?.shape?.dim : undefined;
    if (dimList !== undefined && !Array.isArray(dimList)) throw new ModelFormatError(`${where}: its shape's dim is ${JSON.stringify(dimList)?.slice(0, 80)}, not a list`, this.file, d.name);
    const dims = Array.isArray(dimList) ? dimList.map((x: { size?: string | number } | null) => Number(x?.size ?? -1)) : undefined;
    if (named !== undefined) {
      if (!Array.isArray(named) || named.length === 0 || !named.every((n) => Number.isInteger(n) && n > 0)) throw new InvalidArgumentError(`importTfjsGraphModel: inputShape for '${d.name}' must be a list of positive integers (the shape of one sample, no batch), got ${JSON.stringify(named)}`);
      if (dims && (dims.length !== named.length + 1 || dims.slice(1).some((x, i) => x > 0 && x !== named[i]))) {
        throw new ModelFormatError(`${where} has shape [${dims}] in the file; inputShape [${named}] does not fit it (one sample, no batch)`, this.file, d.name);
      }
      return { layer: null, inputs: [], shape: [...named], weights: new Map(), node: d.name };
    }
    if (!dims) throw new ModelFormatError(`${where} has no static shape in the file; pass its per-sample shape with the inputShape option`, this.file, d.name);
    if (dims.length < 2) throw new ModelFormatError(`${where} has shape [${dims}], with no batch axis (scalar inputs are not supported)`, this.file, d.name);
    if (dims.slice(1).some((x) => !(x > 0))) {
      throw new ModelFormatError(`${where} has shape [${dims}]; its unknown sizes (-1) need the inputShape option, e.g. { inputShape: [${dims.slice(1).map((x) => (x > 0 ? x : 224))}] }`, this.file, d.name);
    }
    // No wasm32 arena holds a sample of 2^31 floats (a mutated file declared 2^37).
    if (!dims.slice(1).every((x) => Number.isInteger(x)) || dims.slice(1).reduce((a, b) => a * b, 1) >= 2 ** 31) {
      throw new ModelFormatError(`${where} has shape [${dims}]: not integer sizes, or 2^31 or more floats per sample`, this.file, d.name);
    }
    return { layer: null, inputs: [], shape: dims.slice(1), weights: new Map(), node: d.name };
  }

  private convertNode(d: GraphNodeDef): Value[] {
    const ins = dataInputs(d).map((i) => this.outputs.get(i.name)?.[i.index]) as Value[];
    if (ins.some((v) => !v || v.kind === 'tensor')) refuseDataDependent(d, this.file, dataInputs(d).map((i) => i.name)); // of constants it folds
    const missing = ins.findIndex((v) => !v);
    if (missing >= 0) {
      const i = dataInputs(d)[missing];
      throw new UnsupportedOpError(d.op, d.name, this.file, `it reads output ${i.index} of '${i.name}', which has no such output`);
    }
    if (d.op === 'Const') {
      const w = this.weights.get(d.name);
      if (!w) throw new ModelFormatError(`${this.file}: constant '${d.name}' has no entry in weightsManifest`, this.file, d.name);
      return [{ kind: 'const', w }];
    }
    if (d.op === 'Placeholder') throw new ModelFormatError(`${this.file}: Placeholder '${d.name}' is read but is not one of the inputs (${this.inputRefs.join(', ')})`, this.file, d.name);
    if (ins.length > 0 && ins.every((v) => v.kind === 'const')) {
      const folded = foldOp(d, ins.map((v) => (v as { w: Const }).w), this.file);
      if (folded) return folded.map((w) => ({ kind: 'const', w }));
    }
    // The static shape of a computed tensor (the batch: the file's fixed size, else -1).
    if ((d.op === 'Shape' || d.op === 'Size' || d.op === 'Rank') && ins[0]?.kind === 'tensor') {
      const full = [this.fixedBatch ?? -1, ...ins[0].p.shape];
      return foldOp(d, [{ name: d.name, shape: full, dtype: 'float32', values: new Float32Array(0) }], this.file)!.map((w) => ({ kind: 'const', w }));
    }
    const v = convertWeighted(this, d, ins) ?? convertTensorOp(this, d, ins);
    if (!v) throw new UnsupportedOpError(d.op, d.name, this.file);
    return Array.isArray(v) ? v : [v];
  }

  layerName(node: string): string {
    let base = node.startsWith(this.prefix) ? node.slice(this.prefix.length) : node;
    base = base.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
    let name = base;
    for (let k = 1; this.usedNames.has(name); k++) name = `${base}_${k}`;
    this.usedNames.add(name);
    return name;
  }

  add(node: string, layer: Layer, inputs: Pending[], weights: Record<string, Float32Array> = {}): Pending {
    let shape: number[];
    try {
      shape = layer.outputShape(inputs.map((p) => p.shape));
    } catch (e) {
      throw new ModelFormatError(`${this.file}: node '${node}': ${(e as Error).message}`, this.file, node);
    }
    const p: Pending = { layer, inputs, shape, weights: new Map(Object.entries(weights)), node };
    // An elementwise op of per-sample scalars is one (a reshape says its shape outright).
    if (shape.length === 1 && shape[0] === 1 && inputs.length && inputs.every((x) => x.scalar) && layer.kind !== 'reshape' && layer.kind !== 'flatten') p.scalar = true;
    this.created.push(p);
    return p;
  }

  // Applies the layers in creation order and sets the weights (a missing bias created by folding
  // nothing stays zero).
  private build(inputs: Pending[], outputs: Pending[]): Model<Prediction> {
    const tensors = new Map<Pending, SymbolicTensor>();
    for (const p of inputs) tensors.set(p, symbolicInput({ shape: p.shape, name: p.node.replace(/[^A-Za-z0-9_.-]+/g, '_') }));
    const tensorOf = (p: Pending): SymbolicTensor => {
      const t = tensors.get(p);
      if (!t) throw new Error(`internal: ${p.node} used before it is built`);
      return t;
    };
    const needed = new Set<Pending>();
    const mark = (p: Pending) => { if (!needed.has(p)) { needed.add(p); p.inputs.forEach(mark); } };
    outputs.forEach(mark);
    for (const p of this.created) {
      if (!needed.has(p)) continue; // e.g. a branch read only by a folded constant's Shape
      const layer = p.layer!;
      const ins = p.inputs.map(tensorOf);
      if (layer.kind === 'rescaling') { // the topology keeps the folded constants too
        layer.config.scale = Array.from(p.weights.get('scale')!);
        layer.config.offset = Array.from(p.weights.get('offset')!);
      }
      tensors.set(p, layer.apply(ins.length === 1 ? ins[0] : ins));
      this.setWeights(p, layer);
    }
    const used = inputs.filter((p) => needed.has(p) || outputs.includes(p));
    if (!used.length) throw new ModelFormatError(`${this.file}: the outputs do not depend on any input`, this.file);
    const ins = used.map(tensorOf);
    const outs = outputs.map(tensorOf);
    // One output: predict returns a tensor; several: one tensor per output, in order.
    return new Model<Prediction>({ inputs: ins.length === 1 ? ins[0] : ins, outputs: outs.length === 1 ? outs[0] : outs }, { name: 'graph_model' });
  }

  private setWeights(p: Pending, layer: Layer): void {
    const values = layer.weightSpecs.map((s, i) => {
      const v = p.weights.get(s.name);
      if (!v) return layer.values[i].fill(0);
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
}
