// Keras Multiply of two inputs, broadcast to one shape (NumPy rules; same shapes take the plain kernel).
import { LAYER_OPTION_NAMES } from './config';
import { optionNames } from '../core/options';
import { gradTarget } from '../compile/program';
import type { LayerOptions } from './config';
import { allSameShape, binaryBackward, binaryForward, mergeShape } from './broadcast-merge';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export function multiply(options: LayerOptions = {}): Layer {
  return new Layer(MULTIPLY, {}, options);
}

export const MULTIPLY: LayerDef = {
  kind: 'multiply',
  snake: 'multiply',
  get options() { return optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]); },
  multiInput: true,
  outputShape: (_layer, shapes, fail) => mergeShape(shapes, fail, 2),
  forward(args) {
    const { ctx, p, node, layer, inputs, shape, count } = args;
    if (!allSameShape(inputs.map((v) => v.shape))) return binaryForward(args, 'mul');
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('mul', layer.name, { y, a: inputs[0].region, b: inputs[1].region }, { count, accumulate: 0 });
    return { region: y, shape };
  },
  backward(args) {
    const { ctx, p, g, layer, inputNodes, values, dy, count, needsInputGrad } = args;
    if (!allSameShape(inputNodes.map((n) => n.shape))) { binaryBackward(args, 'mul'); return; }
    if (!needsInputGrad) return;
    // d(a * b): da += dy * b, db += dy * a (fresh buffers: dy and the inputs are read throughout).
    const [a, b] = inputNodes;
    const da = gradTarget(p, g, a, count * ctx.batch);
    p.emit('mul', layer.name, { y: da.region, a: dy, b: values[b.id].region }, { count, accumulate: da.accumulate });
    const db = gradTarget(p, g, b, count * ctx.batch);
    p.emit('mul', layer.name, { y: db.region, a: dy, b: values[a.id].region }, { count, accumulate: db.accumulate });
  },
  kerasClasses: ['Multiply'],
  toKeras: (l) => ({ class_name: 'Multiply', config: kerasBase(l) }),
  fromKeras: (_c, r) => multiply(r.base),
};
