// Keras model.set_weights() for Model (host/training/model.ts): as many arrays as getWeights()
// returns, in its order (layer by layer, each layer's in its Keras order), each of its weight's
// size. All are checked before any layer changes, so a bad list leaves the model as it was (a
// ShapeError naming the layer and the weight); int8 layers quantize what they are given again, as
// layer.setWeights does.
import { ShapeError } from '../core/errors';
import type { Layer } from '../layers/layer';

export function setModelWeights(model: string, layers: readonly Layer[], weights: ArrayLike<number>[]): void {
  const specs = layers.flatMap((l) => l.weightSpecs.map((spec) => ({ layer: l, spec })));
  if (weights.length !== specs.length) {
    throw new ShapeError(`model ${model} setWeights: the model has ${specs.length} weight arrays (getWeights() order), got ${weights.length}`);
  }
  specs.forEach(({ layer, spec }, i) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (weights[i]?.length !== size) {
      throw new ShapeError(`model ${model} setWeights: array ${i} is layer ${layer.name}'s '${spec.name}' of shape [${spec.shape}] (${size} values), got ${weights[i]?.length ?? 'no array'}`, layer.name, spec.shape);
    }
  });
  let at = 0;
  for (const l of layers) {
    const n = l.weightSpecs.length;
    if (n) l.setWeights(weights.slice(at, at + n));
    at += n;
  }
}
