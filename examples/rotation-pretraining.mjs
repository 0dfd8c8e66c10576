// Pretraining on an auxiliary task: a small CNN learns which of four rotations was applied
// to unlabelled MNIST digits (the labels come from the data itself); its convolutional layers,
// taken with layers.slice() and frozen, carry a softmax head trained on a few labels per class.
// Compared with the same network trained from scratch on the same few labels.
// Run: npm run build && node examples/rotation-pretraining.mjs [labels per class ...]
import { setSeed } from '../dist/node.js';
import { accuracy, digitsFromScratch, digitsOnRotationBase, mnistSplit, rotationModel, rotationTask, table, trainClassifier } from './pretraining-lib.mjs';

const t0 = performance.now();
const perClassList = process.argv.slice(2).map(Number).filter((n) => n > 0);
const counts = perClassList.length ? perClassList : [10, 50];
const SHAPE = [28, 28, 1];
const PRETEXT_IMAGES = 5000;
const pct = (a) => `${(100 * a).toFixed(2)}%`;
setSeed(42);
const { pool, test } = mnistSplit(0);

// 1. Pretext task: the four rotations of 5,000 pool images, labels = quarter turns.
const pretext = rotationTask(pool.x, PRETEXT_IMAGES);
const heldPretext = rotationTask(test.x, test.n);
const rot = await trainClassifier(rotationModel(), pretext, SHAPE, { epochs: 3, learningRate: 1e-3, batchSize: 64, seed: 5 });
console.log(`rotation task: ${pretext.n} examples from ${PRETEXT_IMAGES} unlabelled digits, 3 epochs; held-out rotation accuracy ${(100 * accuracy(rot, heldPretext, SHAPE)).toFixed(2)}%`);

// 2. Few labels: frozen pretext convolutions + new head vs the same network from scratch.
const rows = [['labels per class', 'frozen pretrained convs', 'then fine-tuned', 'from scratch']];
for (const perClass of counts) {
  setSeed(100 + perClass);
  const { labelled } = mnistSplit(perClass);
  const epochs = Math.max(15, Math.round(3000 / labelled.n));
  const reuse = await trainClassifier(digitsOnRotationBase(rot), labelled, SHAPE, { epochs, learningRate: 3e-3, batchSize: 25, seed: 3 });
  const frozen = accuracy(reuse, test, SHAPE);
  // Phase two (Keras's recipe): everything trainable at a much lower learning rate. This changes
  // the shared convolutions, so it comes after the frozen result was measured; the next count
  // starts again from the pretext weights.
  const pretextWeights = rot.layers.map((l) => l.getWeights());
  reuse.layers.forEach((l) => { l.trainable = true; });
  await trainClassifier(reuse, labelled, SHAPE, { epochs: Math.round(epochs / 2), learningRate: 1e-4, batchSize: 25, seed: 4 });
  const tuned = accuracy(reuse, test, SHAPE);
  rot.layers.forEach((l, i) => l.setWeights(pretextWeights[i]));
  const scratch = await trainClassifier(digitsFromScratch(), labelled, SHAPE, { epochs, learningRate: 1e-3, batchSize: 25, seed: 3 });
  rows.push([`${perClass} (${labelled.n} images, ${epochs} epochs)`, pct(frozen), pct(tuned), pct(accuracy(scratch, test, SHAPE))]);
}
console.log(`\nheld-out accuracy on ${test.n} digits (all ten classes):\n${table(rows)}`);
console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s`);
