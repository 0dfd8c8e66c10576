// TensorFlow.js (cpu backend) as the independent oracle: the same layers with the same weights.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Model } from '../dist/node.js';

await tf.setBackend('cpu');
export { tf, tfl };

// A tfjs-layers copy of an edgetune sequential model of dense layers (and ReLU/Softmax layers).
export function tfjsCopy(model: Model): tfl.Sequential {
  const out = tfl.sequential();
  model.layers.forEach((l, i) => {
    const inputShape = i === 0 ? { inputShape: model.inputShape } : {};
    if (l.kind === 'dense') {
      out.add(tfl.layers.dense({ units: l.config.units as number, activation: l.config.activation as 'relu', useBias: l.config.useBias as boolean, ...inputShape }));
    } else if (l.kind === 'activation' && l.config.activation === 'relu') out.add(tfl.layers.reLU(inputShape));
    else if (l.kind === 'activation' && l.config.activation === 'softmax') out.add(tfl.layers.softmax(inputShape));
    else throw new Error(`tfjsCopy: no tfjs counterpart for ${l.name} (${l.kind})`);
  });
  model.layers.forEach((l, i) => {
    if (!l.weightSpecs.length) return;
    out.layers[i].setWeights(l.getWeights().map((w, j) => tf.tensor(w, l.weightSpecs[j].shape)));
    out.layers[i].trainable = l.trainable;
  });
  return out;
}

export function tfjsWeights(m: tfl.Sequential): Float32Array[][] {
  return m.layers.map((l) => l.getWeights().map((w) => w.dataSync() as Float32Array));
}
