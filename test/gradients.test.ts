// Vanishing and exploding gradients on real MNIST digits (the `mnist` package), shown in numbers:
// - a deep (8 hidden layers of 64) sigmoid MLP with the default (glorot_uniform) init: the
//   first layer's kernel gradient is orders of magnitude smaller than the last one's, and a
//   fixed small budget of SGD leaves it at chance; the same depth with he_normal + BatchNorm +
//   ReLU or ELU keeps the per-layer gradient norms within one order of magnitude and trains.
// - the same depth with he_normal + ELU and no BatchNorm, SGD with a large learning rate: the
//   loss goes non-finite within a few steps (NonFiniteError, weights from before the failing
//   step), while globalClipnorm or clipnorm keeps every step's loss finite.
// Deterministic (setSeed, fit seed); the bounds are the measured values with wide margins
// (measured values in the comments). examples/gradients.mjs prints the same numbers as a table.
import { describe, expect, it } from 'vitest';
import { DEPTH, deepMlp } from '../examples/gradients-lib.mjs';
import { NonFiniteError, optimizers, tensor, type Model } from '../dist/node.js';
import { loadMnist, selectDigits } from '../dist/examples.js';

const DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const mnist = loadMnist();
const train = selectDigits(mnist, DIGITS, 'train', { perClass: 200 }); // 2,000 digits
const X = tensor(train.x, [train.n, 784]);
const Y = tensor(train.y, [train.n]);
const probe = { x: tensor(train.x.slice(0, 128 * 784), [128, 784]), y: tensor(train.y.slice(0, 128), [128]) };

type Kind = 'sigmoid' | 'relu-bn' | 'elu-bn' | 'elu';


// L2 norm of every Dense kernel's gradient on one batch, input side first.
function kernelGradNorms(m: Model): number[] {
  const g = m.computeGradients(probe.x, probe.y).weights;
  return [...g].filter(([k]) => k.endsWith('/kernel')).map(([, v]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)));
}

describe('vanishing gradients: deep sigmoid MLP vs he init + BatchNorm + ReLU/ELU', () => {
  const budget = { epochs: 3, batchSize: 64, seed: 1 }; // 96 SGD steps
  const sgd = () => optimizers.sgd({ learningRate: 0.05, momentum: 0.9 });
  const results = new Map<Kind, { norms: number[]; loss: number; accuracy: number }>();
  async function measure(kind: Kind) {
    const m = deepMlp(kind);
    m.compile({ optimizer: sgd(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 64 });
    const norms = kernelGradNorms(m);
    const h = await m.fit(X, Y, budget);
    const r = { norms, loss: h.history.loss.at(-1)!, accuracy: h.history.accuracy.at(-1)! };
    results.set(kind, r);
    return r;
  }

  it('sigmoid, glorot_uniform: the first layer gets ~1e-5 of the last layer\'s gradient and the net stays at chance', async () => {
    const r = await measure('sigmoid');
    expect(r.norms).toHaveLength(DEPTH + 1);
    // Each layer back shrinks the gradient (sigmoid' <= 1/4): monotone from the output inwards.
    for (let i = 1; i < r.norms.length; i++) expect(r.norms[i - 1]).toBeLessThan(r.norms[i]);
    expect(r.norms[0] / r.norms[DEPTH]).toBeLessThan(1e-3); // measured 3.2e-5
    expect(r.loss).toBeGreaterThan(2.2); // measured 2.332 (chance: ln 10 = 2.303)
    expect(r.accuracy).toBeLessThan(0.2); // measured 0.091
  });

  for (const kind of ['relu-bn', 'elu-bn'] as const) {
    it(`he_normal + BatchNorm + ${kind === 'relu-bn' ? 'ReLU' : 'ELU'}: gradients of the same order in every layer, and it trains on the same budget`, async () => {
      const r = await measure(kind);
      const ratio = r.norms[0] / r.norms[DEPTH];
      expect(ratio).toBeGreaterThan(0.1); // measured 1.1 (ReLU), 0.93 (ELU)
      expect(ratio).toBeLessThan(10);
      for (const n of r.norms) expect(n / r.norms[DEPTH]).toBeGreaterThan(0.03);
      expect(r.loss).toBeLessThan(0.8); // measured 0.414 (ReLU), 0.280 (ELU)
      expect(r.accuracy).toBeGreaterThan(0.75); // measured 0.878, 0.912
    });
  }

  it('the contrast in one line: first/last gradient ratio and accuracy, sigmoid vs BatchNorm nets', () => {
    const s = results.get('sigmoid')!;
    for (const kind of ['relu-bn', 'elu-bn'] as const) {
      const b = results.get(kind)!;
      expect(b.norms[0] / b.norms[DEPTH]).toBeGreaterThan(1000 * (s.norms[0] / s.norms[DEPTH]));
      expect(b.accuracy - s.accuracy).toBeGreaterThan(0.5);
    }
  });
});

describe('exploding gradients: deep ELU MLP without BatchNorm, SGD lr 0.2 momentum 0.9', () => {
  const opts = (clip: Record<string, number>) => optimizers.sgd({ learningRate: 0.2, momentum: 0.9, ...clip });

  it('without clipping the loss blows up within a few steps: NonFiniteError, weights from before the failing step', async () => {
    const m = deepMlp('elu');
    m.compile({ optimizer: opts({}), loss: 'sparseCategoricalCrossentropy', batchSize: 64 });
    const losses: number[] = [];
    let lastGood: Float32Array[] = [];
    const err = await m.fit(X, Y, {
      epochs: 2, batchSize: 64, seed: 1,
      callbacks: [{ onBatchEnd: (_b, logs) => { losses.push(logs.loss); lastGood = m.layers.flatMap((l) => l.getWeights()); } }],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).what).toBe('loss');
    expect((err as NonFiniteError).step).toBeLessThan(20); // measured: step 7
    expect(losses.length).toBe((err as NonFiniteError).step - 1);
    // The loss climbed far above chance before it overflowed (measured 2.94 3.18 12.3 31.4 62.1 2.2e7).
    expect(Math.max(...losses)).toBeGreaterThan(10);
    const now = m.layers.flatMap((l) => l.getWeights());
    now.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(lastGood[i].buffer)), `weight ${i} unchanged by the failed step`).toBe(true));
  });

  for (const clip of [{ globalClipnorm: 1 }, { clipnorm: 1 }]) {
    const name = Object.keys(clip)[0];
    it(`${name} 1 keeps every step's loss finite over 2 epochs`, async () => {
      const m = deepMlp('elu');
      m.compile({ optimizer: opts(clip), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 64 });
      const h = await m.fit(X, Y, { epochs: 2, batchSize: 64, seed: 1, recordGradNorm: true });
      expect(h.steps.loss).toHaveLength(64);
      expect(h.steps.loss.every(Number.isFinite)).toBe(true);
      expect(m.layers.every((l) => l.getWeights().every((w) => w.every(Number.isFinite)))).toBe(true);
      // The raw (pre-clip) gradient norm is well above the threshold: clipping is doing the work.
      expect(Math.max(...h.steps.gradNorm!)).toBeGreaterThan(5); // measured 55 (clipnorm), 10.4 (global)
      if (name === 'globalClipnorm') {
        // Clipping the joint norm keeps the direction and trains: measured loss 0.75, accuracy 0.79.
        expect(h.history.loss.at(-1)!).toBeLessThan(1.2);
        expect(h.history.accuracy.at(-1)!).toBeGreaterThan(0.6);
      }
    });
  }
});
