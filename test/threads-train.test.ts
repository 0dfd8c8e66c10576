// Threads in the training passes (docs/threads.md): the convolution gradients split as one job a
// layer (the filter gradient by rows of dw over every chunk, the input gradient by whole images)
// give the same bits on 1, 2 and 3 threads, and each kind really ran split.
import { describe, expect, it } from 'vitest';
import { layers, sequential, setSeed, tensor, threadsReady } from '../dist/node.js';
import { randomArray } from './support/harness';

type Jobs = Record<string, number>;
const splitJobs = (m: ReturnType<typeof sequential>): Jobs | null =>
  (m as unknown as { arena: { executor: { splitJobs: Jobs | null } } }).arena.executor.splitJobs;
const bits = (f: Float32Array) => new Uint32Array(Float32Array.from(f).buffer);

// Every convolution form whose gradients the training splits cover: a first layer over one
// channel (its dw as eight sums over ranges of positions, added in order: 9 rows are too few to
// split by rows, and by columns it cost more than it saved), 'same' and strided, dilated (its
// 288 x 64 dw by positions too, in partial sums the plan gave room for),
// pointwise (dw by rows of the channel-major GEMM; over 16 channels, too few rows, it is not split
// by columns: a pointwise convolution has no im2col buffer) and grouped (dx by images, per group); max
// pooling with overlapping windows (an input element may win two windows); batch norm over 32
// channels (by rows: sums in eight fixed parts, then rows in ranges of 16); depthwise with a depth multiplier (dx by images, dw and db by
// channel ranges).
async function train(threads: number) {
  setSeed(41);
  const m = sequential([
    layers.conv2d(32, { kernelSize: 3, padding: 'same', inputShape: [16, 16, 1] }),
    layers.batchNormalization(),
    layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
    layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }),
    layers.conv2d(32, { kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
    layers.conv2d(64, { kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' }),
    layers.conv2d(16, { kernelSize: 1 }),
    layers.conv2d(32, { kernelSize: 1 }),
    layers.conv2d(16, { kernelSize: 3, padding: 'same', groups: 2, activation: 'relu' }),
    layers.flatten(),
    layers.dense(5, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 32, threads });
  const x = tensor(randomArray(64 * 16 * 16 * 1, 17), [64, 16, 16, 1]);
  const y = tensor(new Float32Array(64).map((_, i) => (i * 3) % 5), [64]);
  await m.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false });
  await threadsReady();
  const h = await m.fit(x, y, { epochs: 2, batchSize: 32, shuffle: false });
  return { weights: m.layers.flatMap((l) => l.getWeights()), loss: h.history.loss as number[], jobs: splitJobs(m), threads: m.threads.threads };
}

describe('threads: training passes split with the same bits', () => {
  it('convolution and depthwise gradients, max pooling, batch norm: 1, 2 and 3 threads give bit-identical weights and losses, each split', async () => {
    const one = await train(1);
    expect(one.jobs).toBeNull();
    for (const threads of [2, 3]) {
      const many = await train(threads);
      expect(many.threads).toBe(threads);
      expect(many.weights.length).toBe(one.weights.length);
      one.weights.forEach((w, i) => expect(bits(many.weights[i]), `weight ${i} on ${threads} threads`).toEqual(bits(w)));
      expect(many.loss).toEqual(one.loss);
      // Each step: 3 convolutions' dw by rows (not the first layer's 9 rows, nor the dilated
      // one's 288 x 64, whose partial sums the plan made room for: both by positions; nor the
      // pointwise one over 16 channels), 3 dx (the first layer has none, the pointwise ones' are
      // GEMMs) and the pooling both ways; 2 steps an epoch, 3 epochs.
      expect(many.jobs!['conv2d backward filter'], 'dw split').toBe(3 * 6);
      expect(many.jobs!['conv2d backward input'], 'dx split').toBe(3 * 6);
      expect(many.jobs!['maxpool forward'], 'max pooling forward split').toBe(6);
      expect(many.jobs!['maxpool backward'], 'max pooling backward split').toBe(6);
      // Batch norm by rows: its sums in fixed parts, then its rows, both ways.
      for (const kind of ['batchnorm forward sums', 'batchnorm forward rows', 'batchnorm backward sums', 'batchnorm backward rows'] as const) {
        expect(many.jobs![kind], `${kind} split`).toBe(6);
      }
      expect(many.jobs!['batchnorm forward'] + many.jobs!['batchnorm backward'], 'no batch norm by channels').toBe(0);
      expect(many.jobs!['depthwise backward input'], 'depthwise dx split').toBe(6);
      expect(many.jobs!['depthwise backward filter'], 'depthwise dw split').toBe(6);
      expect(many.jobs!['conv2d backward filter parts'], 'first and dilated layers\' dw split by positions').toBe(2 * 6);
    }
  });
});

// A thread's tile ends on a multiple of 16 floats of a row (batch-norm channel blocks, the filter
// gradient's im2col columns): a line boundary only if the tensor starts on one. Off a line (the
// plan placed the scratch and activations at 16-byte offsets: 48 past a line in this model), the
// two threads wrote parts of one line of every row (batch norm over 32 channels did not scale).
describe('threads: the plan lays tiles on whole cache lines', () => {
  it('the scratch and every activation of a training plan start on a 64-byte line', () => {
    setSeed(5);
    const m = sequential([
      layers.conv2d(32, { kernelSize: 3, padding: 'same', useBias: false, inputShape: [28, 28, 1] }),
      layers.batchNormalization(), layers.relu(), layers.maxPooling2d({ poolSize: 2 }),
      layers.conv2d(64, { kernelSize: 3, padding: 'same', useBias: false }),
      layers.batchNormalization(), layers.relu(), layers.maxPooling2d({ poolSize: 2 }),
      layers.flatten(), layers.dense(10, { activation: 'softmax' }),
    ]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 64, threads: 2 });
    m.trainOnBatch(tensor(randomArray(64 * 784, 3), [64, 28, 28, 1]), tensor(new Float32Array(64).map((_, i) => i % 10), [64]));
    const regions = (m as unknown as { arena: { executor: { plan: { regions: { name: string; kind: string; offset: number }[] } } } }).arena.executor.plan.regions;
    const lined = regions.filter((r) => r.kind === 'activation' || r.kind === 'scratch');
    expect(lined.length).toBeGreaterThan(10);
    for (const r of lined) expect(r.offset % 64, `${r.kind} ${r.name} at ${r.offset}`).toBe(0);
  });
});
