// Keras Add: the elementwise sum of two or more inputs of one shape.
import { LAYER_OPTION_NAMES } from './config';
import { optionNames } from '../core/options';
import { gradTarget, passGradient } from '../compile/program';
import type { LayerOptions } from './config';
import type { LayerDef, Shapes } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export function add(options: LayerOptions = {}): Layer {
  return new Layer(ADD, {}, options);
}

// Inputs of one shape (add, subtract, multiply): `exactly` fixes their number.
export function sameShapes(inputShapes: Shapes, fail: (what: string) => Error, exactly?: number): number[] {
  const [s] = inputShapes;
  if (exactly !== undefined) {
    if (inputShapes.length !== exactly) throw fail(`needs exactly two inputs, got ${inputShapes.length}`);
    const t = inputShapes[1];
    if (t.length !== s.length || t.some((d, i) => d !== s[i])) throw fail(`inputs have different shapes [${s}] and [${t}] (no broadcasting)`);
    return [...s];
  }
  if (inputShapes.length < 2) throw fail('needs at least two inputs');
  for (const t of inputShapes) if (t.length !== s.length || t.some((d, i) => d !== s[i])) throw fail(`inputs have different shapes [${inputShapes.map((x) => `[${x}]`).join(', ')}]`);
  return [...s];
}

export const ADD: LayerDef = {
  kind: 'add',
  snake: 'add',
  options: optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]),
  multiInput: true,
  outputShape: (_layer, shapes, fail) => sameShapes(shapes, fail),
  forward({ ctx, p, node, layer, inputs, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    inputs.forEach((v, i) => p.emit('copy', layer.name, { y, x: v.region }, { count, accumulate: i === 0 ? 0 : 1 }));
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, inputNodes, dy, count, needsInputGrad }) {
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
