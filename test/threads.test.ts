// Threads (docs/threads.md): a model trained or run on 1, 2 or 3 threads gives the same bits
// (GEMM tiles partition the output; every element is computed by the same code in the same
// order whoever runs its tile), the workers really run tiles, and bad thread counts are typed
// errors. The worker-failure case is in threads-fallback.test.ts (its own process: the pool
// stays on one thread once a worker fails).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importTfjsGraphModel, InvalidArgumentError, layers, sequential, setSeed, setThreads, tensor, threadsReady } from '../dist/node.js';
import { randomArray } from './support/harness';
import { bits, lastJob, sameBitsOnThreads, splitJobs } from './support/threads';

type Jobs = Record<string, number> | null;
type Trained = { weights: Float32Array[]; predictions: Float32Array; workerTiles: number; threads: number; loss: number[]; more: () => Promise<number>; trainJobs: Jobs; predictJobs: Jobs };

// Two epochs of training, then predictions. Sizes chosen so every dense GEMM is large enough to
// be split (m * n * k >= 64^3) and small enough for a test.
async function trainMlp(threads: number): Promise<Trained> {
  setSeed(11);
  const m = sequential([
    layers.dense(192, { activation: 'relu', inputShape: [256] }),
    layers.dense(96, { activation: 'tanh' }),
    layers.dense(10, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 64, threads });
  return trainAndPredict(m, randomArray(256 * 256, 5), [256, 256], 10);
}

async function trainCnn(threads: number): Promise<Trained> {
  setSeed(23);
  const m = sequential([
    layers.conv2d(16, { kernelSize: 3, padding: 'same', inputShape: [16, 16, 3] }),
    layers.batchNormalization(),
    layers.activation('relu'),
    layers.conv2d(24, { kernelSize: 3, strides: 2 }),
    layers.batchNormalization(),
    layers.activation('relu'),
    layers.flatten(),
    layers.dense(5, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', batchSize: 32, threads });
  return trainAndPredict(m, randomArray(96 * 16 * 16 * 3, 9), [96, 16, 16, 3], 5);
}

// Big enough that a 2-thread plan splits every kind of op it can: implicit-GEMM convolutions by
// images, conv chunks (im2col, GEMM, ReLU and pooling of a chunk's positions: the last, grouped,
// convolution), batch norm by rows (sums in fixed parts), depthwise by output rows, ReLU layers by element ranges.
async function trainDepthwiseCnn(threads: number): Promise<Trained> {
  setSeed(31);
  const m = sequential([
    layers.conv2d(16, { kernelSize: 3, padding: 'same', inputShape: [24, 24, 8] }),
    layers.batchNormalization(),
    layers.activation('relu'),
    layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }),
    layers.batchNormalization(),
    layers.activation('relu'),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.conv2d(12, { kernelSize: 3, activation: 'relu', groups: 2 }),
    layers.flatten(),
    layers.dense(4, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 32, threads });
  return trainAndPredict(m, randomArray(64 * 24 * 24 * 8, 13), [64, 24, 24, 8], 4);
}

async function trainAndPredict(m: ReturnType<typeof sequential>, xs: Float32Array, shape: number[], classes: number): Promise<Trained> {
  const n = shape[0];
  const ys = new Float32Array(n).map((_, i) => (i * 7) % classes);
  // The pool starts on the first run; wait for its workers so the later epochs use them.
  await m.fit(tensor(xs, shape), tensor(ys, [n]), { epochs: 1, batchSize: 32, shuffle: false });
  await threadsReady();
  const h = await m.fit(tensor(xs, shape), tensor(ys, [n]), { epochs: 2, batchSize: 32, shuffle: false });
  const weights = m.layers.flatMap((l) => l.getWeights());
  const trainJobs = splitJobs(m);
  const predictions = (m.predict(tensor(xs, shape)) as { data: Float32Array }).data.slice();
  const predictJobs = splitJobs(m);
  // More steps, for a loaded machine where the workers were not scheduled in time to claim a tile.
  const more = async () => {
    await m.fit(tensor(xs, shape), tensor(ys, [n]), { epochs: 1, batchSize: 32, shuffle: false });
    return m.threads.workerTiles;
  };
  return { weights, predictions, workerTiles: m.threads.workerTiles, threads: m.threads.threads, loss: h.history.loss as number[], more, trainJobs, predictJobs };
}

function expectSameBits(a: Trained, b: Trained): void {
  expect(b.weights.length).toBe(a.weights.length);
  a.weights.forEach((w, i) => expect(bits(b.weights[i]), `weight ${i}`).toEqual(bits(w)));
  expect(bits(b.predictions)).toEqual(bits(a.predictions));
  expect(b.loss).toEqual(a.loss);
}

// A one-layer dense model's packed GEMM over all of x's rows: on 2 and 3 threads the same bits as
// on 1, one split job, split by rows (1) or column blocks (0) as `byRows` says (gemm_packed_split's
// byRows argument, word 13 of the job's arguments).
function expectPackedSplit(m: ReturnType<typeof sequential>, x: ReturnType<typeof tensor>, byRows: (threads: number) => number): void {
  const rows = x.shape[0];
  const run = (threads: number) => {
    m.planInference(rows, undefined, threads);
    return (m.predict(x, { batchSize: rows }) as { data: Float32Array }).data.slice();
  };
  const one = run(1);
  for (const threads of [2, 3]) {
    expect(bits(run(threads)), `${threads} threads`).toEqual(bits(one));
    expect(splitJobs(m)!['gemm packed']).toBe(1);
    expect(lastJob(m).args[13], `by rows on ${threads} threads`).toBe(byRows(threads));
  }
}

describe('threads: the same bits for any thread count', () => {
  const models = [
    ['MLP (dense GEMMs, adam)', trainMlp],
    ['CNN with batch norm (conv GEMMs, sgd)', trainCnn],
    ['CNN with batch norm, depthwise and pooling (conv chunks, batch norm rows, depthwise rows; adam)', trainDepthwiseCnn],
  ] as const;
  for (const [name, train] of models) {
    it(`${name}: 1, 2 and 3 threads give bit-identical weights, losses and predictions`, async () => {
      const one = await train(1);
      expect(one.threads).toBe(1);
      expect(one.workerTiles).toBe(0);
      expect(one.trainJobs).toBeNull();
      for (const threads of [2, 3]) {
        const many = await train(threads);
        expect(many.threads).toBe(threads);
        expectSameBits(one, many);
        // The workers ran some of the tiles (the driver claims the rest).
        let workerTiles = many.workerTiles;
        for (let i = 0; i < 20 && workerTiles === 0; i++) workerTiles = await many.more();
        expect(workerTiles).toBeGreaterThan(0);
        if (train === trainMlp) expect(many.trainJobs!['optimizer update'], 'adam over the slab').toBeGreaterThan(0);
        if (train === trainDepthwiseCnn) {
          // Every kind was split, so the bits above cover each kind's tiles.
          for (const kind of ['conv2d igemm', 'conv2d chunk', 'conv2d backward filter', 'conv2d backward input', 'batchnorm forward sums', 'batchnorm forward rows',
            'batchnorm backward sums', 'batchnorm backward rows', 'depthwise forward', 'elementwise']) {
            expect(many.trainJobs![kind], `${kind} in training`).toBeGreaterThan(0);
          }
          expect(many.predictJobs!['conv2d igemm'] - many.trainJobs!['conv2d igemm'], 'conv2d igemm in predict').toBeGreaterThan(0);
          expect(many.predictJobs!['conv2d chunk'] - many.trainJobs!['conv2d chunk'], 'conv2d chunk in predict').toBeGreaterThan(0);
          expect(many.predictJobs!['depthwise forward'], 'depthwise forward in predict').toBeGreaterThan(0);
        }
      }
    });
  }

  it('an Adam update over 38K parameters splits in two tiles (an element counted as two), with the same bits on 1, 2 and 3 threads', async () => {
    // 300 x 128 + 128 + 128 x 4 + 4 = 39044 parameters: under 64K elements the update used to run
    // whole on the driver, reading the gradients the worker had just written (threads.ts update_split).
    const train = async (threads: number) => {
      setSeed(17);
      const m = sequential([layers.dense(128, { activation: 'relu', inputShape: [300] }), layers.dense(4, { activation: 'softmax' })]);
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 32, threads });
      return trainAndPredict(m, randomArray(64 * 300, 41), [64, 300], 4);
    };
    const one = await train(1);
    for (const threads of [2, 3]) {
      const many = await train(threads);
      expectSameBits(one, many);
      // Two fits of two batches each: one update job a step.
      expect(many.trainJobs!['optimizer update'], `${threads} threads`).toBe(6);
    }
  });

  it('summary() states the thread count', () => {
    const m = sequential([layers.dense(256, { inputShape: [256] })]);
    m.compile({ optimizer: 'sgd', loss: 'mse', threads: 2, batchSize: 8 });
    // The memory past the arena is stated: the control block and one worker's packing scratch.
    expect(m.summary(null)).toMatch(/^Threads: 2 \(\+192\.0 KB outside the planned arena: the pool's control block and each worker's GEMM packing scratch\)$/m);
    m.compile({ optimizer: 'sgd', loss: 'mse', threads: 1, batchSize: 8 });
    expect(m.summary(null)).toMatch(/^Threads: 1$/m);
    // A plan with nothing worth splitting runs on one thread, and says why.
    const small = sequential([layers.dense(4, { inputShape: [3] })]);
    small.compile({ optimizer: 'sgd', loss: 'mse', threads: 2 });
    expect(small.summary(null)).toMatch(/^Threads: 1 \(asked for 2; one thread because no op of this plan is large enough to split/m);
  });

  it('setThreads, compile and planInference refuse 0, negative and non-integer counts with typed errors', () => {
    const m = sequential([layers.dense(4, { inputShape: [3] })]);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => setThreads(bad)).toThrow(InvalidArgumentError);
      expect(() => m.compile({ optimizer: 'sgd', loss: 'mse', threads: bad })).toThrow(/compile \(model .*\): threads must be a whole number >= 1/);
      expect(() => m.planInference(8, undefined, bad)).toThrow(InvalidArgumentError);
    }
    expect(() => setThreads('2' as unknown as number)).toThrow(/setThreads: threads must be a whole number >= 1 .*got string/);
  });

  it('an inference plan with packed weights (conv2d_forward_packed, gemm_packed) splits them, with the same bits', async () => {
    setSeed(4);
    const m = sequential([
      layers.conv2d(32, { kernelSize: 1, inputShape: [24, 24, 16], activation: 'relu' }), layers.conv2d(24, { kernelSize: 3, padding: 'same', dilationRate: 2 }), // dilated: not Winograd
      layers.flatten(), layers.dense(64, { activation: 'relu' }),
    ]);
    const x = tensor(randomArray(32 * 24 * 24 * 16, 8), [32, 24, 24, 16]);
    m.planInference(32, undefined, 1);
    const one = (m.predict(x) as { data: Float32Array }).data.slice();
    expect(m.plan.programs.forward!.ops.map((o) => o.op)).toEqual(['conv2d_forward_packed', 'conv2d_forward_packed', 'gemm_packed']);
    m.planInference(32, undefined, 2);
    (m.predict(x) as { data: Float32Array });
    await threadsReady();
    let two = (m.predict(x) as { data: Float32Array }).data.slice();
    for (let i = 0; i < 20 && m.threads.workerTiles === 0; i++) two = (m.predict(x) as { data: Float32Array }).data.slice();
    expect(m.threads.threads).toBe(2);
    expect(m.threads.workerTiles).toBeGreaterThan(0);
    expect(bits(two)).toEqual(bits(one));
    // The 3x3 convolution is one job over all its positions, each thread with its share of the
    // im2col buffer; the pointwise one and the dense layer are packed GEMMs split by rows.
    const jobs = splitJobs(m)!;
    expect(jobs['conv2d packed'], 'conv2d packed').toBeGreaterThan(0);
    expect(jobs['gemm packed'], 'gemm packed').toBeGreaterThan(0);
  });

  it('a packed convolution whose last im2col chunk has one position (1-row GEMM alone) gives the same bits split over all positions', async () => {
    // 57 * 57 = 3249 positions in chunks of 112: one thread's last chunk is a single row; split,
    // that row ends a sub-chunk of at least 4.
    setSeed(3);
    const m = sequential([layers.conv2d(32, { kernelSize: 3, padding: 'same', dilationRate: 2, inputShape: [57, 57, 64] })]); // not Winograd
    const x = tensor(randomArray(57 * 57 * 64, 21), [1, 57, 57, 64]);
    m.planInference(1, undefined, 1);
    m.predict(x);
    expect((m.plan.programs.forward!.ops[0].args as { chunkRows: number }).chunkRows).toBe(112);
    sameBitsOnThreads(m, x, (jobs) => expect(jobs['conv2d packed']).toBe(1));
  });

  it('a packed convolution over a few positions splits its GEMM by column blocks, with the same bits on 1, 2 and 3 threads', async () => {
    // Batch 1, 3x3 outputs: 9 rows are too few for row tiles; 256 filters are two column blocks
    // (dilated: a stride-1 3x3 would run as Winograd).
    setSeed(6);
    const m = sequential([layers.conv2d(256, { kernelSize: 3, dilationRate: 2, inputShape: [7, 7, 64], activation: 'relu' })]);
    const x = tensor(randomArray(7 * 7 * 64, 12), [1, 7, 7, 64]);
    sameBitsOnThreads(m, x, (jobs) => {
      expect(jobs['gemm packed'], 'gemm packed by columns').toBeGreaterThan(0);
      expect(jobs['conv2d packed'], 'too few positions for row tiles').toBe(0);
    });
  });

  it('a batch-1 dense layer (fewer rows than a GEMM tile) splits its packed GEMM by column blocks, with the same bits on 1, 2 and 3 threads', () => {
    // A classifier at batch 1: 1 x 640 . 640 x 1000, five column blocks of 128 and one of 104,
    // bound by reading the weights once; split, each thread reads its blocks' panels.
    setSeed(8);
    const m = sequential([layers.dense(1000, { inputShape: [640], activation: 'relu' })]);
    const x = tensor(randomArray(640, 14), [1, 640]);
    sameBitsOnThreads(m, x, (jobs) => expect(jobs['gemm packed'], 'gemm packed by column blocks').toBe(1));
  });

  it('a job with more tiles than threads has a multiple of the threads (3 equal tiles on 2 threads leave one thread two), with the same bits', () => {
    // The last job, a depthwise 3x3 over 8x8x192 at batch 1: 110592 taps, 3.4 tiles of 32768
    // taps at least (the pointwise convolution before it makes the plan worth threads).
    setSeed(9);
    const m = sequential([
      layers.conv2d(192, { kernelSize: 1, inputShape: [8, 8, 16] }),
      layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }),
    ]);
    const x = tensor(randomArray(8 * 8 * 16, 19), [1, 8, 8, 16]);
    sameBitsOnThreads(m, x, (jobs, threads) => {
      expect(jobs['depthwise forward'], 'depthwise forward').toBe(1);
      expect(lastJob(m).tiles, `tiles on ${threads} threads`).toBe(threads === 2 ? 2 : 3);
    });
  });

  it('a packed GEMM with more columns than rows and whole column blocks for every thread splits by columns, with the same bits on 1, 2 and 3 threads', () => {
    // 28 x 512 . 512 x 256: by rows, 7 units of 4 rows make tiles of 3 and 4 units on 2 threads
    // (each thread reading all the weights); by its 2 column blocks, one block a thread.
    setSeed(12);
    const m = sequential([layers.dense(256, { inputShape: [512] })]);
    expectPackedSplit(m, tensor(randomArray(28 * 512, 23), [28, 512]), (threads) => (threads === 2 ? 0 : 1));
  });

  it('a packed GEMM of many rows split by column blocks cuts each block into bands of rows, with the same bits on 1, 2 and 3 threads', () => {
    // 512 x 1024 . 1024 x 1024: 8 column blocks, on 2 threads 8 column tiles of 2 bands of 256 rows
    // (16 tiles); on 3, 6 column tiles (8 blocks) of 4 bands of 128 rows (24 tiles). Words 14 and
    // 15 of the job's arguments: the column tiles and the bands.
    setSeed(14);
    const m = sequential([layers.dense(1024, { inputShape: [1024] })]);
    const want = { 2: [8, 2], 3: [6, 4] } as Record<number, [number, number]>;
    expectPackedSplit(m, tensor(randomArray(512 * 1024, 31), [512, 1024]), (threads) => {
      const job = lastJob(m);
      expect([job.args[14], job.args[15]], `column tiles and bands on ${threads} threads`).toEqual(want[threads]);
      expect(job.tiles).toBe(want[threads][0] * want[threads][1]);
      return 0;
    });
  });

  it('a non-finite input, checked beside the workers on 2 and 3 threads, throws naming the sample and element; the next predict has the same bits', () => {
    // predict's finite check runs as the first job's side work on more than one thread, and throws
    // once the batch has run (host/training/inputs.ts predictSideWork): the same error as on one.
    setSeed(13);
    const m = sequential([layers.dense(256, { inputShape: [512] })]);
    const good = randomArray(28 * 512, 29);
    const badData = good.slice();
    badData[5 * 512 + 77] = NaN;
    const bad = tensor(badData, [28, 512]);
    const x = tensor(good, [28, 512]);
    for (const threads of [1, 2, 3]) {
      m.planInference(28, undefined, threads);
      expect(() => m.predict(bad, { batchSize: 28 }), `${threads} threads`).toThrow(/^predict: input sample 5 has a non-finite value \(NaN\) at element 77$/);
      expect(() => m.predict(bad, { batchSize: 28 }), `${threads} threads`).toThrow(InvalidArgumentError);
      if (threads > 1) expect(splitJobs(m)!['gemm packed'], `split on ${threads} threads`).toBe(2);
    }
    m.planInference(28, undefined, 1);
    const one = (m.predict(x, { batchSize: 28 }) as { data: Float32Array }).data.slice();
    for (const threads of [2, 3]) {
      m.planInference(28, undefined, threads);
      expect(() => m.predict(bad, { batchSize: 28 })).toThrow(InvalidArgumentError);
      expect(bits((m.predict(x, { batchSize: 28 }) as { data: Float32Array }).data), `${threads} threads`).toEqual(bits(one));
    }
  });

  it('a packed GEMM with more rows than its depth splits by rows even with column blocks for every thread, with the same bits on 1, 2 and 3 threads', () => {
    // 196 x 96 . 96 x 576 (mobilenet_v2's 14x14 expansion as a dense layer): five column blocks,
    // but the 221 KB of weights weigh less than the 451 KB of output rows, which the next op
    // reads by rows: by rows on 2 and 3 threads (threads.ts gemm_packed_split).
    setSeed(14);
    const m = sequential([layers.dense(576, { inputShape: [96], activation: 'relu6' })]);
    expectPackedSplit(m, tensor(randomArray(196 * 96, 31), [196, 96]), () => 1);
  });

  it('planInference(batch, budget, threads) sets the threads predict runs on', () => {
    setSeed(2);
    const m = sequential([layers.dense(128, { inputShape: [128], activation: 'relu' }), layers.dense(64)]);
    const x = tensor(randomArray(64 * 128, 3), [64, 128]);
    m.planInference(64, undefined, 1);
    const one = (m.predict(x) as { data: Float32Array }).data.slice();
    expect(m.threads.threads).toBe(1);
    m.planInference(64, undefined, 3);
    const three = (m.predict(x) as { data: Float32Array }).data.slice();
    expect(m.threads.threads).toBe(3);
    expect(bits(three)).toEqual(bits(one));
  });

  it('an imported model (emotion, a TF.js graph model) predicts the same bits on 1, 2 and 3 threads', async () => {
    const dir = join(__dirname, 'fixtures/models');
    const json = JSON.parse(readFileSync(join(dir, 'emotion.json'), 'utf8'));
    const m = await importTfjsGraphModel(json, async (p: string) => new Uint8Array(readFileSync(join(dir, p))), 'emotion.json');
    const x = tensor(randomArray(8 * 64 * 64, 17).map((v) => Math.abs(v)), [8, 64, 64, 1]);
    const run = (threads: number) => {
      m.planInference(8, undefined, threads);
      return (m.predict(x, { batchSize: 8 }) as { data: Float32Array }).data.slice();
    };
    const one = run(1);
    for (const threads of [2, 3]) {
      const many = run(threads);
      expect(m.threads.threads).toBe(threads);
      expect(bits(many)).toEqual(bits(one));
      const jobs = splitJobs(m as unknown as ReturnType<typeof sequential>)!;
      // Its 1x1 convolutions run with their depthwise convolutions as sepconv (its own job kind,
      // test/sepconv.test.ts); the 3x3 32 -> 64 as Winograd.
      expect(jobs['conv2d chunk'] + jobs.gemm + jobs['gemm packed'] + jobs['conv2d packed'] + jobs['conv2d winograd'], 'ops split').toBeGreaterThan(0);
    }
  });
});
