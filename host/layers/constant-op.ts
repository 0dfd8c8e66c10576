// ConstantOp: arithmetic between the input and a constant tensor broadcast against it (NumPy
// rules, per-sample shapes), for importers whose constant operand does not fold into a weight or a
// Rescaling: x + c, x - c, c - x ('rsub'), x * c, x / c, c / x ('rdiv'), max(x, c), min(x, c). The
// constant is a non-trainable weight 'value' (saved with the model); only x gets a gradient.
// Keras has no such layer: saved as edgetune>ConstantOp.
import { optionNames } from '../core/options';
import { gradTarget } from '../compile/program';
import { sizeOf } from '../compile/graph';
import { type BinaryOp, emitBinary, emitBinaryGrad, type Operand } from '../compile/broadcast-lowering';
import { InvalidArgumentError } from '../core/errors';
import { type LayerOptions, LAYER_OPTION_NAMES, pending } from './config';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer, weightSpec } from './layer';
import { mergeShape, noTfjs } from './broadcast-merge';
import type { InitializerConfig } from './initializers';

export type ConstantOpName = 'add' | 'sub' | 'rsub' | 'mul' | 'div' | 'rdiv' | 'max' | 'min';
// Each op as the binary op and whether the constant is its first operand.
const OPS: Record<ConstantOpName, [BinaryOp, boolean]> = {
  add: ['add', false], sub: ['sub', false], rsub: ['sub', true], mul: ['mul', false], div: ['div', false], rdiv: ['div', true],
  max: ['max', false], min: ['min', false],
};

export interface ConstantOpOptions extends LayerOptions {
  op: ConstantOpName;
  value: ArrayLike<number> | number;
  // The constant's per-sample shape (default [] for a scalar value).
  shape?: number[];
}

// constantOp({ op: 'mul', value: new Float32Array(c), shape: [1, 1, c] })
export function constantOp(options: ConstantOpOptions): Layer {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`layers.constantOp: give an options object { op, value, shape }, got ${JSON.stringify(options)}`);
  const where = pending('constant_op', options);
  if (!Object.hasOwn(OPS, options.op)) throw new InvalidArgumentError(`${where}: op must be one of ${Object.keys(OPS).join(', ')}, got ${JSON.stringify(options.op)}`);
  const shape = options.shape ?? [];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0)) throw new InvalidArgumentError(`${where}: shape must be a list of positive integers, got ${JSON.stringify(options.shape)}`);
  const value = typeof options.value === 'number' ? [options.value] : options.value;
  if (!value || typeof value.length !== 'number') throw new InvalidArgumentError(`${where}: value must be a number or an array of numbers, got ${typeof options.value}`);
  if (value.length !== sizeOf(shape)) throw new InvalidArgumentError(`${where}: value has ${value.length} numbers for shape [${shape}] (${sizeOf(shape)})`);
  const data = Float32Array.from(value);
  if (!data.every(Number.isFinite)) throw new InvalidArgumentError(`${where}: value must be finite numbers`);
  return new Layer(CONSTANT_OP, { op: options.op, shape: [...shape], value: data }, options);
}

const zeros = { className: 'zeros' } as InitializerConfig;

// The two operands of the op: the input x, and the constant c held in `value`.
function operands(layer: Layer, x: Operand, c: number): [Operand, Operand, number] {
  const [, constantFirst] = OPS[layer.config.op as ConstantOpName];
  const k: Operand = { ref: c, shape: layer.config.shape as number[], batched: false };
  return constantFirst ? [k, x, 1] : [x, k, 0];
}

export const CONSTANT_OP: LayerDef = {
  kind: 'constantOp',
  snake: 'constant_op',
  get options() { return optionNames<ConstantOpOptions>()([...LAYER_OPTION_NAMES, 'op', 'value', 'shape']); },
  outputShape: (layer, [s], fail) => mergeShape([s, layer.config.shape as number[]], fail),
  weights: (layer) => [weightSpec('value', [...(layer.config.shape as number[])], zeros, null, null, false)],
  initialValues: (layer) => [Float32Array.from(layer.config.value as Float32Array)],
  forward({ ctx, p, node, layer, x, shape, count, params }) {
    const y = p.activation(node.name, count * ctx.batch);
    const [a, b] = operands(layer, { ref: x.region, shape: x.shape, batched: true }, params[0]);
    emitBinary(p, layer.name, OPS[layer.config.op as ConstantOpName][0], y, shape, a, b);
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, v, x, input, dy, params, needsInputGrad }) {
    if (!needsInputGrad) return;
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    const [a, b, which] = operands(layer, { ref: x.region, shape: x.shape, batched: true }, params[0]);
    emitBinaryGrad(p, layer.name, OPS[layer.config.op as ConstantOpName][0], which as 0 | 1, dx, dy, v.shape, a, b);
  },
  kerasClasses: ['edgetune>ConstantOp'],
  toKeras: (l) => ({ class_name: 'edgetune>ConstantOp', config: { ...kerasBase(l), op: l.config.op, shape: l.config.shape } }),
  // The value is the weight 'value', set when the file's weights are loaded.
  fromKeras: (c, r) => constantOp({ ...r.base, op: c.op, shape: c.shape, value: new Float32Array(sizeOf(Array.isArray(c.shape) ? c.shape : [])) }),
  kerasWeights: () => ['value'],
  toTfjs: /* @__PURE__ */ noTfjs('edgetune>ConstantOp'),
};
