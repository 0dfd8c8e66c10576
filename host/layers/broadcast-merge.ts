// Merge layers with NumPy broadcasting (Keras 3's Add, Subtract, Multiply, Maximum, Minimum and
// Average broadcast their inputs; edgetune's Divide too): the output shape, and the forward and
// backward lowering of the broadcasting case. add.ts, subtract.ts and multiply.ts keep their
// same-shape kernels and call these when the shapes differ; maximum, minimum, average and divide
// are defined here.
import { LAYER_OPTION_NAMES, type LayerOptions } from './config';
import { optionNames } from '../core/options';
import { gradTarget, type BackwardArgs, type ForwardArgs, type NodeValue } from '../compile/program';
import { sizeOf } from '../compile/graph';
import { type BinaryOp, broadcastShapes, checkBroadcastRank, emitBinary, emitBinaryGrad, emitBroadcast, type Operand } from '../compile/broadcast-lowering';
import { ModelFormatError } from '../core/errors';
import type { LayerDef, Shapes } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

const sameShape = (s: readonly number[], t: readonly number[]) => s.length === t.length && s.every((d, i) => d === t[i]);
export const allSameShape = (shapes: Shapes) => shapes.every((t) => sameShape(t, shapes[0]));

// The output shape of broadcast inputs: `exactly` fixes their number (two for the binary ones).
export function mergeShape(shapes: Shapes, fail: (what: string) => Error, exactly?: number): number[] {
  if (exactly !== undefined && shapes.length !== exactly) throw fail(`needs exactly two inputs, got ${shapes.length}`);
  if (shapes.length < 2) throw fail('needs at least two inputs');
  const out = broadcastShapes(shapes, fail);
  if (!allSameShape(shapes)) checkBroadcastRank(out, shapes, fail);
  return out;
}

const operand = (v: NodeValue): Operand => ({ ref: v.region, shape: v.shape, batched: true });

// y = a op b with broadcasting.
export function binaryForward({ ctx, p, node, layer, inputs, shape, count }: ForwardArgs, op: BinaryOp): NodeValue {
  const y = p.activation(node.name, count * ctx.batch);
  emitBinary(p, layer.name, op, y, shape, operand(inputs[0]), operand(inputs[1]));
  return { region: y, shape };
}

// Both operands' gradients of y = a op b (each summed over the axes it was broadcast along).
export function binaryBackward({ ctx, p, g, layer, inputNodes, values, v, dy, needsInputGrad }: BackwardArgs, op: BinaryOp): void {
  if (!needsInputGrad) return;
  const [a, b] = inputNodes.map((n) => operand(values[n.id]));
  inputNodes.forEach((n, i) => {
    const dx = gradTarget(p, g, n, sizeOf(values[n.id].shape) * ctx.batch);
    emitBinaryGrad(p, layer.name, op, i as 0 | 1, dx, dy, v.shape, a, b);
  });
}

// y = alpha * (sum of the inputs), each broadcast to the output (add, average).
export function sumForward({ ctx, p, node, layer, inputs, shape, count }: ForwardArgs, alpha: number): NodeValue {
  const y = p.activation(node.name, count * ctx.batch);
  const out: Operand = { ref: y, shape, batched: true };
  inputs.forEach((x, i) => emitBroadcast(p, layer.name, 'copy', shape, out, null, operand(x), null, alpha, i === 0 ? 0 : 1));
  return { region: y, shape };
}

export function sumBackward({ ctx, p, g, layer, inputNodes, values, v, dy, needsInputGrad }: BackwardArgs, alpha: number): void {
  if (!needsInputGrad) return;
  for (const n of inputNodes) {
    const dx = gradTarget(p, g, n, sizeOf(values[n.id].shape) * ctx.batch);
    emitBroadcast(p, layer.name, 'sum', v.shape, { ref: dx.region, shape: values[n.id].shape, batched: true }, dy, null, null, alpha, dx.accumulate);
  }
}

// Kinds TF.js layers lacks: exporting one to a TF.js layers model is refused.
/* @__NO_SIDE_EFFECTS__ */ export function noTfjs(className: string): LayerDef['toTfjs'] {
  return (l, _j, where, source) => {
    throw new ModelFormatError(`${where}: layer '${l.name}' (${className}) has no TF.js layers counterpart; cannot export to a TF.js layers model`, source, l.name);
  };
}

// A two-input broadcasting merge layer of one binary op.
function binaryMergeDef(kind: 'maximum' | 'minimum' | 'divide' | 'atan2', op: BinaryOp, className: string, make: (o: LayerOptions) => Layer, tfjs: boolean): LayerDef {
  return {
    kind,
    snake: kind,
    options: optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]),
    multiInput: true,
    outputShape: (_layer, shapes, fail) => mergeShape(shapes, fail, 2),
    forward: (a) => binaryForward(a, op),
    backward: (a) => binaryBackward(a, op),
    kerasClasses: [className],
    toKeras: (l) => ({ class_name: className, config: kerasBase(l) }),
    fromKeras: (_c, r) => make(r.base),
    ...(tfjs ? {} : { toTfjs: noTfjs(className) }),
  };
}

// Keras Maximum / Minimum of two inputs (Keras takes more; importers need two). On a tie the
// gradient goes to the first input (TF's rule; PyTorch's maximum splits it).
export function maximum(options: LayerOptions = {}): Layer {
  return new Layer(MAXIMUM, {}, options);
}
export function minimum(options: LayerOptions = {}): Layer {
  return new Layer(MINIMUM, {}, options);
}
// inputs[0] / inputs[1] (Keras has no Divide layer: saved as edgetune>Divide).
export function divide(options: LayerOptions = {}): Layer {
  return new Layer(DIVIDE, {}, options);
}
// atan2(inputs[0], inputs[1]): the angle of the point (x = inputs[1], y = inputs[0]) in (-pi, pi],
// TF's Atan2(y, x) and keras.ops.arctan2 (no Keras layer: saved as edgetune>Atan2). Gradients
// d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2).
export function atan2(options: LayerOptions = {}): Layer {
  return new Layer(ATAN2, {}, options);
}
// Keras Average: the mean of two or more inputs.
export function average(options: LayerOptions = {}): Layer {
  return new Layer(AVERAGE, {}, options);
}

export const MAXIMUM = /* @__PURE__ */ binaryMergeDef('maximum', 'max', 'Maximum', maximum, true);
export const MINIMUM = /* @__PURE__ */ binaryMergeDef('minimum', 'min', 'Minimum', minimum, true);
export const DIVIDE = /* @__PURE__ */ binaryMergeDef('divide', 'div', 'edgetune>Divide', divide, false);
export const ATAN2 = /* @__PURE__ */ binaryMergeDef('atan2', 'atan2', 'edgetune>Atan2', atan2, false);

export const AVERAGE: LayerDef = {
  kind: 'average',
  snake: 'average',
  get options() { return optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]); },
  multiInput: true,
  outputShape: (_layer, shapes, fail) => mergeShape(shapes, fail),
  forward: (a) => sumForward(a, 1 / a.inputs.length),
  backward: (a) => sumBackward(a, 1 / a.inputNodes.length),
  kerasClasses: ['Average'],
  toKeras: (l) => ({ class_name: 'Average', config: kerasBase(l) }),
  fromKeras: (_c, r) => average(r.base),
};
