// Keras Rescaling: y = x * scale + offset, scalars or one value per channel (last axis). The
// constants are non-trainable weights 'scale' and 'offset' (per channel) so that they live in
// the arena and are saved with the model; importers use it for constant Mul/Add/Sub operands.
// In Keras and TF.js they are config, not weights.
import { optionNames } from '../core/options';
import { gradTarget, last, rowsOf } from '../compile/program';
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import { type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import type { InitializerConfig } from './initializers';
import { kerasBase } from './keras-json';
import { Layer, weightSpec } from './layer';

export interface RescalingOptions extends LayerOptions {
  scale?: number | number[];
  offset?: number | number[];
}

// rescaling(1 / 255, { offset: -1 }) or rescaling({ scale: 1 / 255, offset: -1 })
export function rescaling(scale: number | number[] | RescalingOptions, options?: RescalingOptions): Layer {
  const o = positionalOrOptions<RescalingOptions>('rescaling', 'scale', scale, options);
  const where = pending('rescaling', o);
  const s = o.scale;
  const offset = o.offset ?? 0;
  for (const v of [s, offset]) {
    if (!(typeof v === 'number' ? Number.isFinite(v) : Array.isArray(v) && v.length > 0 && v.every(Number.isFinite))) {
      throw new InvalidArgumentError(`${where}: scale and offset must be finite numbers or non-empty lists of them, got ${JSON.stringify(v)}`);
    }
  }
  return new Layer(RESCALING, { scale: Array.isArray(s) ? [...s] : s, offset: Array.isArray(offset) ? [...offset] : offset }, o);
}

const constant = { className: 'constant', value: 0 } as InitializerConfig;

export const RESCALING: LayerDef = {
  kind: 'rescaling',
  snake: 'rescaling',
  get options() { return optionNames<RescalingOptions>()([...LAYER_OPTION_NAMES, 'scale', 'offset']); },
  outputShape(layer, [s], fail) {
    const ch = s[s.length - 1];
    for (const k of ['scale', 'offset']) {
      const v = layer.config[k];
      if (Array.isArray(v) && v.length !== ch) throw fail(`${k} has ${v.length} values for ${ch} channels`);
    }
    return [...s];
  },
  weights(_layer, s) {
    const ch = s[s.length - 1];
    return [weightSpec('scale', [ch], constant, null, null, false), weightSpec('offset', [ch], constant, null, null, false)];
  },
  initialValues({ config: c }, s) {
    const ch = s[s.length - 1];
    const vec = (v: unknown) => (Array.isArray(v) ? v : new Array(ch).fill(v));
    return [Float32Array.from(vec(c.scale)), Float32Array.from(vec(c.offset))];
  },
  forward({ ctx, p, node, layer, x, shape, count, params }) {
    const [scale, offset] = params;
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('channel_affine', layer.name, { y, x: x.region, scale, offset }, { rows: rowsOf(shape), c: last(shape) });
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, v, input, dy, count, params, needsInputGrad }) {
    if (!needsInputGrad) return;
    const dx = gradTarget(p, g, input, count * ctx.batch);
    p.emit('channel_scale_backward', layer.name, { dx: dx.region, dy, scale: params[0] }, { rows: rowsOf(v.shape), c: last(v.shape), accumulate: dx.accumulate });
  },
  kerasClasses: ['Rescaling'],
  toKeras: (l) => ({ class_name: 'Rescaling', config: { ...kerasBase(l), scale: l.config.scale, offset: l.config.offset } }),
  fromKeras: (c, r) => rescaling(c.scale ?? 1, { ...r.base, offset: c.offset ?? 0 }),
  kerasWeights: () => [],
  // TF.js's Rescaling takes one scale and one offset, as config.
  toTfjs(l, j, where, source) {
    if (!l.values.every((v) => v.every((x) => x === v[0]))) {
      throw new ModelFormatError(`${where}: layer '${l.name}' (Rescaling) has per-channel constants; TF.js's Rescaling takes one scale and one offset`, source, l.name);
    }
    j.config.scale = l.values[0][0];
    j.config.offset = l.values[1][0];
  },
};
