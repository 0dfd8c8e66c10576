// Keras Subtract: inputs[0] - inputs[1] (same shapes).
import { LAYER_OPTION_NAMES } from './config';
import { optionNames } from '../core/options';
import { gradTarget, passGradient } from '../compile/program';
import type { LayerOptions } from './config';
import { sameShapes } from './add';
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
  options: optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]),
  multiInput: true,
  outputShape: (_layer, shapes, fail) => sameShapes(shapes, fail, 2),
  forward({ ctx, p, node, layer, inputs, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('copy', layer.name, { y, x: inputs[0].region }, { count, accumulate: 0 });
    p.emit('axpy', layer.name, { y, x: inputs[1].region }, { count, alpha: -1, accumulate: 1 });
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, inputNodes, dy, count, needsInputGrad }) {
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
