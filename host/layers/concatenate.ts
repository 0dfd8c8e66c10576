// Keras Concatenate on the last axis.
import { optionNames } from '../core/options';
import { gradTarget, last, rowsOf } from '../compile/program';
import { sizeOf } from '../compile/graph';
import { type LayerOptions, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export interface ConcatenateOptions extends LayerOptions { axis?: number }

// concatenate(), concatenate(-1) or concatenate({ axis: -1 })
export function concatenate(axis?: number | ConcatenateOptions, options?: ConcatenateOptions): Layer {
  const o = positionalOrOptions<ConcatenateOptions>('concatenate', 'axis', axis, options);
  return new Layer(CONCATENATE, { axis: o.axis ?? -1 }, o);
}

export const CONCATENATE: LayerDef = {
  kind: 'concatenate',
  snake: 'concatenate',
  options: optionNames<ConcatenateOptions>()([...LAYER_OPTION_NAMES, 'axis']),
  multiInput: true,
  outputShape(layer, inputShapes, fail) {
    const [s] = inputShapes;
    if (inputShapes.length < 2) throw fail('needs at least two inputs');
    const axis = layer.config.axis as number;
    if (axis !== -1 && axis !== s.length) throw fail('only concatenation on the last axis is supported (axis -1)');
    for (const t of inputShapes) if (t.length !== s.length || t.slice(0, -1).some((d, i) => d !== s[i])) throw fail(`inputs [${inputShapes.map((x) => `[${x}]`).join(', ')}] differ on an axis other than the last`);
    return [...s.slice(0, -1), inputShapes.reduce((n, t) => n + t[t.length - 1], 0)];
  },
  forward({ ctx, p, node, layer, inputs, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    const total = last(shape);
    let col = 0;
    for (const v of inputs) {
      const cols = last(v.shape);
      p.emit('copy_strided', layer.name, { y: [y, col * 4], x: v.region }, { ldy: total, ldx: cols, rows: rowsOf(shape), cols, accumulate: 0 });
      col += cols;
    }
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, v, inputNodes, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const total = last(v.shape);
    let col = 0;
    for (const inp of inputNodes) {
      const cols = last(inp.shape);
      const dx = gradTarget(p, g, inp, sizeOf(inp.shape) * ctx.batch);
      p.emit('copy_strided', layer.name, { y: dx.region, x: [dy, col * 4] }, { ldy: cols, ldx: total, rows: rowsOf(v.shape), cols, accumulate: dx.accumulate });
      col += cols;
    }
  },
  kerasClasses: ['Concatenate'],
  toKeras: (l) => ({ class_name: 'Concatenate', config: { ...kerasBase(l), axis: l.config.axis } }),
  // A foreign file's axis is checked against the input rank by the importer.
  fromKeras: (c, r) => concatenate({ ...r.base, axis: r.own ? c.axis : -1 }),
};
