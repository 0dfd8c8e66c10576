// Keras Concatenate on any per-sample axis (axis 0, the batch, is refused; negative counts from the
// end). The last axis keeps its row copies (copy_strided); other axes are one strided N-D copy per input.
import { optionNames } from '../core/options';
import { type ForwardArgs, gradTarget, last, type NodeValue, rowsOf } from '../compile/program';
import { sizeOf } from '../compile/graph';
import { emitNdCopy, rowMajor } from '../compile/nd-copy';
import { gatherOrForward } from '../compile/channel-gather';
import { InvalidArgumentError } from '../core/errors';
import { type LayerOptions, pending, positionalOrOptions, sampleAxis, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export interface ConcatenateOptions extends LayerOptions { axis?: number }

// concatenate(), concatenate(-1) or concatenate({ axis: -1 })
export function concatenate(axis?: number | ConcatenateOptions, options?: ConcatenateOptions): Layer {
  const o = positionalOrOptions<ConcatenateOptions>('concatenate', 'axis', axis, options);
  const a = o.axis ?? -1;
  if (!Number.isInteger(a) || a === 0) throw new InvalidArgumentError(`${pending('concatenate', o)}: axis must be a non-batch axis (not 0), got ${JSON.stringify(o.axis)}`);
  return new Layer(CONCATENATE, { axis: a }, o);
}

const axisOf = (layer: Layer, rank: number) => sampleAxis(layer.config.axis as number, rank) as number;

// Where input i's box lies in the output: its offset along the axis times the axis's stride.
export function placements(layer: Layer, shapes: readonly (readonly number[])[], out: readonly number[]) {
  const a = axisOf(layer, out.length);
  const ys = rowMajor(out);
  let at = 0;
  return shapes.map((s) => {
    const box = { dims: [...s], y: { offset: at * ys[a], strides: ys }, x: { offset: 0, strides: rowMajor(s) } };
    at += s[a];
    return box;
  });
}

// Its inputs copied side by side along the axis (forward when it is not a channel gather).
function concatenateForward({ ctx, p, node, layer, inputs, shape, count }: ForwardArgs): NodeValue {
  const y = p.activation(node.name, count * ctx.batch);
  if (axisOf(layer, shape.length) === shape.length - 1) {
    const total = last(shape);
    let col = 0;
    for (const v of inputs) {
      const cols = last(v.shape);
      p.emit('copy_strided', layer.name, { y: [y, col * 4], x: v.region }, { ldy: total, ldx: cols, rows: rowsOf(shape), cols, accumulate: 0 });
      col += cols;
    }
  } else {
    placements(layer, inputs.map((v) => v.shape), shape).forEach((box, i) => emitNdCopy(p, layer.name, y, inputs[i].region, box, count, sizeOf(inputs[i].shape), 0));
  }
  return { region: y, shape };
}

export const CONCATENATE: LayerDef = {
  kind: 'concatenate',
  snake: 'concatenate',
  get options() { return optionNames<ConcatenateOptions>()([...LAYER_OPTION_NAMES, 'axis']); },
  multiInput: true,
  outputShape(layer, inputShapes, fail) {
    const [s] = inputShapes;
    if (inputShapes.length < 2) throw fail('needs at least two inputs');
    const a = sampleAxis(layer.config.axis as number, s.length);
    if (a === null) throw fail(`axis ${layer.config.axis} is not a per-sample axis of inputs of rank ${s.length}`);
    for (const t of inputShapes) {
      if (t.length !== s.length || t.some((d, i) => i !== a && d !== s[i])) throw fail(`inputs [${inputShapes.map((x) => `[${x}]`).join(', ')}] differ on an axis other than ${layer.config.axis}`);
    }
    return s.map((d, i) => (i === a ? inputShapes.reduce((n, t) => n + t[a], 0) : d));
  },
  forward: (a) => gatherOrForward(a, (l, ins, out) => placements(l, ins, out).map((box, input) => ({ input, box })), concatenateForward),
  readsGathers: true,
  backward({ ctx, p, g, layer, v, inputNodes, dy, count, needsInputGrad }) {
    if (!needsInputGrad) return;
    const lastAxis = axisOf(layer, v.shape.length) === v.shape.length - 1;
    const boxes = placements(layer, inputNodes.map((n) => n.shape), v.shape);
    const total = last(v.shape);
    let col = 0;
    inputNodes.forEach((inp, i) => {
      const dx = gradTarget(p, g, inp, sizeOf(inp.shape) * ctx.batch);
      if (lastAxis) {
        const cols = last(inp.shape);
        p.emit('copy_strided', layer.name, { y: dx.region, x: [dy, col * 4] }, { ldy: cols, ldx: total, rows: rowsOf(v.shape), cols, accumulate: dx.accumulate });
        col += cols;
      } else {
        const b = boxes[i];
        emitNdCopy(p, layer.name, dx.region, dy, { dims: b.dims, y: b.x, x: b.y }, sizeOf(inp.shape), count, dx.accumulate);
      }
    });
  },
  kerasClasses: ['Concatenate'],
  toKeras: (l) => ({ class_name: 'Concatenate', config: { ...kerasBase(l), axis: l.config.axis } }),
  // A foreign file's axis is also checked against the input rank by the importer.
  fromKeras: (c, r) => concatenate({ ...r.base, axis: c.axis ?? -1 }),
};
