// Tiling of the per-sample axes (TF Tile, ONNX Tile, tf.tile): each axis repeated multiples[k]
// times. The backward sums the tiles.
import { optionNames } from '../core/options';
import { relayoutBackward, relayoutForward, type Relayout, rowMajor } from '../compile/nd-copy';
import { InvalidArgumentError } from '../core/errors';
import { intList, type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase, noTfjsCounterpart } from './keras-json';
import { Layer } from './layer';

export interface TileOptions extends LayerOptions { multiples?: number[] }

// tile([1, 2, 3]) or tile({ multiples: [1, 2, 3] })
export function tile(multiples: number[] | TileOptions, options?: LayerOptions): Layer {
  const o = positionalOrOptions<TileOptions>('tile', 'multiples', multiples, options);
  const where = pending('tile', o);
  const m = intList(where, 'multiples', o.multiples, 1);
  if (m.length === 0) throw new InvalidArgumentError(`${where}: multiples needs one entry per per-sample axis, got []`);
  return new Layer(TILE, { multiples: m }, o);
}

// The output as (m_0, d_0, m_1, d_1, ...) in order; the input is read at stride 0 across tiles.
function tiling(layer: Layer, inShape: readonly number[], outShape: readonly number[]): Relayout {
  const m = layer.config.multiples as number[];
  const ys = rowMajor(outShape), xs = rowMajor(inShape);
  const dims = inShape.flatMap((d, k) => [m[k], d]);
  return {
    steps: [{
      from: 'input', dims, y: { offset: 0, strides: inShape.flatMap((d, k) => [d * ys[k], ys[k]]) }, x: { offset: 0, strides: xs.flatMap((s) => [0, s]) },
    }],
    readsInputOnce: m.every((v) => v === 1),
  };
}

export const TILE: LayerDef = {
  kind: 'tile',
  snake: 'tile',
  get options() { return optionNames<TileOptions>()([...LAYER_OPTION_NAMES, 'multiples']); },
  outputShape(layer, [s], fail) {
    const m = layer.config.multiples as number[];
    if (m.length !== s.length) throw fail(`multiples [${m}] has ${m.length} entries but the input has ${s.length} axes per sample ([${s}])`);
    return s.map((d, k) => d * m[k]);
  },
  forward: (a) => relayoutForward(a, tiling(a.layer, a.x.shape, a.shape)),
  backward: (a) => relayoutBackward(a, tiling(a.layer, a.x.shape, a.v.shape)),
  kerasClasses: ['edgetune>Tile'],
  toTfjs: /* @__PURE__ */ noTfjsCounterpart('edgetune>Tile'),
  toKeras: (l) => ({ class_name: 'edgetune>Tile', config: { ...kerasBase(l), multiples: l.config.multiples } }),
  fromKeras: (c, r) => tile({ ...r.base, multiples: c.multiples }),
};
