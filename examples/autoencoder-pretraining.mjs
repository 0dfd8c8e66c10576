// Unsupervised pretraining: a stacked denoising autoencoder learns to reconstruct 7,996
// unlabelled MNIST digits; its encoder (cut after its first layer, or at the 64-unit code),
// frozen, carries a new softmax head trained on a few labels per class. Compared with the same
// network trained from scratch on the same few labels, for each cut.
// Run: npm run build && node examples/autoencoder-pretraining.mjs [labels per class ...]
import { optimizers, setSeed, tensor } from '../dist/node.js';
import { accuracy, autoencoder, classifierOnEncoder, mlpFromScratch, mnistSplit, table, trainClassifier } from './pretraining-lib.mjs';

const t0 = performance.now();
const perClassList = process.argv.slice(2).map(Number).filter((n) => n > 0);
const counts = perClassList.length ? perClassList : [5, 10, 50];
setSeed(42);
const { pool, test } = mnistSplit(0);

// 1. Pretrain on every pool image, no labels: binary cross-entropy on pixel intensities.
const ae = autoencoder();
ae.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'binaryCrossentropy', batchSize: 64 });
const px = tensor(pool.x, [pool.n, 784]);
const aeEpochs = 8;
const history = await ae.fit(px, px, { epochs: aeEpochs, batchSize: 64, seed: 7 });
const testRecon = ae.evaluate(tensor(test.x, [test.n, 784]), tensor(test.x, [test.n, 784])).loss;
console.log(`denoising autoencoder on ${pool.n} unlabelled digits, ${aeEpochs} epochs: train loss ${history.history.loss[0].toFixed(4)} -> ` +
  `${history.history.loss.at(-1).toFixed(4)}, held-out reconstruction loss ${testRecon.toFixed(4)} (binary cross-entropy)`);
const encoderWeights = ae.getLayer('enc_1').getWeights()[0].slice();

// 2. Few labels: the frozen encoder under a new head vs the same network from scratch.
const pct = (a) => `${(100 * a).toFixed(2)}%`;
const rows = [['labels per class', '784-256 frozen AE', '784-256 scratch', '784-256-64 frozen AE', '784-256-64 scratch']];
for (const perClass of counts) {
  setSeed(100 + perClass);
  const { labelled } = mnistSplit(perClass);
  const epochs = Math.max(20, Math.round(6000 / labelled.n));
  const opts = (learningRate) => ({ epochs, learningRate, batchSize: 25, seed: 3 });
  const row = [`${perClass} (${labelled.n} images, ${epochs} epochs)`];
  for (const [cut, hidden] of [['enc_1', [256]], ['code', [256, 64]]]) {
    row.push(pct(accuracy(await trainClassifier(classifierOnEncoder(ae, cut), labelled, [784], opts(3e-3)), test, [784])));
    row.push(pct(accuracy(await trainClassifier(mlpFromScratch(hidden), labelled, [784], opts(1e-3)), test, [784])));
  }
  rows.push(row);
}
const unchanged = ae.getLayer('enc_1').getWeights()[0].every((v, i) => v === encoderWeights[i]);
console.log(`\nheld-out accuracy on ${test.n} digits (all ten classes):\n${table(rows)}`);
console.log(`\nencoder weights bit-identical after the classifiers trained: ${unchanged}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
