// Layers: one record type with a `kind`, Keras names and defaults (NHWC). What a kind computes
// lives in the plan compiler (host/compile/lower.ts), dispatched by `switch`; here are its configuration,
// output shape and weights. Weights are host arrays until a model is compiled, then views into
// that model's arena (the arena is the single copy the kernels update).
import { type ActivationName, resolveActivation } from './activations';
import { conv2dOutputSize } from '../compile/conv-scratch';
import { InvalidArgumentError, ShapeError } from '../core/errors';
import { type InitializerConfig, type InitializerSpec, initialize, normalizeInitializer } from './initializers';
import { nextSeed } from '../core/random';
import { type ConstraintConfig, type RegularizerConfig, resolveConstraint, resolveRegularizer } from './regularizers';

export type { ActivationName } from './activations';

export type LayerKind =
  | 'dense' | 'conv2d' | 'depthwiseConv2d' | 'maxPooling2d' | 'averagePooling2d' | 'globalAveragePooling2d'
  | 'flatten' | 'reshape' | 'batchNormalization' | 'dropout' | 'activation' | 'add' | 'concatenate'
  | 'zeroPadding2d' | 'subtract' | 'multiply' | 'resizing' | 'rescaling';

export interface WeightSpec {
  name: string; // 'kernel', 'bias', 'gamma', 'moving_mean', ...
  shape: number[];
  initializer: InitializerConfig;
  // false for state that no optimizer touches (BatchNormalization's moving statistics)
  trainable: boolean;
  regularizer: RegularizerConfig | null;
  constraint: ConstraintConfig | null;
}

export interface LayerOptions {
  inputShape?: number[];
  name?: string;
  trainable?: boolean;
}

interface WeightOptions {
  kernelInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  kernelRegularizer?: RegularizerConfig | string | null;
  biasRegularizer?: RegularizerConfig | string | null;
  kernelConstraint?: ConstraintConfig | string | null;
  biasConstraint?: ConstraintConfig | string | null;
}

export interface DenseOptions extends LayerOptions, WeightOptions {
  activation?: ActivationName | string | null;
  useBias?: boolean;
}

export interface Conv2dOptions extends LayerOptions, WeightOptions {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  dilationRate?: number | [number, number];
  activation?: ActivationName | string | null;
  useBias?: boolean;
}

export interface DepthwiseConv2dOptions extends LayerOptions {
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  depthMultiplier?: number;
  dilationRate?: number | [number, number];
  activation?: ActivationName | string | null;
  useBias?: boolean;
  depthwiseInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  depthwiseRegularizer?: RegularizerConfig | string | null;
  biasRegularizer?: RegularizerConfig | string | null;
  depthwiseConstraint?: ConstraintConfig | string | null;
  biasConstraint?: ConstraintConfig | string | null;
}

export interface Pooling2dOptions extends LayerOptions {
  poolSize?: number | [number, number];
  strides?: number | [number, number] | null;
  padding?: 'valid' | 'same';
}

export interface BatchNormalizationOptions extends LayerOptions {
  axis?: number;
  momentum?: number;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  betaInitializer?: InitializerSpec;
  gammaInitializer?: InitializerSpec;
  movingMeanInitializer?: InitializerSpec;
  movingVarianceInitializer?: InitializerSpec;
}

const nameCounters = new Map<string, number>();
// Keras naming: the first dense layer is 'dense', then 'dense_1', 'dense_2', ...
export function uniqueName(base: string): string {
  const n = nameCounters.get(base) ?? 0;
  nameCounters.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

const SNAKE: Record<LayerKind, string> = {
  dense: 'dense', conv2d: 'conv2d', depthwiseConv2d: 'depthwise_conv2d', maxPooling2d: 'max_pooling2d',
  averagePooling2d: 'average_pooling2d', globalAveragePooling2d: 'global_average_pooling2d', flatten: 'flatten',
  reshape: 'reshape', batchNormalization: 'batch_normalization', dropout: 'dropout', activation: 'activation',
  add: 'add', concatenate: 'concatenate',
  zeroPadding2d: 'zero_padding2d', subtract: 'subtract', multiply: 'multiply', resizing: 'resizing', rescaling: 'rescaling',
};

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
  /** @internal current weight arrays (host arrays or arena views) */
  values: Float32Array[] = [];
  /** @internal the arena the values live in, or null for host arrays */
  home: WeightHome | null = null;
  /** @internal called with the weight specs before any weight is allocated: a loader checks them
   * against its file, so no array is ever sized from a topology's numbers alone */
  checkWeights: ((specs: readonly WeightSpec[]) => void) | null = null;

  constructor(kind: LayerKind, config: Record<string, unknown>, options: LayerOptions) {
    this.kind = kind;
    this.config = config;
    this.name = options.name ?? uniqueName(kind === 'activation' ? activationLayerBase(config) : SNAKE[kind]);
    this.trainable = options.trainable ?? true;
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
    const [s] = inputShapes;
    const c = this.config;
    switch (this.kind) {
      case 'dense':
        if (s.length < 1) throw fail('needs an input of rank >= 1 per sample');
        return [...s.slice(0, -1), c.units as number];
      case 'conv2d':
      case 'depthwiseConv2d':
      case 'maxPooling2d':
      case 'averagePooling2d': {
        if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
        const [kh, kw] = c.kernelSize as number[];
        const [sh, sw] = c.strides as number[];
        const [dh, dw] = (c.dilationRate as number[] | undefined) ?? [1, 1];
        const oh = conv2dOutputSize(s[0], kh, sh, dh, c.padding as 'same' | 'valid').out;
        const ow = conv2dOutputSize(s[1], kw, sw, dw, c.padding as 'same' | 'valid').out;
        if (oh <= 0 || ow <= 0) {
          throw new InvalidArgumentError(`layer ${this.name} (${this.kind}): kernelSize [${kh}, ${kw}] (dilation [${dh}, ${dw}]) is larger than its ${c.padding}-padded input [${s[0]}, ${s[1]}]`);
        }
        const channels = this.kind === 'conv2d' ? (c.filters as number) : this.kind === 'depthwiseConv2d' ? s[2] * (c.depthMultiplier as number) : s[2];
        return [oh, ow, channels];
      }
      case 'globalAveragePooling2d':
        if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
        return [s[2]];
      case 'flatten':
        return [s.reduce((a, b) => a * b, 1)];
      case 'reshape': {
        const target = [...(c.targetShape as number[])];
        const size = s.reduce((a, b) => a * b, 1);
        const unknown = target.indexOf(-1);
        const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        if (unknown >= 0) target[unknown] = size / known;
        if (!target.every((d) => Number.isInteger(d) && d > 0) || target.reduce((a, b) => a * b, 1) !== size) {
          throw fail(`cannot reshape [${s}] (${size} values) to [${c.targetShape}]`);
        }
        return target;
      }
      case 'batchNormalization':
      case 'dropout':
      case 'activation':
        return [...s];
      case 'add': {
        if (inputShapes.length < 2) throw fail('needs at least two inputs');
        for (const t of inputShapes) if (t.length !== s.length || t.some((d, i) => d !== s[i])) throw fail(`inputs have different shapes [${inputShapes.map((x) => `[${x}]`).join(', ')}]`);
        return [...s];
      }
      case 'concatenate': {
        if (inputShapes.length < 2) throw fail('needs at least two inputs');
        const axis = c.axis as number;
        if (axis !== -1 && axis !== s.length) throw fail('only concatenation on the last axis is supported (axis -1)');
        for (const t of inputShapes) if (t.length !== s.length || t.slice(0, -1).some((d, i) => d !== s[i])) throw fail(`inputs [${inputShapes.map((x) => `[${x}]`).join(', ')}] differ on an axis other than the last`);
        return [...s.slice(0, -1), inputShapes.reduce((n, t) => n + t[t.length - 1], 0)];
      }
      case 'zeroPadding2d': {
        if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
        const [[t, b], [l, r]] = c.padding as [[number, number], [number, number]];
        return [s[0] + t + b, s[1] + l + r, s[2]];
      }
      case 'rescaling': {
        const ch = s[s.length - 1];
        for (const k of ['scale', 'offset']) {
          const v = c[k];
          if (Array.isArray(v) && v.length !== ch) throw fail(`${k} has ${v.length} values for ${ch} channels`);
        }
        return [...s];
      }
      case 'resizing':
        if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
        return [c.height as number, c.width as number, s[2]];
      case 'subtract':
      case 'multiply': {
        if (inputShapes.length !== 2) throw fail(`needs exactly two inputs, got ${inputShapes.length}`);
        const t = inputShapes[1];
        if (t.length !== s.length || t.some((d, i) => d !== s[i])) throw fail(`inputs have different shapes [${s}] and [${t}] (no broadcasting)`);
        return [...s];
      }
    }
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
    const s = inputShapes[0];
    const c = this.config;
    const specs: WeightSpec[] = [];
    const weight = (name: string, shape: number[], init: unknown, reg: unknown = null, constraint: unknown = null, trainable = true) => specs.push({
      name, shape, initializer: init as InitializerConfig, trainable,
      regularizer: reg as RegularizerConfig | null, constraint: constraint as ConstraintConfig | null,
    });
    switch (this.kind) {
      case 'dense':
        weight('kernel', [s[s.length - 1], c.units as number], c.kernelInitializer, c.kernelRegularizer, c.kernelConstraint);
        if (c.useBias) weight('bias', [c.units as number], c.biasInitializer, c.biasRegularizer, c.biasConstraint);
        break;
      case 'conv2d': {
        const [kh, kw] = c.kernelSize as number[];
        weight('kernel', [kh, kw, s[2], c.filters as number], c.kernelInitializer, c.kernelRegularizer, c.kernelConstraint);
        if (c.useBias) weight('bias', [c.filters as number], c.biasInitializer, c.biasRegularizer, c.biasConstraint);
        break;
      }
      case 'depthwiseConv2d': {
        const [kh, kw] = c.kernelSize as number[];
        weight('depthwise_kernel', [kh, kw, s[2], c.depthMultiplier as number], c.depthwiseInitializer, c.depthwiseRegularizer, c.depthwiseConstraint);
        if (c.useBias) weight('bias', [s[2] * (c.depthMultiplier as number)], c.biasInitializer, c.biasRegularizer, c.biasConstraint);
        break;
      }
      case 'batchNormalization': {
        const ch = s[s.length - 1];
        if (c.scale) weight('gamma', [ch], c.gammaInitializer);
        if (c.center) weight('beta', [ch], c.betaInitializer);
        weight('moving_mean', [ch], c.movingMeanInitializer, null, null, false);
        weight('moving_variance', [ch], c.movingVarianceInitializer, null, null, false);
        break;
      }
      case 'rescaling': {
        // The constants live in the arena as non-trainable state (no optimizer touches them).
        const ch = s[s.length - 1];
        const vec = (v: unknown) => (Array.isArray(v) ? v : new Array(ch).fill(v));
        specs.push({ name: 'scale', shape: [ch], initializer: { className: 'constant', value: 0 } as InitializerConfig, trainable: false, regularizer: null, constraint: null });
        specs.push({ name: 'offset', shape: [ch], initializer: { className: 'constant', value: 0 } as InitializerConfig, trainable: false, regularizer: null, constraint: null });
        this.checkWeights?.(specs);
        this.weightSpecs = specs;
        this.values = [Float32Array.from(vec(c.scale)), Float32Array.from(vec(c.offset))];
        this.home = null;
        this.builtInputShapes = inputShapes.map((x) => [...x]);
        return;
      }
      default:
        break;
    }
    this.checkWeights?.(specs);
    this.weightSpecs = specs;
    this.values = specs.map((w) => initialize(w.initializer, w.shape, nextSeed()));
    this.home = null;
    this.builtInputShapes = inputShapes.map((x) => [...x]);
  }

  // Functional API: applies the layer to one or more symbolic tensors.
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length === 0) throw new InvalidArgumentError(`layer ${this.name}: apply() needs an input`);
    const multi = this.kind === 'add' || this.kind === 'concatenate' || this.kind === 'subtract' || this.kind === 'multiply';
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
    weights.forEach((w, i) => this.values[i].set(w));
  }
}

function activationLayerBase(config: Record<string, unknown>): string {
  switch (config.activation) {
    case 'relu': return 're_lu';
    case 'softmax': return 'softmax';
    case 'leakyRelu': return 'leaky_re_lu';
    case 'elu': return 'elu';
    default: return 'activation';
  }
}

function pair(layer: string, arg: string, v: number | [number, number] | undefined, fallback: [number, number]): [number, number] {
  const p: [number, number] = v === undefined ? fallback : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x > 0)) throw new InvalidArgumentError(`${layer}: ${arg} must be positive integers, got ${JSON.stringify(v)}`);
  return p;
}

function padding(layer: string, p: string | undefined): 'same' | 'valid' {
  const v = (p ?? 'valid').toLowerCase();
  if (v !== 'same' && v !== 'valid') throw new InvalidArgumentError(`${layer}: padding must be 'valid' or 'same', got '${p}'`);
  return v;
}

function positiveInt(layer: string, arg: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new InvalidArgumentError(`${layer}: ${arg} must be a positive integer, got ${v}`);
  return v;
}

// The name the layer will get, for messages raised before it exists.
function pending(kind: LayerKind, options: LayerOptions): string {
  return options.name ?? `${SNAKE[kind]} layer`;
}

function weightConfig(where: string, o: WeightOptions, kernelDefault: InitializerSpec): Record<string, unknown> {
  return {
    kernelInitializer: normalizeInitializer(o.kernelInitializer ?? kernelDefault),
    biasInitializer: normalizeInitializer(o.biasInitializer ?? 'zeros'),
    kernelRegularizer: resolveRegularizer(o.kernelRegularizer, `${where} kernelRegularizer`),
    biasRegularizer: resolveRegularizer(o.biasRegularizer, `${where} biasRegularizer`),
    kernelConstraint: resolveConstraint(o.kernelConstraint, `${where} kernelConstraint`),
    biasConstraint: resolveConstraint(o.biasConstraint, `${where} biasConstraint`),
  };
}

function activationLayer(activation: ActivationName, alpha: number, options: LayerOptions): Layer {
  return new Layer('activation', { activation, alpha }, options);
}

export const layers = {
  // Keras Dense: y = activation(x . kernel + bias), on the last axis of x.
  dense(units: number, options: DenseOptions = {}): Layer {
    const where = pending('dense', options);
    return new Layer('dense', {
      units: positiveInt(where, 'units', units),
      activation: resolveActivation(options.activation, where),
      useBias: options.useBias ?? true,
      ...weightConfig(where, options, 'glorotUniform'),
    }, options);
  },
  conv2d(options: Conv2dOptions): Layer {
    const where = pending('conv2d', options);
    return new Layer('conv2d', {
      filters: positiveInt(where, 'filters', options.filters),
      kernelSize: pair(where, 'kernelSize', options.kernelSize, [1, 1]),
      strides: pair(where, 'strides', options.strides, [1, 1]),
      padding: padding(where, options.padding),
      dilationRate: pair(where, 'dilationRate', options.dilationRate, [1, 1]),
      activation: resolveActivation(options.activation, where),
      useBias: options.useBias ?? true,
      ...weightConfig(where, options, 'glorotUniform'),
    }, options);
  },
  depthwiseConv2d(options: DepthwiseConv2dOptions): Layer {
    const where = pending('depthwiseConv2d', options);
    return new Layer('depthwiseConv2d', {
      kernelSize: pair(where, 'kernelSize', options.kernelSize, [1, 1]),
      strides: pair(where, 'strides', options.strides, [1, 1]),
      padding: padding(where, options.padding),
      depthMultiplier: positiveInt(where, 'depthMultiplier', options.depthMultiplier ?? 1),
      dilationRate: pair(where, 'dilationRate', options.dilationRate, [1, 1]),
      activation: resolveActivation(options.activation, where),
      useBias: options.useBias ?? true,
      depthwiseInitializer: normalizeInitializer(options.depthwiseInitializer ?? 'glorotUniform'),
      biasInitializer: normalizeInitializer(options.biasInitializer ?? 'zeros'),
      depthwiseRegularizer: resolveRegularizer(options.depthwiseRegularizer, `${where} depthwiseRegularizer`),
      biasRegularizer: resolveRegularizer(options.biasRegularizer, `${where} biasRegularizer`),
      depthwiseConstraint: resolveConstraint(options.depthwiseConstraint, `${where} depthwiseConstraint`),
      biasConstraint: resolveConstraint(options.biasConstraint, `${where} biasConstraint`),
    }, options);
  },
  maxPooling2d(options: Pooling2dOptions = {}): Layer {
    return pooling('maxPooling2d', options);
  },
  averagePooling2d(options: Pooling2dOptions = {}): Layer {
    return pooling('averagePooling2d', options);
  },
  globalAveragePooling2d(options: LayerOptions = {}): Layer {
    return new Layer('globalAveragePooling2d', {}, options);
  },
  flatten(options: LayerOptions = {}): Layer {
    return new Layer('flatten', {}, options);
  },
  reshape(targetShape: number[], options: LayerOptions = {}): Layer {
    const where = pending('reshape', options);
    if (!targetShape.every((d) => d === -1 || (Number.isInteger(d) && d > 0)) || targetShape.filter((d) => d === -1).length > 1) {
      throw new InvalidArgumentError(`${where}: targetShape must be positive integers with at most one -1, got [${targetShape}]`);
    }
    return new Layer('reshape', { targetShape: [...targetShape] }, options);
  },
  batchNormalization(options: BatchNormalizationOptions = {}): Layer {
    const where = pending('batchNormalization', options);
    const axis = options.axis ?? -1;
    if (axis !== -1) throw new InvalidArgumentError(`${where}: only axis -1 (channels last) is supported, got ${axis}`);
    const momentum = options.momentum ?? 0.99;
    const epsilon = options.epsilon ?? 1e-3;
    if (!(momentum >= 0 && momentum <= 1)) throw new InvalidArgumentError(`${where}: momentum must be in [0, 1], got ${momentum}`);
    if (!(epsilon > 0)) throw new InvalidArgumentError(`${where}: epsilon must be positive, got ${epsilon}`);
    return new Layer('batchNormalization', {
      axis, momentum, epsilon, center: options.center ?? true, scale: options.scale ?? true,
      betaInitializer: normalizeInitializer(options.betaInitializer ?? 'zeros'),
      gammaInitializer: normalizeInitializer(options.gammaInitializer ?? 'ones'),
      movingMeanInitializer: normalizeInitializer(options.movingMeanInitializer ?? 'zeros'),
      movingVarianceInitializer: normalizeInitializer(options.movingVarianceInitializer ?? 'ones'),
    }, options);
  },
  // Inverted dropout, active only in training.
  dropout(rate: number, options: LayerOptions & { seed?: number } = {}): Layer {
    const where = pending('dropout', options);
    if (!(typeof rate === 'number' && rate >= 0 && rate < 1)) throw new InvalidArgumentError(`${where}: rate must be in [0, 1), got ${rate}`);
    return new Layer('dropout', { rate, seed: options.seed ?? nextSeed() }, options);
  },
  activation(activation: ActivationName | string, options: LayerOptions = {}): Layer {
    const a = resolveActivation(activation, pending('activation', options));
    return activationLayer(a, a === 'leakyRelu' ? 0.2 : a === 'elu' ? 1 : 0, options);
  },
  relu(options: LayerOptions = {}): Layer {
    return activationLayer('relu', 0, options);
  },
  softmax(options: LayerOptions = {}): Layer {
    return activationLayer('softmax', 0, options);
  },
  // Keras 3 LeakyReLU layer: negative_slope 0.3 (the leaky_relu function's default is 0.2).
  leakyRelu(options: LayerOptions & { alpha?: number; negativeSlope?: number } = {}): Layer {
    const slope = options.negativeSlope ?? options.alpha ?? 0.3;
    if (!(slope >= 0)) throw new InvalidArgumentError(`${pending('activation', options)}: negativeSlope must be >= 0, got ${slope}`);
    return activationLayer('leakyRelu', slope, options);
  },
  elu(options: LayerOptions & { alpha?: number } = {}): Layer {
    return activationLayer('elu', options.alpha ?? 1, options);
  },
  add(options: LayerOptions = {}): Layer {
    return new Layer('add', {}, options);
  },
  concatenate(options: LayerOptions & { axis?: number } = {}): Layer {
    return new Layer('concatenate', { axis: options.axis ?? -1 }, options);
  },
  // Keras ZeroPadding2D: padding n, [rows, cols] or [[top, bottom], [left, right]].
  zeroPadding2d(options: LayerOptions & { padding?: number | [number, number] | [[number, number], [number, number]] } = {}): Layer {
    const where = pending('zeroPadding2d', options);
    const p = options.padding ?? 1;
    const pp: [[number, number], [number, number]] = typeof p === 'number' ? [[p, p], [p, p]]
      : typeof p[0] === 'number' ? [[p[0], p[0]], [p[1] as number, p[1] as number]] : [[...p[0]] as [number, number], [...(p[1] as [number, number])] as [number, number]];
    if (!pp.flat().every((x) => Number.isInteger(x) && x >= 0)) throw new InvalidArgumentError(`${where}: padding must be non-negative integers, got ${JSON.stringify(p)}`);
    return new Layer('zeroPadding2d', { padding: pp }, options);
  },
  // Keras Subtract: inputs[0] - inputs[1] (same shapes).
  subtract(options: LayerOptions = {}): Layer {
    return new Layer('subtract', {}, options);
  },
  // Keras Multiply of two inputs (same shapes), elementwise.
  multiply(options: LayerOptions = {}): Layer {
    return new Layer('multiply', {}, options);
  },
  // Keras Rescaling: y = x * scale + offset, scalars or one value per channel (last axis). The
  // constants are non-trainable weights 'scale' and 'offset' (per channel) so that they live in
  // the arena and are saved with the model; importers use it for constant Mul/Add/Sub operands.
  rescaling(scale: number | number[], options: LayerOptions & { offset?: number | number[] } = {}): Layer {
    const where = pending('rescaling', options);
    const offset = options.offset ?? 0;
    for (const v of [scale, offset]) {
      if (!(typeof v === 'number' ? Number.isFinite(v) : Array.isArray(v) && v.length > 0 && v.every(Number.isFinite))) {
        throw new InvalidArgumentError(`${where}: scale and offset must be finite numbers or non-empty lists of them, got ${JSON.stringify(v)}`);
      }
    }
    return new Layer('rescaling', { scale: Array.isArray(scale) ? [...scale] : scale, offset: Array.isArray(offset) ? [...offset] : offset }, options);
  },
  // Keras Resizing(height, width, interpolation='bilinear'): TensorFlow's bilinear resize with
  // half-pixel centers and no antialiasing; trainable through (it has a backward pass).
  resizing(height: number, width: number, options: LayerOptions & { interpolation?: 'bilinear' } = {}): Layer {
    const where = pending('resizing', options);
    const interpolation = options.interpolation ?? 'bilinear';
    if (interpolation !== 'bilinear') throw new InvalidArgumentError(`${where}: only interpolation 'bilinear' is supported, got '${interpolation}'`);
    return new Layer('resizing', { height: positiveInt(where, 'height', height), width: positiveInt(where, 'width', width), interpolation }, options);
  },
};

function pooling(kind: 'maxPooling2d' | 'averagePooling2d', options: Pooling2dOptions): Layer {
  const where = pending(kind, options);
  const poolSize = pair(where, 'poolSize', options.poolSize, [2, 2]);
  return new Layer(kind, {
    kernelSize: poolSize,
    strides: options.strides === null || options.strides === undefined ? poolSize : pair(where, 'strides', options.strides, poolSize),
    padding: padding(where, options.padding),
  }, options);
}

// Functional API: a model input (Keras keras.Input(shape)).
export function input(options: { shape: number[]; name?: string }): SymbolicTensor {
  if (!options.shape.every((d) => Number.isInteger(d) && d > 0)) throw new InvalidArgumentError(`input: shape must be positive integers (no batch dimension), got [${options.shape}]`);
  return new SymbolicTensor([...options.shape], null, [], options.name ?? uniqueName('input_layer'));
}
