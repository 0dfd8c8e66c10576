// Vanishing and exploding gradients, in numbers, on 2,000 real MNIST digits.
//   npm run build && node examples/gradients.mjs
// 1. A deep MLP (8 hidden Dense layers of 64) with sigmoid and the default glorot_uniform init:
//    the per-layer kernel gradient norms (model.computeGradients on one batch of 128) shrink by
//    orders of magnitude towards the input, and a fixed budget of SGD leaves it at chance. The
//    same depth with he_normal + BatchNorm + ReLU (or ELU) keeps them level, and trains.
// 2. The same depth with he_normal + ELU and no BatchNorm, SGD lr 0.2 momentum 0.9: without
//    clipping the loss overflows within a few steps (NonFiniteError, weights left as they were
//    before that step); with clipnorm or globalClipnorm every loss stays finite. The global
//    gradient norm per step comes from fit({ recordGradNorm: true }).
import { NonFiniteError, optimizers, tensor } from '../dist/node.js';
import { loadMnist, selectDigits } from '../dist/examples.js';
import { DEPTH, deepMlp } from './gradients-lib.mjs';

const mnist = loadMnist();
const train = selectDigits(mnist, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'train', { perClass: 200 });
const X = tensor(train.x, [train.n, 784]);
const Y = tensor(train.y, [train.n]);
const probe = { x: tensor(train.x.slice(0, 128 * 784), [128, 784]), y: tensor(train.y.slice(0, 128), [128]) };


function kernelGradNorms(m) {
  const g = m.computeGradients(probe.x, probe.y).weights;
  return [...g].filter(([k]) => k.endsWith('/kernel')).map(([k, v]) => [k.split('/')[0], Math.sqrt(v.reduce((s, x) => s + x * x, 0))]);
}

const e = (v) => v.toExponential(2).padStart(9);
const p = (s, n) => String(s).padEnd(n);

// ---------------------------------------------------------------------------------------------
console.log('1. Vanishing gradients: 8 hidden layers of 64, SGD lr 0.05 momentum 0.9, 3 epochs of 2,000 digits, batch 64\n');
const kinds = [
  ['sigmoid', 'sigmoid, glorot_uniform'],
  ['relu-bn', 'he_normal + BN + ReLU'],
  ['elu-bn', 'he_normal + BN + ELU'],
];
const norms = {};
const trained = {};
for (const [kind] of kinds) {
  const m = deepMlp(kind);
  m.compile({ optimizer: optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 64 });
  norms[kind] = kernelGradNorms(m);
  const h = await m.fit(X, Y, { epochs: 3, batchSize: 64, seed: 1 });
  trained[kind] = { loss: h.history.loss.at(-1), accuracy: h.history.accuracy.at(-1) };
}
console.log('Kernel gradient norm per Dense layer (input side first), before training:');
console.log(`| layer | ${kinds.map(([, t]) => p(t, 23)).join(' | ')} |`);
console.log(`|-------|${kinds.map(() => '-'.repeat(25)).join('|')}|`);
for (let i = 0; i <= DEPTH; i++) {
  console.log(`| ${p(i === DEPTH ? 'out' : `h${i + 1}`, 5)} | ${kinds.map(([k]) => p(e(norms[k][i][1]), 23)).join(' | ')} |`);
}
console.log(`| first/last | ${kinds.map(([k]) => p(e(norms[k][0][1] / norms[k][DEPTH][1]), 23)).join(' | ')} |`);
console.log(`| loss after | ${kinds.map(([k]) => p(trained[k].loss.toFixed(3), 23)).join(' | ')} |`);
console.log(`| accuracy   | ${kinds.map(([k]) => p(trained[k].accuracy.toFixed(3), 23)).join(' | ')} |`);

// ---------------------------------------------------------------------------------------------
console.log('\n2. Exploding gradients: 8 hidden ELU layers, he_normal, no BN, SGD lr 0.2 momentum 0.9, 2 epochs\n');
for (const clip of [{}, { clipnorm: 1 }, { globalClipnorm: 1 }]) {
  const name = Object.keys(clip).length ? `${Object.keys(clip)[0]} 1` : 'no clipping';
  const m = deepMlp('elu');
  m.compile({ optimizer: optimizers.sgd({ learningRate: 0.2, momentum: 0.9, ...clip }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 64 });
  const losses = [];
  try {
    const h = await m.fit(X, Y, { epochs: 2, batchSize: 64, seed: 1, recordGradNorm: true, callbacks: [{ onBatchEnd: (_b, l) => losses.push(l.loss) }] });
    const gn = h.steps.gradNorm;
    console.log(`${p(name, 19)} every loss finite; max step loss ${h.steps.loss.reduce((a, b) => Math.max(a, b)).toFixed(2)}, ` +
      `max global grad norm ${e(Math.max(...gn)).trim()}, final loss ${h.history.loss.at(-1).toFixed(3)}, accuracy ${h.history.accuracy.at(-1).toFixed(3)}`);
    console.log(`${' '.repeat(20)}grad norm, steps 1-8: ${gn.slice(0, 8).map((v) => e(v).trim()).join(' ')}`);
  } catch (err) {
    if (!(err instanceof NonFiniteError)) throw err;
    console.log(`${p(name, 19)} ${err.message}`);
    console.log(`${' '.repeat(20)}loss per step until then: ${losses.map((l) => l.toFixed(2)).join(' ')}`);
  }
}
