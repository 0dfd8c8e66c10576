// Keras PReLU: y = x > 0 ? x : alpha*x with a trainable alpha of the per-sample input shape,
// extent 1 along the shared axes (per-channel alpha on NHWC: sharedAxes [1, 2]). The kernel
// (assembly/kernels/prelu.ts) sees the shape collapsed to four dims and a bit per shared one.
import { optionNames } from '../core/options';
import { gradTarget, paramGrad } from '../compile/program';
import { sizeOf } from '../compile/graph';
import { InvalidArgumentError } from '../core/errors';
import { type LayerOptions, pending, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { type InitializerSpec, normalizeInitializer } from './initializers';
import { kerasBase, objectFromJson, objectJson } from './keras-json';
import { Layer, weightSpec } from './layer';
import { type ConstraintConfig, type ConstraintName, type RegularizerConfig, type RegularizerName, resolveConstraint, resolveRegularizer } from './regularizers';

export interface PreluOptions extends LayerOptions {
  // Keras numbering: 1 is the first axis after the batch; negative counts from the end.
  sharedAxes?: number | number[] | null;
  alphaInitializer?: InitializerSpec;
  alphaRegularizer?: RegularizerConfig | RegularizerName | null;
  alphaConstraint?: ConstraintConfig | ConstraintName | null;
}

export function prelu(options: PreluOptions = {}): Layer {
  const o = options ?? {};
  const where = pending('p_re_lu', o);
  const raw = o.sharedAxes === undefined || o.sharedAxes === null ? [] : typeof o.sharedAxes === 'number' ? [o.sharedAxes] : o.sharedAxes;
  if (!Array.isArray(raw) || !raw.every((a) => Number.isInteger(a) && a !== 0)) {
    throw new InvalidArgumentError(`${where}: sharedAxes must be non-zero integer axes (1 is the first axis after the batch; 0, the batch, has no alpha of its own), got ${JSON.stringify(o.sharedAxes)}`);
  }
  return new Layer(PRELU, {
    sharedAxes: [...raw],
    alphaInitializer: normalizeInitializer(o.alphaInitializer ?? 'zeros'),
    alphaRegularizer: resolveRegularizer(o.alphaRegularizer, `${where} alphaRegularizer`),
    alphaConstraint: resolveConstraint(o.alphaConstraint, `${where} alphaConstraint`),
  }, o);
}

// The per-sample axes (0-based) alpha is shared along, checked against the input's rank.
function sharedSet(layer: Layer, rank: number): Set<number> {
  const out = new Set<number>();
  for (const a of layer.config.sharedAxes as number[]) {
    if (a > rank || a < -rank) throw new InvalidArgumentError(`${layer.name}: shared axis ${a} is outside the ${rank} axes of its per-sample input`);
    out.add(a > 0 ? a - 1 : rank + a);
  }
  return out;
}

export function alphaShape(layer: Layer, s: readonly number[]): number[] {
  const shared = sharedSet(layer, s.length);
  return s.map((d, i) => (shared.has(i) ? 1 : d));
}

// The input collapsed to runs of axes that are all shared or all not: four dims (leading 1s)
// and the bit mask of the shared ones.
export function collapsedDims(layer: Layer, s: readonly number[]): { d0: number; d1: number; d2: number; d3: number; shared: number } {
  const shared = sharedSet(layer, s.length);
  const runs: [number, boolean][] = [];
  s.forEach((d, i) => {
    const sh = shared.has(i) || d === 1;
    const lastRun = runs[runs.length - 1];
    if (lastRun && lastRun[1] === sh) lastRun[0] *= d;
    else runs.push([d, sh]);
  });
  if (runs.length > 4) {
    throw new InvalidArgumentError(`${layer.name}: shared axes ${JSON.stringify(layer.config.sharedAxes)} of input [${s}] alternate more than 4 times between shared and not (not supported)`);
  }
  while (runs.length < 4) runs.unshift([1, false]);
  return { d0: runs[0][0], d1: runs[1][0], d2: runs[2][0], d3: runs[3][0], shared: runs.reduce((m, [, sh], i) => m | (sh ? 1 << i : 0), 0) };
}

export const PRELU: LayerDef = {
  kind: 'prelu',
  snake: 'p_re_lu',
  get options() { return optionNames<PreluOptions>()([...LAYER_OPTION_NAMES, 'sharedAxes', 'alphaInitializer', 'alphaRegularizer', 'alphaConstraint']); },
  outputShape(layer, [s]) {
    collapsedDims(layer, s); // refuses shared axes outside the rank or that the kernel cannot express
    return [...s];
  },
  weights: (layer, s) => [weightSpec('alpha', alphaShape(layer, s), layer.config.alphaInitializer, layer.config.alphaRegularizer, layer.config.alphaConstraint)],
  forward({ ctx, p, node, layer, x, shape, count, params }) {
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('prelu_forward', layer.name, { y, x: x.region, alpha: params[0] }, collapsedDims(layer, x.shape));
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, input, x, dy, grads, params, needsInputGrad }) {
    const da = grads && grads[0] !== undefined && grads[0] !== null ? paramGrad(ctx, grads[0]) : null;
    if (!needsInputGrad && !da) return;
    const dx = needsInputGrad ? gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch) : null;
    p.emit('prelu_backward', layer.name, { ...(dx ? { dx: dx.region } : {}), ...(da ? { dalpha: da.region } : {}), dy, x: x.region, alpha: params[0] },
      { ...(dx ? {} : { dx: 0 }), ...(da ? {} : { dalpha: 0 }), ...collapsedDims(layer, x.shape), accumulate: dx?.accumulate ?? 0, accumulateAlpha: da?.accumulate ?? 0 });
  },
  kerasClasses: ['PReLU'],
  toKeras(l) {
    const c = l.config;
    const axes = c.sharedAxes as number[];
    return {
      class_name: 'PReLU',
      config: {
        ...kerasBase(l), alpha_initializer: objectJson(c.alphaInitializer), alpha_regularizer: objectJson(c.alphaRegularizer),
        alpha_constraint: objectJson(c.alphaConstraint), shared_axes: axes.length ? axes : null,
      },
    };
  },
  fromKeras(c, r) {
    const own = r.own ? {
      alphaInitializer: objectFromJson(c.alpha_initializer) as never, alphaRegularizer: (objectFromJson(c.alpha_regularizer) ?? null) as never,
      alphaConstraint: (objectFromJson(c.alpha_constraint) ?? null) as never,
    } : {};
    return prelu({ ...r.base, sharedAxes: c.shared_axes ?? null, ...own });
  },
  kerasWeights: () => ['alpha'],
};
