// Keras Multiply of two inputs (same shapes), elementwise.
import { LAYER_OPTION_NAMES } from './config';
import { optionNames } from '../core/options';
import { gradTarget } from '../compile/program';
import type { LayerOptions } from './config';
import { sameShapes } from './add';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export function multiply(options: LayerOptions = {}): Layer {
  return new Layer(MULTIPLY, {}, options);
}

export const MULTIPLY: LayerDef = {
  kind: 'multiply',
  snake: 'multiply',
  options: optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]),
  multiInput: true,
  outputShape: (_layer, shapes, fail) => sameShapes(shapes, fail, 2),
  forward({ ctx, p, node, layer, inputs, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('mul', layer.name, { y, a: inputs[0].region, b: inputs[1].region }, { count, accumulate: 0 });
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, inputNodes, values, dy, count, needsInputGrad }) {
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
