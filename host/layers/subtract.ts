// Keras Subtract: inputs[0] - inputs[1], broadcast to one shape (NumPy rules; same shapes take the plain kernel).
import { LAYER_OPTION_NAMES } from './config';
import { optionNames } from '../core/options';
import { gradTarget, passGradient } from '../compile/program';
import type { LayerOptions } from './config';
import { allSameShape, binaryBackward, binaryForward, mergeShape } from './broadcast-merge';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';
import { ModelFormatError } from '../core/errors';

export function subtract(options: LayerOptions = {}): Layer {
  return new Layer(SUBTRACT, {}, options);
}

export const SUBTRACT: LayerDef = {
  kind: 'subtract',
  snake: 'subtract',
  get options() { return optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]); },
  multiInput: true,
  outputShape: (_layer, shapes, fail) => mergeShape(shapes, fail, 2),
  forward(args) {
    const { ctx, p, node, layer, inputs, shape, count } = args;
    if (!allSameShape(inputs.map((v) => v.shape))) return binaryForward(args, 'sub');
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('copy', layer.name, { y, x: inputs[0].region }, { count, accumulate: 0 });
    p.emit('axpy', layer.name, { y, x: inputs[1].region }, { count, alpha: -1, accumulate: 1 });
    return { region: y, shape };
  },
  backward(args) {
    const { ctx, p, g, layer, inputNodes, dy, count, needsInputGrad } = args;
    if (!allSameShape(inputNodes.map((n) => n.shape))) { binaryBackward(args, 'sub'); return; }
    if (!needsInputGrad) return;
    // d(a - b): da += dy (dy may become a's buffer, as in add), db += -dy.
    passGradient(ctx, p, g, layer.name, inputNodes[0], dy, count);
    const db = gradTarget(p, g, inputNodes[1], count * ctx.batch);
    p.emit('axpy', layer.name, { y: db.region, x: dy }, { count, alpha: -1, accumulate: db.accumulate });
  },
  kerasClasses: ['Subtract'],
  toKeras: (l) => ({ class_name: 'Subtract', config: kerasBase(l) }),
  fromKeras: (_c, r) => subtract(r.base),
  toTfjs(l, _j, where, source) {
    throw new ModelFormatError(`${where}: layer '${l.name}' (Subtract) has no TF.js layers counterpart; cannot export to a TF.js layers model`, source, l.name);
  },
};
