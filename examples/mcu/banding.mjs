// node examples/mcu/banding.mjs (after npm run build): what computing the frozen convolution prefix
// in row bands (host/compile/band.ts, docs/memory.md) changes, in planned bytes: for the 256 KB
// fine-tune of finetune-256k.mjs (28x28 MNIST, micro-batch 1), and for a CNN on 96x96 RGB input
// whose whole feature maps need 1.13 MB. Each row: the plan's activations, its arena, the
// live-set lower bound, and the multiply-adds recomputed in the halos of the bands.
import { compilePlan, compileTrainPlan, formatBytes, layers, loadModel, sequential, setSeed, tensor } from '../../dist/node.js';
import { ARENA_BUDGET, mcuModel } from './finetune-lib.mjs';

const row = (label, p) => {
  const b = p.banding;
  const bands = b ? `${b.layers.at(-1)} in ${b.bands} bands of ${b.bandRows} rows, +${((100 * b.extraMacs) / b.macs).toFixed(1)}% multiply-adds` : 'whole maps';
  console.log(`  ${label.padEnd(22)} activations ${formatBytes(p.breakdown.activations).padStart(9)}  arena ${formatBytes(p.totalBytes).padStart(9)} ` +
    `(${p.pages} pages)  lower bound ${formatBytes(p.lowerBound.bytes).padStart(9)}  ${bands}`);
};

console.log('The 256 KB fine-tune (int8 MNIST CNN base, dense head, micro-batch 1, step batch 16):');
const bytes = (await mcuModel()).toBytes();
for (const bandRows of [undefined, 7, 2, 1]) {
  row(bandRows === undefined ? 'unbanded' : `bands of ${bandRows}`, compileTrainPlan(await loadModel(bytes), { batch: 16, microBatch: 1, budget: ARENA_BUDGET, bandRows }));
}

// A small CNN at 96x96 (the input size of MCUNet's visual wake words): the frozen feature extractor
// of a fine-tune, as an inference plan at batch 1.
export function cnn96() {
  setSeed(5);
  return sequential([
    layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [96, 96, 3], name: 'conv1' }),
    layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
    layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2' }),
    layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
    layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu6', name: 'dw3' }),
    layers.conv2d({ filters: 64, kernelSize: 1, activation: 'relu', name: 'pw3' }),
    layers.maxPooling2d({ poolSize: 2, name: 'pool3' }),
    layers.globalAveragePooling2d({ name: 'gap' }),
    layers.dense(2, { activation: 'softmax', name: 'head' }),
  ], { name: 'cnn96' });
}

const BUDGET_96 = 704 * 1024;

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('A CNN on 96x96x3 input (inference, batch 1):');
  const m = cnn96();
  for (const bandRows of [undefined, 6, 2, 1]) row(bandRows === undefined ? 'unbanded' : `bands of ${bandRows}`, compilePlan(m.graph, { batchSize: 1, mode: 'inference', prepareWeights: false, bandRows }));
  // A 704 KB budget (11 pages): the whole maps do not fit at any scratch size, so the planner picks
  // the largest bands that do; the predictions are the unbudgeted model's, bit for bit.
  const x = tensor(Float32Array.from({ length: 96 * 96 * 3 }, (_, i) => Math.sin(i * 0.01)), [1, 96, 96, 3]);
  const plain = m.predict(x, { batchSize: 1 }).data;
  const small = cnn96();
  const plan = small.planInference(1, BUDGET_96);
  row('budget 704 KB', plan);
  for (const l of small.layers.slice(0, -1)) l.trainable = false; // a fine-tune of the head
  small.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 1, memoryBudget: BUDGET_96 });
  const same = small.predict(x, { batchSize: 1 }).data.every((v, i) => Object.is(v, plain[i]));
  row('fine-tune, 704 KB', small.plan);
  console.log(`  predictions within 704 KB ${same ? 'equal' : 'DIFFER FROM'} the unbudgeted model's, bit for bit`);
}
