// Keras Add: the elementwise sum of two or more inputs, broadcast to one shape (NumPy rules).
import { LAYER_OPTION_NAMES } from './config';
import { optionNames } from '../core/options';
import { gradTarget, passGradient } from '../compile/program';
import type { LayerOptions } from './config';
import type { LayerDef } from './def';
import { allSameShape, mergeShape, sumBackward, sumForward } from './broadcast-merge';
import { kerasBase } from './keras-json';
import { poolAddForward } from '../compile/pool-add';
import { Layer } from './layer';

export function add(options: LayerOptions = {}): Layer {
  return new Layer(ADD, {}, options);
}

export const ADD: LayerDef = {
  kind: 'add',
  snake: 'add',
  get options() { return optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]); },
  multiInput: true,
  outputShape: (_layer, shapes, fail) => mergeShape(shapes, fail),
  forward(args) {
    // One input a max pooling deferred to this add: maxpool_add (host/compile/pool-add.ts).
    const pooled = poolAddForward(args);
    if (pooled) return pooled;
    const { ctx, p, node, layer, inputs, shape, count } = args;
    if (!allSameShape(inputs.map((v) => v.shape))) return sumForward(args, 1);
    const y = p.activation(node.name, count * ctx.batch);
    inputs.forEach((v, i) => p.emit('copy', layer.name, { y, x: v.region }, { count, accumulate: i === 0 ? 0 : 1 }));
    return { region: y, shape };
  },
  backward(args) {
    const { ctx, p, g, layer, inputNodes, dy, count, needsInputGrad } = args;
    if (!allSameShape(inputNodes.map((n) => n.shape))) { sumBackward(args, 1); return; }
    if (!needsInputGrad) return;
    // dy may become the gradient buffer of one input only: two inputs sharing it would let one
    // branch's backward write into the buffer it reads (add([conv(h), h])).
    inputNodes.forEach((inp, i) => {
      if (i === 0) { passGradient(ctx, p, g, layer.name, inp, dy, count); return; }
      const dx = gradTarget(p, g, inp, count * ctx.batch);
      p.emit('copy', layer.name, { y: dx.region, x: dy }, { count, accumulate: dx.accumulate });
    });
  },
  kerasClasses: ['Add'],
  toKeras: (l) => ({ class_name: 'Add', config: kerasBase(l) }),
  fromKeras: (_c, r) => add(r.base),
};
