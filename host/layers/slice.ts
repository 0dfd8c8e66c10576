// A static strided slice over the per-sample axes (TF StridedSlice without masks, ONNX Slice with
// constant starts/ends/steps): begin and end per axis, end exclusive, both clamped to the axis like
// tf.stridedSlice (negative counts from the end), strides >= 1. The backward scatters dy into a
// zero gradient.
import { optionNames } from '../core/options';
import { relayoutBackward, relayoutForward, type Relayout, rowMajor } from '../compile/nd-copy';
import { gatherOrForward } from '../compile/channel-gather';
import { InvalidArgumentError } from '../core/errors';
import { intList, type LayerOptions, pending, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase, noTfjsCounterpart } from './keras-json';
import { Layer } from './layer';

export interface SliceOptions extends LayerOptions {
  begin?: number[];
  end?: number[];
  strides?: number[];
}

// slice({ begin: [0, 0, 1], end: [4, 4, 3] }); strides default to 1.
export function slice(options: SliceOptions): Layer {
  const o = options ?? {};
  const where = pending('slice', o);
  const begin = intList(where, 'begin', o.begin);
  const end = intList(where, 'end', o.end);
  const strides = o.strides === undefined ? begin.map(() => 1) : intList(where, 'strides', o.strides, 1);
  if (begin.length === 0 || end.length !== begin.length || strides.length !== begin.length) {
    throw new InvalidArgumentError(`${where}: begin, end and strides need one entry per per-sample axis, got [${begin}], [${end}], [${strides}]`);
  }
  return new Layer(SLICE, { begin, end, strides }, o);
}

// Per axis: the first index, the stride and the count, clamped like tf.stridedSlice.
function bounds(layer: Layer, s: readonly number[]): { start: number[]; count: number[]; step: number[] } {
  const c = layer.config as { begin: number[]; end: number[]; strides: number[] };
  const clamp = (v: number, n: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const start = s.map((n, k) => clamp(c.begin[k], n));
  const count = s.map((n, k) => Math.max(0, Math.ceil((clamp(c.end[k], n) - start[k]) / c.strides[k])));
  return { start, count, step: c.strides };
}

export function window(layer: Layer, inShape: readonly number[]): Relayout {
  const { start, count, step } = bounds(layer, inShape);
  const xs = rowMajor(inShape);
  return {
    steps: [{
      from: 'input', dims: count, y: { offset: 0, strides: rowMajor(count) },
      x: { offset: start.reduce((t, b, k) => t + b * xs[k], 0), strides: xs.map((v, k) => v * step[k]) },
    }],
    readsInputOnce: false,
  };
}

export const SLICE: LayerDef = {
  kind: 'slice',
  snake: 'slice',
  get options() { return optionNames<SliceOptions>()([...LAYER_OPTION_NAMES, 'begin', 'end', 'strides']); },
  outputShape(layer, [s], fail) {
    const c = layer.config as { begin: number[] };
    if (c.begin.length !== s.length) throw fail(`begin/end/strides have ${c.begin.length} entries but the input has ${s.length} axes per sample ([${s}])`);
    const { count } = bounds(layer, s);
    if (count.some((n) => n === 0)) throw fail(`the slice of [${s}] is empty (${count.join(' x ')})`);
    return count;
  },
  forward: (a) => gatherOrForward(a, (l, [s]) => window(l, s).steps.map((box) => ({ input: 0, box })), (m) => relayoutForward(m, window(m.layer, m.x.shape))),
  readsGathers: true,
  backward: (a) => relayoutBackward(a, window(a.layer, a.x.shape)),
  kerasClasses: ['edgetune>Slice'],
  toTfjs: /* @__PURE__ */ noTfjsCounterpart('edgetune>Slice'),
  toKeras: (l) => ({ class_name: 'edgetune>Slice', config: { ...kerasBase(l), begin: l.config.begin, end: l.config.end, strides: l.config.strides } }),
  fromKeras: (c, r) => slice({ ...r.base, begin: c.begin, end: c.end, strides: c.strides }),
};
