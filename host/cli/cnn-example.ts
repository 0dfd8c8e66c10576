// The MNIST CNN with batch normalization (`node scripts/mnist-cnn.mjs`): conv3x3(32)-BN-ReLU-
// maxpool-conv3x3(64)-BN-ReLU-maxpool-flatten-dropout(0.5)-dense(10) trained on the bundled
// digits. Split: per class, the first 80% of the `mnist` package's images train and the last 20%
// are held out.
import { formatBytes } from '../core/errors';
import { layers, optimizers, sequential, setSeed, tensor, type Model } from '../index';
import { loadMnist, selectDigits } from './mnist';

export function mnistCnn(): Model {
  return sequential([
    layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', useBias: false, inputShape: [28, 28, 1] }),
    layers.batchNormalization(),
    layers.relu(),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }),
    layers.batchNormalization(),
    layers.relu(),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.flatten(),
    layers.dropout(0.5),
    layers.dense(10, { activation: 'softmax' }),
  ], { name: 'mnist_cnn' });
}

export async function trainMnistCnn(options: { epochs?: number; batchSize?: number; log?: (s: string) => void } = {}): Promise<{ model: Model; accuracy: number; seconds: number }> {
  const log = options.log ?? console.log;
  const epochs = options.epochs ?? 9;
  const batchSize = options.batchSize ?? 32;
  const t0 = performance.now();
  setSeed(99);
  const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const mnist = loadMnist();
  const train = selectDigits(mnist, all, 'train');
  const test = selectDigits(mnist, all, 'test');
  const model = mnistCnn();
  model.compile({ optimizer: optimizers.adam(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize });
  log(`MNIST CNN: ${train.n} training and ${test.n} held-out images; training arena ${formatBytes(model.plan.pages * 65536)}`);
  const xt = tensor(test.x, [test.n, 28, 28, 1]);
  const yt = tensor(test.y, [test.n]);
  const x = tensor(train.x, [train.n, 28, 28, 1]);
  const y = tensor(train.y, [train.n]);
  const onEpochEnd = (offset: number) => (e: number, l: { loss: number; accuracy?: number; val_accuracy?: number }) =>
    log(`  epoch ${offset + e + 1}: loss ${l.loss.toFixed(4)}, accuracy ${(100 * l.accuracy!).toFixed(2)}%, ` +
      `held-out ${(100 * l.val_accuracy!).toFixed(2)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  // Step decay: the last third of the epochs at a tenth of the learning rate (recompiling keeps
  // the weights and starts fresh Adam slots, as a new Keras optimizer would).
  const slow = Math.max(1, Math.round(epochs / 3));
  await model.fit(x, y, { epochs: epochs - slow, batchSize, seed: 5, verbose: 0, validationData: [xt, yt], onEpochEnd: onEpochEnd(0) });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-4 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize });
  await model.fit(x, y, { epochs: slow, batchSize, seed: 6, verbose: 0, validationData: [xt, yt], onEpochEnd: onEpochEnd(epochs - slow) });
  const accuracy = model.evaluate(xt, yt).accuracy!;
  const seconds = (performance.now() - t0) / 1000;
  log(`  held-out accuracy ${(100 * accuracy).toFixed(2)}% after ${epochs} epochs, ${seconds.toFixed(0)} s`);
  return { model, accuracy, seconds };
}
