// The deep MLPs of the vanishing/exploding-gradient demonstration, shared by examples/gradients.mjs
// and test/gradients.test.ts: 8 hidden Dense layers of 64 on 784 inputs, a softmax over 10.
//   sigmoid: default glorot_uniform init     relu-bn / elu-bn: he_normal + BatchNorm + ReLU / ELU
//   elu: he_normal + ELU, no BatchNorm (the one whose gradients explode at a large learning rate)
import { layers, sequential, setSeed } from '../dist/node.js';

export const DEPTH = 8;
export const WIDTH = 64;

export function deepMlp(kind) {
  setSeed(42);
  const ls = [];
  for (let i = 0; i < DEPTH; i++) {
    const first = i === 0 ? { inputShape: [784] } : {};
    if (kind === 'sigmoid') ls.push(layers.dense(WIDTH, { activation: 'sigmoid', ...first }));
    else if (kind === 'elu') ls.push(layers.dense(WIDTH, { activation: 'elu', kernelInitializer: 'heNormal', ...first }));
    else {
      ls.push(layers.dense(WIDTH, { kernelInitializer: 'heNormal', useBias: false, ...first }), layers.batchNormalization());
      ls.push(kind === 'relu-bn' ? layers.relu() : layers.elu());
    }
  }
  ls.push(layers.dense(10, { activation: 'softmax' }));
  return sequential(ls);
}
