// Gather with constant indices along one per-sample axis (TF GatherV2, ONNX Gather, tf.gather):
// axis follows Keras (0 is the batch and refused, negative counts from the end), indices may be
// negative (from the end of the axis); a single index (a number) drops the axis, a list keeps it.
// Runs of evenly spaced indices become one strided copy each. The backward scatter-adds dy, so
// repeated indices accumulate.
import { optionNames } from '../core/options';
import { type CopyStep, relayoutBackward, relayoutForward, type Relayout, rowMajor } from '../compile/nd-copy';
import { InvalidArgumentError } from '../core/errors';
import { intList, type LayerOptions, pending, sampleAxis, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase, noTfjsCounterpart } from './keras-json';
import { Layer } from './layer';

export interface GatherOptions extends LayerOptions {
  indices?: number | number[];
  axis?: number;
}

// gather({ indices: [2, 0, 1], axis: -1 }); axis defaults to 1 (the first per-sample axis).
export function gather(options: GatherOptions): Layer {
  const o = options ?? {};
  const where = pending('gather', o);
  const scalar = typeof o.indices === 'number';
  const indices = intList(where, 'indices', scalar ? [o.indices] : o.indices);
  if (indices.length === 0) throw new InvalidArgumentError(`${where}: indices must not be empty`);
  const axis = o.axis ?? 1;
  if (!Number.isInteger(axis) || axis === 0) throw new InvalidArgumentError(`${where}: axis must be a non-batch axis (not 0), got ${JSON.stringify(o.axis)}`);
  return new Layer(GATHER, { indices, axis, keepAxis: !scalar }, o);
}

function selection(layer: Layer, inShape: readonly number[]): Relayout {
  const { indices } = layer.config as { indices: number[] };
  const a = sampleAxis(layer.config.axis as number, inShape.length) as number;
  const n = inShape[a];
  const idx = indices.map((i) => (i < 0 ? i + n : i));
  const kept = inShape.map((d, k) => (k === a ? idx.length : d));
  const ys = rowMajor(kept), xs = rowMajor(inShape);
  const steps: CopyStep[] = [];
  for (let k = 0; k < idx.length;) {
    const step = k + 1 < idx.length ? idx[k + 1] - idx[k] : 1;
    let len = 1;
    while (k + len < idx.length && idx[k + len] - idx[k + len - 1] === step) len++;
    steps.push({
      from: 'input', dims: kept.map((d, j) => (j === a ? len : d)), y: { offset: k * ys[a], strides: ys },
      x: { offset: idx[k] * xs[a], strides: xs.map((s, j) => (j === a ? s * step : s)) },
    });
    k += len;
  }
  return { steps, readsInputOnce: false };
}

export const GATHER: LayerDef = {
  kind: 'gather',
  snake: 'gather',
  get options() { return optionNames<GatherOptions>()([...LAYER_OPTION_NAMES, 'indices', 'axis']); },
  outputShape(layer, [s], fail) {
    const { indices, axis, keepAxis } = layer.config as { indices: number[]; axis: number; keepAxis: boolean };
    const a = sampleAxis(axis, s.length);
    if (a === null) throw fail(`axis ${axis} is not a per-sample axis of an input of shape [${s}]`);
    const bad = indices.find((i) => i < -s[a] || i >= s[a]);
    if (bad !== undefined) throw fail(`index ${bad} is out of range for axis ${axis} of size ${s[a]}`);
    if (!keepAxis && s.length === 1) throw fail(`a single index would leave no per-sample axis of [${s}]; give indices as a list`);
    return keepAxis ? s.map((d, k) => (k === a ? indices.length : d)) : s.filter((_, k) => k !== a);
  },
  forward: (a) => relayoutForward(a, selection(a.layer, a.x.shape)),
  backward: (a) => relayoutBackward(a, selection(a.layer, a.x.shape)),
  kerasClasses: ['edgetune>Gather'],
  toTfjs: /* @__PURE__ */ noTfjsCounterpart('edgetune>Gather'),
  toKeras: (l) => ({
    class_name: 'edgetune>Gather',
    config: { ...kerasBase(l), indices: l.config.keepAxis ? l.config.indices : (l.config.indices as number[])[0], axis: l.config.axis },
  }),
  fromKeras: (c, r) => gather({ ...r.base, indices: c.indices, axis: c.axis }),
};
