// The 256 KB fine-tune (issue 14's showcase): the bundled MNIST CNN base (digits 0-4), frozen and
// quantized to int8, gets a new dense head for digits 5-9 trained with Adam at an effective batch
// of 16, one sample at a time (microBatch 1), inside one arena of at most 256 KB that holds
// everything: weights, gradients, optimizer slots, activations, scratch, the programs and the I/O.
import { layers, loadModel, optimizers, sequential, setSeed, tensor } from '../../dist/node.js';
import { loadMnist, selectDigits } from '../../dist/examples.js';

export const ARENA_BUDGET = 256 * 1024;
const BASE = new URL('../../models/mnist-cnn-base-0to4.safetensors', import.meta.url).pathname;

export async function mcuFinetune({ epochs = 20, perClass = 50, batchSize = 16, log = () => {} } = {}) {
  const mnist = loadMnist();
  const train = selectDigits(mnist, [5, 6, 7, 8, 9], 'train', { perClass, relabel: true });
  const test = selectDigits(mnist, [5, 6, 7, 8, 9], 'test', { relabel: true });
  setSeed(7);
  const base = await loadModel(BASE);
  const reused = base.layers.slice(0, -1);
  for (const l of reused) l.trainable = false;
  const model = sequential([...reused, layers.dense(5, { activation: 'softmax', name: 'head_5to9' })], { name: 'mcu_finetune' });
  model.quantize('int8');
  // Planned at one sample; the budget covers the whole arena, so a plan that does not fit is refused up front.
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 1, memoryBudget: ARENA_BUDGET });
  const history = await model.fit(tensor(train.x, [train.n, 28, 28, 1]), tensor(train.y, [train.n]), {
    epochs, batchSize, microBatch: 1, seed: 3, verbose: 0,
    onEpochEnd: (e, l) => log(`epoch ${e + 1}: loss ${l.loss.toFixed(4)}, accuracy ${(100 * l.accuracy).toFixed(1)}%`),
  });
  const accuracy = model.evaluate(tensor(test.x, [test.n, 28, 28, 1]), tensor(test.y, [test.n])).accuracy;
  return { model, plan: model.plan, history, accuracy, trainCount: train.n, testCount: test.n };
}
