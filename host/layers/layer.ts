// Layers: one class with a `kind` and a Keras-style config (NHWC). What a kind is (its output
// shape, weights, forward and backward lowering, Keras JSON) is its record in
// host/layers/<kind>.ts, collected in LAYER_DEFS (host/layers/index.ts); the class dispatches
// through it. Weights are host arrays until a model is compiled, then views into that model's
// arena (the arena is the single copy the kernels update).
import { InvalidArgumentError, ShapeError } from '../core/errors';
import type { LayerDef } from './def';
import { type InitializerConfig, initialize, initializeInto, uniformDraw } from './initializers';
import { nextSeed } from '../core/random';
import type { ConstraintConfig, RegularizerConfig } from './regularizers';
import { flag, type LayerOptions } from './config';
import { checkOptions } from '../core/options';
import { type ActivationQuantizer, type Int8Kernel, checkActivationQuantizer, dequantizeKernel, outputChannels, quantizeKernel, quantizeLayer } from './quantize';

// The array of a weight whose initial value is still pending (Layer.pending).
const EMPTY = new Float32Array(0);

export type { ActivationName } from './activations';
export type { LayerOptions } from './config';
export type { DenseOptions } from './dense';
export type { Conv2dOptions } from './conv2d';
export type { Conv2dTransposeOptions } from './conv2d-transpose';
export type { DepthwiseConv2dOptions } from './depthwise-conv2d';
export type { AveragePooling2dOptions, Pooling2dOptions } from './pooling';
export type { BatchNormalizationOptions } from './batch-normalization';
export type { SoftmaxOptions } from './activation';
export type { ReduceOptions, ReduceOp } from './reduce';
export type { ConstantOpOptions, ConstantOpName } from './constant-op';
export type { MatMulOptions } from './mat-mul';

export type LayerKind =
  | 'dense' | 'conv2d' | 'depthwiseConv2d' | 'maxPooling2d' | 'averagePooling2d' | 'globalAveragePooling2d'
  | 'flatten' | 'reshape' | 'batchNormalization' | 'dropout' | 'activation' | 'add' | 'concatenate'
  | 'zeroPadding2d' | 'subtract' | 'multiply' | 'resizing' | 'rescaling'
  | 'permute' | 'slice' | 'pad' | 'depthToSpace' | 'spaceToDepth' | 'tile' | 'gather'
  | 'maximum' | 'minimum' | 'average' | 'divide' | 'reduce' | 'constantOp'
  | 'unary' | 'clip' | 'prelu' | 'upSampling2d' | 'conv2dTranspose' | 'matMul' | 'atan2';

export interface WeightSpec {
  name: string; // 'kernel', 'bias', 'gamma', 'moving_mean', ...
  shape: number[];
  initializer: InitializerConfig;
  // false for state that no optimizer touches (BatchNormalization's moving statistics)
  trainable: boolean;
  regularizer: RegularizerConfig | null;
  constraint: ConstraintConfig | null;
}

// A weight spec from a layer config's (untyped) initializer, regularizer and constraint.
export function weightSpec(name: string, shape: number[], init: unknown, reg: unknown = null, constraint: unknown = null, trainable = true): WeightSpec {
  return { name, shape, initializer: init as InitializerConfig, trainable, regularizer: reg as RegularizerConfig | null, constraint: constraint as ConstraintConfig | null };
}

const nameCounters = new Map<string, number>();
// Every layer and input name given out or taken this session: loaded and imported models name
// their layers explicitly, and an auto-name must not collide with them.
const namesInUse = new Set<string>();

/** @internal records an explicit name so that later auto-names skip it. */
export function reserveName(name: string): string {
  namesInUse.add(name);
  return name;
}

// Keras naming: the first dense layer is 'dense', then 'dense_1', 'dense_2', ..., unique in the
// session and skipping names already in use (a loaded model's 'dense').
export function uniqueName(base: string): string {
  let n = nameCounters.get(base) ?? 0;
  let name = n === 0 ? base : `${base}_${n}`;
  while (namesInUse.has(name)) name = `${base}_${++n}`;
  nameCounters.set(base, n + 1);
  return reserveName(name);
}

// The object whose arena currently holds a layer's weights (a compiled model's executor).
export interface WeightHome {
  readonly id: number;
}

// A layer's output in a functional model under construction (Keras's KerasTensor).
export class SymbolicTensor {
  constructor(readonly shape: number[], readonly layer: Layer | null, readonly inputs: SymbolicTensor[], readonly name: string) {}
}

export class Layer {
  readonly kind: LayerKind;
  readonly name: string;
  readonly config: Record<string, unknown>;
  // Frozen layers get no gradient, no optimizer state and no backward pass; a frozen
  // BatchNormalization runs in inference mode (moving statistics) even during fit.
  trainable: boolean;
  readonly inputShape: number[] | null;
  weightSpecs: WeightSpec[] = [];
  builtInputShapes: number[][] | null = null;
  /** @internal current weight arrays (host arrays or arena views); reading them draws the
   * initial values still pending */
  get values(): Float32Array[] {
    this.drawPending();
    return this.arrays;
  }
  /** @internal draws the initial values still pending (into the arena views left undrawn) */
  drawPending(): void {
    if (this.pending) {
      this.pending.forEach((p, i) => {
        if (p) this.arrays[i] = p.inArena ? initializeInto(this.arrays[i], p.initializer, p.shape, p.seed) : initialize(p.initializer, p.shape, p.seed);
      });
    }
    this.pending = null;
  }
  set values(values: Float32Array[]) {
    this.arrays = values;
    this.pending = null;
  }
  private arrays: Float32Array[] = [];
  // Initial values not drawn yet (null: drawn or set), with the seed taken when the layer was
  // built, so they are the same values whenever they are drawn: straight into the arena when the
  // model is first planned (moveValue), which spares the cold start a host copy of every weight.
  // inArena: the array is an arena view left undrawn (bindUndrawn), drawn there when read.
  private pending: ({ initializer: InitializerConfig; shape: number[]; seed: number; inArena?: boolean } | null)[] | null = null;
  /** @internal the arena the values live in, or null for host arrays */
  home: WeightHome | null = null;
  /** @internal bumped by setWeights and loads: plans re-derive packed or folded copies when it moves */
  weightsVersion = 0;
  /** @internal the int8 kernel (weight 0) after quantize('int8'); values[0] then holds q / scale */
  int8: Int8Kernel | null = null;
  /** @internal called with the weight specs before any weight is allocated: a loader checks them
   * against its file, so no array is ever sized from a topology's numbers alone */
  checkWeights: ((specs: readonly WeightSpec[]) => void) | null = null;

  // The kind's record comes with the layer (the record's factory passes itself), so this class
  // needs no table of kinds and the records can import it without a cycle.
  constructor(readonly def: LayerDef, config: Record<string, unknown>, options: LayerOptions) {
    const kind = def.kind;
    checkOptions(`layers.${kind}`, options, def.options);
    this.kind = kind;
    this.config = config;
    this.name = options.name !== undefined ? reserveName(options.name) : uniqueName(def.nameBase?.(config) ?? def.snake);
    this.trainable = flag(this.name, 'trainable', options.trainable, true);
    this.inputShape = options.inputShape ? [...options.inputShape] : null;
    if (this.inputShape && !this.inputShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new InvalidArgumentError(`layer ${this.name}: inputShape must be positive integers (no batch dimension), got [${this.inputShape}]`);
    }
  }

  get built(): boolean {
    return this.builtInputShapes !== null;
  }

  // For a single-input layer, the shape it was built for.
  get builtInputShape(): number[] | null {
    return this.builtInputShapes ? this.builtInputShapes[0] : null;
  }

  // Shape (per sample, no batch dimension) of the output for the given input shapes.
  outputShape(inputShapes: readonly (readonly number[])[]): number[] {
    const fail = (what: string) => new ShapeError(`layer ${this.name} (${this.kind}): ${what}`, this.name);
    return this.def.outputShape(this, inputShapes, fail);
  }

  // Creates the weights for these input shapes (once; a built layer checks the shapes instead).
  build(inputShapes: readonly (readonly number[])[]): void {
    if (this.builtInputShapes) {
      const same = this.builtInputShapes.length === inputShapes.length &&
        this.builtInputShapes.every((b, i) => b.length === inputShapes[i].length && b.every((d, j) => d === inputShapes[i][j]));
      if (!same) {
        throw new ShapeError(`layer ${this.name} was built for input shape ${this.builtInputShapes.map((x) => `[${x}]`).join(', ')} and cannot take ${inputShapes.map((x) => `[${x}]`).join(', ')}`,
          this.name, this.builtInputShapes[0], [...inputShapes[0]]);
      }
      return;
    }
    this.outputShape(inputShapes); // validates
    const def = this.def;
    const s = inputShapes[0];
    const specs = def.weights?.(this, s) ?? [];
    this.checkWeights?.(specs);
    this.weightSpecs = specs;
    const initial = def.initialValues?.(this, s);
    this.values = initial ?? specs.map(() => EMPTY);
    if (!initial && specs.length) this.pending = specs.map((w) => ({ initializer: w.initializer, shape: w.shape, seed: nextSeed() }));
    this.home = null;
    this.builtInputShapes = inputShapes.map((x) => [...x]);
  }

  // Functional API: applies the layer to one or more symbolic tensors.
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length === 0) throw new InvalidArgumentError(`layer ${this.name}: apply() needs an input`);
    const multi = this.def.multiInput === true;
    if (!multi && list.length !== 1) throw new InvalidArgumentError(`layer ${this.name} (${this.kind}) takes one input, got ${list.length}`);
    const shapes = list.map((t) => t.shape);
    this.build(shapes);
    const out = new SymbolicTensor(this.outputShape(shapes), this, list, this.name);
    this.firstOutput ??= out;
    return out;
  }

  /** @internal the output of the layer's first application (Keras: inbound node 0) */
  firstOutput: SymbolicTensor | null = null;

  // The symbolic output of this layer's first application, to build a model on part of another
  // (Keras layer.output): model({ inputs: m.inputs, outputs: m.getLayer('x').output }).
  get output(): SymbolicTensor {
    if (!this.firstOutput) throw new InvalidArgumentError(`layer ${this.name} has not been applied to a tensor yet, so it has no output`);
    return this.firstOutput;
  }

  countParams(): number {
    return this.weightSpecs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  /** @internal makes `view` (an arena region of weight i's size) hold weight i and become its
   * array: a pending initial value is drawn straight into it */
  moveValue(i: number, view: Float32Array): void {
    const p = this.pending?.[i];
    if (p) {
      initializeInto(view, p.initializer, p.shape, p.seed);
      this.pending![i] = null;
    } else {
      view.set(this.arrays[i]);
    }
    this.arrays[i] = view;
  }

  /** @internal the uniform draw weight i's pending initial value makes (its generator state and
   * limit), or null: drawn or set already, or not a uniform draw */
  pendingUniform(i: number): { state: number; limit: number } | null {
    const p = this.pending?.[i];
    return p ? uniformDraw(p.initializer, p.shape, p.seed) : null;
  }

  /** @internal makes `view` (an arena region of weight i's size) weight i's array, its pending
   * uniform draw left undrawn: the plan's packed copy was drawn in its place instead
   * (host/runtime/init-fill.ts drawPacked), and reading `values` draws this one */
  bindUndrawn(i: number, view: Float32Array): void {
    this.pending![i]!.inArena = true;
    this.arrays[i] = view;
  }

  /** @internal makes `values` (weight i's size, a fresh array the caller gives up: a loader's decoded
   * tensor) weight i's array, so a pending initial value is never drawn and nothing is copied */
  adoptValue(i: number, values: Float32Array): void {
    if (this.home) this.arrays[i].set(values); // planned: the arena view stays the array
    else this.arrays[i] = values;
    if (this.pending) this.pending[i] = null;
    this.weightsVersion++;
  }

  countTrainableParams(): number {
    return this.weightSpecs.filter((w) => w.trainable).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  // Copies of the weights, in Keras order (dense: kernel [in, out], bias [out]; batch
  // normalization: gamma, beta, moving_mean, moving_variance).
  getWeights(): Float32Array[] {
    return this.values.map((v) => v.slice());
  }

  setWeights(weights: ArrayLike<number>[]): void {
    if (!this.built) throw new InvalidArgumentError(`layer ${this.name} has no weights yet: build it (add it to a model with an input shape) first`);
    if (weights.length !== this.weightSpecs.length) {
      throw new ShapeError(`layer ${this.name} has ${this.weightSpecs.length} weights (${this.weightSpecs.map((s) => s.name).join(', ')}), got ${weights.length}`, this.name);
    }
    weights.forEach((w, i) => {
      const spec = this.weightSpecs[i];
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (w.length !== size) {
        throw new ShapeError(`layer ${this.name} weight '${spec.name}' has shape [${spec.shape}] (${size} values), got ${w.length} values`, this.name, spec.shape);
      }
    });
    weights.forEach((w, i) => {
      const p = this.pending?.[i];
      if (p) this.pending![i] = null; // set before it was drawn: never drawn
      if (p && !p.inArena) this.arrays[i] = Float32Array.from(w);
      else this.arrays[i].set(w);
    });
    this.weightsVersion++;
    if (this.int8) {
      const mode = this.int8.activationQuantizer;
      this.int8 = quantizeKernel(this.values[0], outputChannels(this));
      if (mode) this.int8.activationQuantizer = mode;
      this.values[0].set(dequantizeKernel(this.int8));
      this.home = null; // the arena's copy is stale
    }
  }

  // Keras 3 quantize('int8') for this frozen dense, conv2d or depthwiseConv2d layer: its kernel
  // becomes per-output-channel int8 with f32 scales (host/layers/quantize.ts); a typed error for a
  // trainable layer or another kind. A model re-plans before its next run.
  // options.activationQuantizer: 'default' (when not given: a dense layer's inputs quantized as
  // Keras's AbsMaxQuantizer(axis=-1), int32 products; a one-group conv2d's too where that pays,
  // host/layers/quantize.ts absmaxPays), 'absmax' (dense or one-group conv2d: always) or null
  // (weight-only).
  quantize(mode: 'int8', options: { activationQuantizer?: ActivationQuantizer } = {}): void {
    if (mode !== 'int8') throw new InvalidArgumentError(`layer ${this.name}: quantize mode must be 'int8', got '${String(mode)}'`);
    const where = `layer ${this.name} quantize`;
    quantizeLayer(this, where, checkActivationQuantizer(options.activationQuantizer, where));
  }
}

// Functional API: a model input (Keras keras.Input(shape)).
export function input(options: { shape: number[]; name?: string }): SymbolicTensor {
  if (!options.shape.every((d) => Number.isInteger(d) && d > 0)) throw new InvalidArgumentError(`input: shape must be positive integers (no batch dimension), got [${options.shape}]`);
  return new SymbolicTensor([...options.shape], null, [], options.name !== undefined ? reserveName(options.name) : uniqueName('input_layer'));
}
