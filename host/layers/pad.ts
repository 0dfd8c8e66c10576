// Padding on any per-sample axis (TF Pad / MirrorPad, ONNX Pad): paddings [before, after] per axis,
// mode 'constant' (constantValue), 'reflect' (mirror without the edge, pad < size), 'symmetric'
// (mirror with the edge, pad <= size) or 'edge' (repeat the edge). The mirrored modes copy the
// input into the middle, then fill the borders axis by axis from the output itself, so corners
// mirror what the earlier axes put there; the backward folds those taps back in reverse order.
import { optionNames } from '../core/options';
import { type CopyStep, relayoutBackward, relayoutForward, type Relayout, rowMajor } from '../compile/nd-copy';
import { InvalidArgumentError } from '../core/errors';
import { intList, type LayerOptions, pending, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase, noTfjsCounterpart } from './keras-json';
import { Layer } from './layer';

export type PadMode = 'constant' | 'reflect' | 'symmetric' | 'edge';
const MODES: readonly PadMode[] = ['constant', 'reflect', 'symmetric', 'edge'];

export interface PadOptions extends LayerOptions {
  paddings?: [number, number][];
  constantValue?: number;
  mode?: PadMode;
}

// pad({ paddings: [[1, 1], [2, 2], [0, 0]], mode: 'reflect' })
export function pad(options: PadOptions): Layer {
  const o = options ?? {};
  const where = pending('pad', o);
  const p = o.paddings;
  if (!Array.isArray(p) || p.length === 0 || !p.every((q) => Array.isArray(q) && q.length === 2)) {
    throw new InvalidArgumentError(`${where}: paddings must be [before, after] per per-sample axis, got ${JSON.stringify(p)}`);
  }
  const paddings = p.map((q) => intList(where, 'paddings', q, 0) as [number, number]);
  const mode = o.mode ?? 'constant';
  if (!MODES.includes(mode)) throw new InvalidArgumentError(`${where}: mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(o.mode)}`);
  const value = o.constantValue ?? 0;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidArgumentError(`${where}: constantValue must be a finite number, got ${JSON.stringify(o.constantValue)}`);
  if (mode !== 'constant' && o.constantValue !== undefined) throw new InvalidArgumentError(`${where}: constantValue is for mode 'constant', not '${mode}'`);
  return new Layer(PAD, { paddings, constantValue: value, mode }, o);
}

// Where the border elements of one side of an axis read, in output coordinates along that axis:
// border index k (0 at the outermost element of the left border, or at the first element of the
// right border) reads first + k * step.
function source(mode: PadMode, side: 'before' | 'after', before: number, n: number): { first: number; step: number } {
  const last = before + n - 1;
  if (mode === 'edge') return { first: side === 'before' ? before : last, step: 0 };
  const edge = mode === 'symmetric' ? 0 : 1;
  return side === 'before' ? { first: 2 * before - 1 + edge, step: -1 } : { first: last - edge, step: -1 };
}

function padding(layer: Layer, inShape: readonly number[], outShape: readonly number[]): Relayout {
  const { paddings, mode, constantValue } = layer.config as { paddings: [number, number][]; mode: PadMode; constantValue: number };
  const ys = rowMajor(outShape);
  const inner: CopyStep = {
    from: 'input', dims: [...inShape], y: { offset: paddings.reduce((t, [b], k) => t + b * ys[k], 0), strides: ys }, x: { offset: 0, strides: rowMajor(inShape) },
  };
  if (mode === 'constant') return { fill: constantValue, steps: [inner], readsInputOnce: true };
  const steps: CopyStep[] = [inner];
  inShape.forEach((n, a) => {
    for (const side of ['before', 'after'] as const) {
      const width = paddings[a][side === 'before' ? 0 : 1];
      if (width === 0) continue;
      // Axes before `a` are padded already (full extent); those after are still the input's.
      const dims = outShape.map((d, k) => (k < a ? d : k === a ? width : inShape[k]));
      const origin = outShape.map((_, k) => (k < a ? 0 : k === a ? 0 : paddings[k][0]));
      const from = source(mode, side, paddings[a][0], n);
      const yAt = [...origin];
      yAt[a] = side === 'before' ? 0 : paddings[a][0] + n;
      const xAt = [...origin];
      xAt[a] = from.first;
      const offset = (at: number[]) => at.reduce((t, i, k) => t + i * ys[k], 0);
      steps.push({
        from: 'output', dims, y: { offset: offset(yAt), strides: ys },
        x: { offset: offset(xAt), strides: ys.map((s, k) => (k === a ? s * from.step : s)) },
      });
    }
  });
  return { steps, readsInputOnce: true };
}

export const PAD: LayerDef = {
  kind: 'pad',
  snake: 'pad',
  get options() { return optionNames<PadOptions>()([...LAYER_OPTION_NAMES, 'paddings', 'constantValue', 'mode']); },
  outputShape(layer, [s], fail) {
    const { paddings, mode } = layer.config as { paddings: [number, number][]; mode: PadMode };
    if (paddings.length !== s.length) throw fail(`paddings has ${paddings.length} entries but the input has ${s.length} axes per sample ([${s}])`);
    const limit = mode === 'reflect' ? 1 : 0;
    paddings.forEach(([b, e], k) => {
      if ((mode === 'reflect' || mode === 'symmetric') && Math.max(b, e) > s[k] - limit) {
        throw fail(`mode '${mode}' pads axis ${k + 1} of size ${s[k]} by at most ${s[k] - limit} per side, got [${b}, ${e}]`);
      }
    });
    return s.map((n, k) => n + paddings[k][0] + paddings[k][1]);
  },
  forward: (a) => relayoutForward(a, padding(a.layer, a.x.shape, a.shape)),
  backward: (a) => relayoutBackward(a, padding(a.layer, a.x.shape, a.v.shape)),
  kerasClasses: ['edgetune>Pad'],
  toTfjs: /* @__PURE__ */ noTfjsCounterpart('edgetune>Pad'),
  toKeras: (l) => ({ class_name: 'edgetune>Pad', config: { ...kerasBase(l), paddings: l.config.paddings, constant_value: l.config.constantValue, mode: l.config.mode } }),
  fromKeras: (c, r) => pad({ ...r.base, paddings: c.paddings, mode: c.mode, ...(c.mode === undefined || c.mode === 'constant' ? { constantValue: c.constant_value } : {}) }),
};
