// Keras Permute(dims): reorders the per-sample axes; dims are 1-based (the batch stays first),
// any per-sample rank up to 5. The backward is the inverse permutation.
import { optionNames } from '../core/options';
import { relayoutBackward, relayoutForward, type Relayout, rowMajor } from '../compile/nd-copy';
import { gatherOrForward } from '../compile/channel-gather';
import { InvalidArgumentError } from '../core/errors';
import { intList, type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export interface PermuteOptions extends LayerOptions { dims?: number[] }

// permute([2, 1]) or permute({ dims: [2, 1] })
export function permute(dims: number[] | PermuteOptions, options?: LayerOptions): Layer {
  const o = positionalOrOptions<PermuteOptions>('permute', 'dims', dims, options);
  const where = pending('permute', o);
  const d = intList(where, 'dims', o.dims, 1);
  if (d.length === 0 || d.length > 5 || [...d].sort((a, b) => a - b).some((v, i) => v !== i + 1)) {
    throw new InvalidArgumentError(`${where}: dims must be a permutation of 1..n (n <= 5 per-sample axes; the batch is not permuted), got [${d}]`);
  }
  return new Layer(PERMUTE, { dims: d }, o);
}

export function permutation(layer: Layer, inShape: readonly number[], outShape: readonly number[]): Relayout {
  const dims = layer.config.dims as number[];
  const xs = rowMajor(inShape);
  return {
    steps: [{ from: 'input', dims: [...outShape], y: { offset: 0, strides: rowMajor(outShape) }, x: { offset: 0, strides: dims.map((d) => xs[d - 1]) } }],
    readsInputOnce: true,
  };
}

export const PERMUTE: LayerDef = {
  kind: 'permute',
  snake: 'permute',
  get options() { return optionNames<PermuteOptions>()([...LAYER_OPTION_NAMES, 'dims']); },
  outputShape(layer, [s], fail) {
    const dims = layer.config.dims as number[];
    if (dims.length !== s.length) throw fail(`dims [${dims}] permute ${dims.length} axes but the input has ${s.length} per sample ([${s}])`);
    return dims.map((d) => s[d - 1]);
  },
  forward: (a) => gatherOrForward(a, (l, [s], out) => permutation(l, s, out).steps.map((box) => ({ input: 0, box })), (m) => relayoutForward(m, permutation(m.layer, m.x.shape, m.shape))),
  readsGathers: true,
  backward: (a) => relayoutBackward(a, permutation(a.layer, a.x.shape, a.v.shape)),
  kerasClasses: ['Permute'],
  toKeras: (l) => ({ class_name: 'Permute', config: { ...kerasBase(l), dims: l.config.dims } }),
  fromKeras: (c, r) => permute({ ...r.base, dims: c.dims }),
};
