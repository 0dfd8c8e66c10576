// Layers: one record type with a `kind`, Keras names and defaults. What a kind computes lives in
// the plan compiler (host/plan.ts), dispatched by `switch`; here are its configuration, output
// shape and weights. Weights are host arrays until a model is compiled, then views into that
// model's arena (the arena is the single copy the kernels update).
import { InvalidArgumentError, ShapeError } from './errors';
import { type InitializerSpec, type InitializerConfig, initialize, normalizeInitializer } from './initializers';
import { nextSeed } from './random';

export type ActivationName = 'linear' | 'relu' | 'softmax';
const ACTIVATIONS: readonly ActivationName[] = ['linear', 'relu', 'softmax'];

export type LayerKind = 'dense' | 'relu' | 'softmax';

export interface WeightSpec {
  name: string; // 'kernel', 'bias'
  shape: number[];
  initializer: InitializerConfig;
}

export interface DenseOptions {
  activation?: ActivationName | null;
  useBias?: boolean;
  kernelInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  inputShape?: number[];
  name?: string;
  trainable?: boolean;
}

export interface LayerOptions {
  inputShape?: number[];
  name?: string;
  trainable?: boolean;
}

const nameCounters = new Map<string, number>();
// Keras naming: the first dense layer is 'dense', then 'dense_1', 'dense_2', ...
export function uniqueName(base: string): string {
  const n = nameCounters.get(base) ?? 0;
  nameCounters.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

// The object whose arena currently holds a layer's weights (a compiled model's executor).
export interface WeightHome {
  readonly id: number;
}

export class Layer {
  readonly kind: LayerKind;
  readonly name: string;
  readonly config: Record<string, unknown>;
  // Frozen layers get no gradient, no optimizer state and no backward pass.
  trainable: boolean;
  readonly inputShape: number[] | null;
  weightSpecs: WeightSpec[] = [];
  builtInputShape: number[] | null = null;
  /** @internal current weight arrays (host arrays or arena views) */
  values: Float32Array[] = [];
  /** @internal the arena the values live in, or null for host arrays */
  home: WeightHome | null = null;

  constructor(kind: LayerKind, config: Record<string, unknown>, options: LayerOptions) {
    this.kind = kind;
    this.config = config;
    this.name = options.name ?? uniqueName(kind === 'relu' ? 're_lu' : kind);
    this.trainable = options.trainable ?? true;
    this.inputShape = options.inputShape ? [...options.inputShape] : null;
    if (this.inputShape && !this.inputShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new InvalidArgumentError(`layer ${this.name}: inputShape must be positive integers (no batch dimension), got [${this.inputShape}]`);
    }
  }

  get built(): boolean {
    return this.builtInputShape !== null;
  }

  // Shape (per sample, no batch dimension) of the output for a given input shape.
  outputShape(inputShape: readonly number[]): number[] {
    switch (this.kind) {
      case 'dense':
        return [...inputShape.slice(0, -1), this.config.units as number];
      case 'relu':
      case 'softmax':
        return [...inputShape];
    }
  }

  // Creates the weights for this input shape (once; a built layer checks the shape instead).
  build(inputShape: readonly number[]): void {
    if (this.builtInputShape) {
      const same = this.builtInputShape.length === inputShape.length && this.builtInputShape.every((d, i) => d === inputShape[i]);
      if (!same) {
        throw new ShapeError(`layer ${this.name} was built for input shape [${this.builtInputShape}] and cannot take [${inputShape}]`,
          this.name, this.builtInputShape, [...inputShape]);
      }
      return;
    }
    const specs: WeightSpec[] = [];
    if (this.kind === 'dense') {
      if (inputShape.length < 1) throw new ShapeError(`layer ${this.name} (dense) needs an input of rank >= 1 per sample`, this.name);
      const inFeatures = inputShape[inputShape.length - 1];
      specs.push({ name: 'kernel', shape: [inFeatures, this.config.units as number], initializer: this.config.kernelInitializer as InitializerConfig });
      if (this.config.useBias) specs.push({ name: 'bias', shape: [this.config.units as number], initializer: this.config.biasInitializer as InitializerConfig });
    }
    this.weightSpecs = specs;
    this.values = specs.map((s) => initialize(s.initializer, s.shape, nextSeed()));
    this.home = null;
    this.builtInputShape = [...inputShape];
  }

  countParams(): number {
    return this.weightSpecs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  // Copies of the weights, in Keras order (dense: kernel [in, out], bias [out]).
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

function activationOf(layerName: string, a: ActivationName | null | undefined): ActivationName {
  const act = a ?? 'linear';
  if (!ACTIVATIONS.includes(act)) throw new InvalidArgumentError(`layer ${layerName}: unknown activation '${act}' (known: ${ACTIVATIONS.join(', ')})`);
  return act;
}

export const layers = {
  // Keras Dense: y = activation(x . kernel + bias), on the last axis of x.
  dense(units: number, options: DenseOptions = {}): Layer {
    if (!Number.isInteger(units) || units <= 0) throw new InvalidArgumentError(`dense: units must be a positive integer, got ${units}`);
    const layer = new Layer('dense', {
      units,
      activation: 'linear',
      useBias: options.useBias ?? true,
      kernelInitializer: normalizeInitializer(options.kernelInitializer ?? 'glorotUniform'),
      biasInitializer: normalizeInitializer(options.biasInitializer ?? 'zeros'),
    }, options);
    layer.config.activation = activationOf(layer.name, options.activation);
    return layer;
  },
  relu(options: LayerOptions = {}): Layer {
    return new Layer('relu', {}, options);
  },
  softmax(options: LayerOptions = {}): Layer {
    return new Layer('softmax', {}, options);
  },
};
