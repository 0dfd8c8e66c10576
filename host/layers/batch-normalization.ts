// Keras BatchNormalization on the last axis: batch statistics (and a moving-average update) in
// training when trainable, the moving statistics otherwise. gamma and beta are trainable;
// moving_mean and moving_variance are state that no optimizer touches. In inference a batch norm
// that alone reads a convolution is folded into it (host/compile/conv-fusion.ts).
import { optionNames } from '../core/options';
import { sizeOf } from '../compile/graph';
import { gradTarget, last, paramGrad, rowsOf, weightRegions } from '../compile/program';
import { InvalidArgumentError } from '../core/errors';
import { flag, type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { type InitializerSpec, normalizeInitializer } from './initializers';
import { kerasBase, objectFromJson, objectJson } from './keras-json';
import { Layer, weightSpec } from './layer';

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

// batchNormalization(), batchNormalization(-1, { ... }) or batchNormalization({ axis: -1, ... })
export function batchNormalization(axis?: number | BatchNormalizationOptions, options?: BatchNormalizationOptions): Layer {
  const o = positionalOrOptions<BatchNormalizationOptions>('batchNormalization', 'axis', axis, options);
  const where = pending('batch_normalization', o);
  const ax = o.axis ?? -1;
  if (ax !== -1) throw new InvalidArgumentError(`${where}: only axis -1 (channels last) is supported, got ${ax}`);
  const momentum = o.momentum ?? 0.99;
  const epsilon = o.epsilon ?? 1e-3;
  if (!(momentum >= 0 && momentum <= 1)) throw new InvalidArgumentError(`${where}: momentum must be in [0, 1], got ${momentum}`);
  if (!(epsilon > 0)) throw new InvalidArgumentError(`${where}: epsilon must be positive, got ${epsilon}`);
  return new Layer(BATCH_NORMALIZATION, {
    axis: ax, momentum, epsilon, center: flag(where, 'center', o.center, true), scale: flag(where, 'scale', o.scale, true),
    betaInitializer: normalizeInitializer(o.betaInitializer ?? 'zeros'),
    gammaInitializer: normalizeInitializer(o.gammaInitializer ?? 'ones'),
    movingMeanInitializer: normalizeInitializer(o.movingMeanInitializer ?? 'zeros'),
    movingVarianceInitializer: normalizeInitializer(o.movingVarianceInitializer ?? 'ones'),
  }, o);
}

// Optional gamma / beta as op refs (present) or zero args (absent).
function gammaBeta(named: Record<string, number>): { refs: Record<string, number>; zeros: Record<string, number> } {
  return {
    refs: { ...(named.gamma !== undefined ? { gamma: named.gamma } : {}), ...(named.beta !== undefined ? { beta: named.beta } : {}) },
    zeros: { ...(named.gamma !== undefined ? {} : { gamma: 0 }), ...(named.beta !== undefined ? {} : { beta: 0 }) },
  };
}

export const BATCH_NORMALIZATION: LayerDef = {
  kind: 'batchNormalization',
  snake: 'batch_normalization',
  get options() { return optionNames<BatchNormalizationOptions>()([...LAYER_OPTION_NAMES, 'axis', 'momentum', 'epsilon', 'center', 'scale', 'betaInitializer', 'gammaInitializer', 'movingMeanInitializer', 'movingVarianceInitializer']); },
  outputShape: (_layer, [s]) => [...s],
  weights({ config: c }, s) {
    const ch = s[s.length - 1];
    return [
      ...(c.scale ? [weightSpec('gamma', [ch], c.gammaInitializer)] : []),
      ...(c.center ? [weightSpec('beta', [ch], c.betaInitializer)] : []),
      weightSpec('moving_mean', [ch], c.movingMeanInitializer, null, null, false),
      weightSpec('moving_variance', [ch], c.movingVarianceInitializer, null, null, false),
    ];
  },
  forward({ ctx, p, node, layer, x, shape, count, params, training }) {
    const c = last(shape);
    const rows = rowsOf(shape);
    const named = weightRegions(layer, params);
    const { refs, zeros } = gammaBeta(named);
    const y = p.activation(node.name, count * ctx.batch);
    const bnTraining = training && layer.trainable;
    const epsilon = layer.config.epsilon as number;
    if (bnTraining) {
      const mean = p.activation(`${node.name}:mean`, c);
      const invstd = p.activation(`${node.name}:invstd`, c);
      // New moving statistics go to pending buffers, committed after the step's checks.
      const mm = p.updateState(named.moving_mean, c, layer.name);
      const mv = p.updateState(named.moving_variance, c, layer.name);
      p.emit('bn_forward_train', layer.name, {
        y, mean, invstd, newMean: mm.write, newVar: mv.write, x: x.region, movingMean: mm.read, movingVar: mv.read, ...refs,
      }, { ...zeros, rows, c, momentum: layer.config.momentum as number, epsilon });
      return { region: y, shape, mean, invstd, bnTraining };
    }
    p.emit('bn_forward_infer', layer.name, { y, x: x.region, movingMean: named.moving_mean, movingVar: named.moving_variance, ...refs }, { ...zeros, rows, c, epsilon });
    return { region: y, shape, bnTraining: false };
  },
  backward({ ctx, p, g, layer, v, x, input, dy, params, grads, needsInputGrad }) {
    const named = weightRegions(layer, params);
    const c = last(v.shape);
    const rows = rowsOf(v.shape);
    const gammaRef: Record<string, number> = named.gamma !== undefined ? { gamma: named.gamma } : {};
    const gammaZero: Record<string, number> = named.gamma !== undefined ? {} : { gamma: 0 };
    if (v.bnTraining) {
      const gradNamed: Record<string, number | null> = {};
      if (grads) layer.weightSpecs.forEach((s, i) => { gradNamed[s.name] = grads[i]; });
      const dgamma = gradNamed.gamma ?? null;
      const dbeta = gradNamed.beta ?? null;
      const acc = [dgamma, dbeta].filter((r): r is number => r !== null).map((r) => paramGrad(ctx, r).accumulate);
      const dx = needsInputGrad ? gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch) : null;
      if (!dx && acc.length === 0) return;
      p.emit('bn_backward_train', layer.name, {
        dy, x: x.region, mean: v.mean!, invstd: v.invstd!,
        ...(dx ? { dx: dx.region } : {}), ...(dgamma !== null ? { dgamma } : {}), ...(dbeta !== null ? { dbeta } : {}), ...gammaRef,
      }, {
        ...(dx ? {} : { dx: 0 }), ...(dgamma !== null ? {} : { dgamma: 0 }), ...(dbeta !== null ? {} : { dbeta: 0 }),
        ...gammaZero, rows, c, accumulate: dx?.accumulate ?? 0, accumulateParams: acc[0] ?? 0,
      });
      return;
    }
    if (!needsInputGrad) return;
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    p.emit('bn_backward_infer', layer.name, { dx: dx.region, dy, movingVar: named.moving_variance, ...gammaRef },
      { ...gammaZero, rows, c, epsilon: layer.config.epsilon as number, accumulate: dx.accumulate });
  },
  kerasClasses: ['BatchNormalization'],
  toKeras(l) {
    const c = l.config;
    return {
      class_name: 'BatchNormalization',
      config: {
        ...kerasBase(l), axis: c.axis, momentum: c.momentum, epsilon: c.epsilon, center: c.center, scale: c.scale,
        beta_initializer: objectJson(c.betaInitializer), gamma_initializer: objectJson(c.gammaInitializer),
        moving_mean_initializer: objectJson(c.movingMeanInitializer), moving_variance_initializer: objectJson(c.movingVarianceInitializer),
      },
    };
  },
  // A foreign file's axis (3, [3], -1) is checked against the input rank by the importer.
  fromKeras(c, r) {
    const init = (k: string) => (r.own ? (objectFromJson(c[k]) as never) : undefined);
    return batchNormalization({
      ...r.base, ...(r.own ? { axis: c.axis } : {}), momentum: c.momentum, epsilon: c.epsilon, center: c.center ?? undefined, scale: c.scale ?? undefined,
      betaInitializer: init('beta_initializer'), gammaInitializer: init('gamma_initializer'),
      movingMeanInitializer: init('moving_mean_initializer'), movingVarianceInitializer: init('moving_variance_initializer'),
    });
  },
  kerasWeights: (c) => [...(c.scale ? ['gamma'] : []), ...(c.center ? ['beta'] : []), 'moving_mean', 'moving_variance'],
};
