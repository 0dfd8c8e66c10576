// Keras Activation, ReLU, Softmax, LeakyReLU and ELU layers: one kind with an activation name and
// its parameter alpha (LeakyReLU's negative slope, ELU's alpha).
import { optionNames } from '../core/options';
import { activationBackward, activationForward } from '../compile/activation-lowering';
import { gradTarget, passGradient } from '../compile/program';
import { InvalidArgumentError } from '../core/errors';
import { type ActivationName, type ActivationSpec, resolveActivation } from './activations';
import { type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { activationOf, kerasActivation, kerasBase, type LayerJson, unsupported } from './keras-json';
import { Layer } from './layer';
import { checkAxes, perSampleAxes } from './reduce';

export interface ActivationOptions extends LayerOptions {
  activation?: ActivationSpec;
}

function activationLayer(activation: ActivationName, alpha: number, options: LayerOptions, extra: Record<string, unknown> = {}): Layer {
  return new Layer(ACTIVATION, { activation, alpha, ...extra }, options);
}

// activation('relu') or activation({ activation: 'relu' })
export function activation(name: ActivationSpec | ActivationOptions, options?: LayerOptions): Layer {
  const o = positionalOrOptions<ActivationOptions>('activation', 'activation', name, options);
  const a = resolveActivation(o.activation, pending('activation', o));
  const axis = (o as SoftmaxOptions).axis;
  if (axis !== undefined) {
    if (a !== 'softmax') throw new InvalidArgumentError(`${pending('activation', o)}: axis applies to softmax only, not '${a}'`);
    return softmax({ ...o, axis } as SoftmaxOptions);
  }
  return activationLayer(a, a === 'leakyRelu' ? 0.2 : a === 'elu' ? 1 : 0, o);
}

export function relu(options: LayerOptions = {}): Layer {
  return activationLayer('relu', 0, options);
}

export interface SoftmaxOptions extends LayerOptions {
  // Keras's axis (0 is the batch, negative counts from the end); default -1, the last.
  axis?: number;
}

// softmax() or softmax({ axis: 1 }): the last-axis case keeps its own kernels (and the fused loss).
export function softmax(options: SoftmaxOptions = {}): Layer {
  const axis = options.axis ?? -1;
  if (axis !== -1) checkAxes(pending('softmax', options), axis);
  return activationLayer('softmax', 0, options, axis === -1 ? {} : { axis });
}

export interface LeakyReluOptions extends LayerOptions { alpha?: number; negativeSlope?: number }

// Keras 3 LeakyReLU layer: negative_slope 0.3 (the leaky_relu function's default is 0.2).
// leakyRelu(0.1) or leakyRelu({ negativeSlope: 0.1 })
export function leakyRelu(negativeSlope?: number | LeakyReluOptions, options?: LeakyReluOptions): Layer {
  const o = positionalOrOptions<LeakyReluOptions>('leakyRelu', 'negativeSlope', negativeSlope, options);
  const slope = o.negativeSlope ?? o.alpha ?? 0.3;
  if (!(slope >= 0)) throw new InvalidArgumentError(`${pending('activation', o)}: negativeSlope must be >= 0, got ${slope}`);
  return activationLayer('leakyRelu', slope, o);
}

export interface EluOptions extends LayerOptions { alpha?: number }

// elu(0.5) or elu({ alpha: 0.5 })
export function elu(alpha?: number | EluOptions, options?: EluOptions): Layer {
  const o = positionalOrOptions<EluOptions>('elu', 'alpha', alpha, options);
  return activationLayer('elu', o.alpha ?? 1, o);
}

function toKeras(l: Layer): LayerJson {
  const c = l.config;
  const base = kerasBase(l);
  switch (c.activation) {
    case 'relu': return { class_name: 'ReLU', config: base };
    case 'softmax': return { class_name: 'Softmax', config: { ...base, axis: c.axis ?? -1 } };
    case 'leakyRelu': return { class_name: 'LeakyReLU', config: { ...base, negative_slope: c.alpha } };
    case 'elu': if (c.alpha !== 1) return { class_name: 'ELU', config: { ...base, alpha: c.alpha } };
  }
  return { class_name: 'Activation', config: { ...base, activation: kerasActivation(c.activation) } };
}

function fromKeras(c: Record<string, any>, r: Parameters<LayerDef['fromKeras']>[1]): Layer {
  switch (r.className) {
    case 'ReLU':
      if (c.max_value === 6 && !c.negative_slope && !c.threshold) return activation('relu6', r.base);
      if ((c.max_value ?? null) !== null || c.negative_slope || c.threshold) throw unsupported(r, `max_value ${c.max_value}, negative_slope ${c.negative_slope}, threshold ${c.threshold} (plain ReLU or ReLU(6) only)`);
      return relu(r.base);
    case 'Softmax': {
      // A foreign file's axis is checked against the input rank by the importer.
      const axis = r.own && c.axis !== undefined ? (Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis) : -1;
      return softmax({ ...r.base, axis });
    }
    case 'LeakyReLU': return leakyRelu({ ...r.base, negativeSlope: c.negative_slope ?? c.alpha ?? 0.3 });
    case 'ELU': return elu({ ...r.base, alpha: c.alpha ?? 1 });
    default: return activation(activationOf(c.activation), r.base);
  }
}

export const ACTIVATION: LayerDef = {
  nameBase: activationLayerBase,
  kind: 'activation',
  snake: 'activation',
  get options() { return optionNames<ActivationOptions & LeakyReluOptions & SoftmaxOptions>()([...LAYER_OPTION_NAMES, 'activation', 'alpha', 'negativeSlope', 'axis']); },
  outputShape(layer, [s], fail) {
    if (layer.config.axis !== undefined) perSampleAxes([layer.config.axis as number], s.length, fail);
    return [...s];
  },
  forward({ ctx, p, node, layer, x, shape, outputLogits }) {
    const y = activationForward(p, layer, node, x.region, shape, outputLogits, ctx.batch, false);
    return { region: y, shape, pre: x.region };
  },
  backward({ ctx, p, g, layer, v, input, dy, count, needsInputGrad, fusedOutput }) {
    if (!needsInputGrad) return;
    if (layer.config.activation === 'linear' || (layer.config.activation === 'softmax' && fusedOutput)) {
      passGradient(ctx, p, g, layer.name, input, dy, count);
      return;
    }
    const dx = gradTarget(p, g, input, count * ctx.batch);
    activationBackward(p, layer, dx.region, dy, v, dx.accumulate);
  },
  kerasClasses: ['Activation', 'ReLU', 'Softmax', 'LeakyReLU', 'ELU'],
  toKeras,
  fromKeras,
  toTfjs(_l, j) {
    if (j.class_name === 'LeakyReLU') j.config.alpha = j.config.negative_slope;
  },
};

// Keras layer names: ReLU() is 're_lu', Softmax() 'softmax', ...
export function activationLayerBase(config: Record<string, unknown>): string {
  switch (config.activation) {
    case 'relu': return 're_lu';
    case 'softmax': return 'softmax';
    case 'leakyRelu': return 'leaky_re_lu';
    case 'elu': return 'elu';
    default: return 'activation';
  }
}
