// Fine-tuning with no JavaScript host: build/edgetune-wasi.wasm runs in a separate process under
// node:wasi (and Bun's node:wasi) with only the plan, weights and data directories preopened. The
// weights it writes must equal, byte for byte, the file the JS host saves after model.fit on the
// same records (shuffle false, same batch, same freezing); bad input must leave them untouched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Random } from '../host/core/random';
import {
  compileModelFile, dataFromFileBytes, input, model, type Model, loadModel, optimizers, packDataFile, readPlanFileInfo, readSafetensors, sequential, layers, tensor, setSeed,
  type TrainingData,
} from '../dist/node.js';
import { mnistData } from '../dist/examples.js';

const ROOT = new URL('..', import.meta.url).pathname;
const RUNNER = join(ROOT, 'test/wasi/run-wasi.mjs');
const BUN = join(ROOT, 'node_modules/.bin/bun');
const work = mkdtempSync(join(tmpdir(), 'edgetune-wasi-'));

interface Case {
  dir: string;
  weights: string; // host path of the weights file
  original: Buffer;
}

// Three directories (plan, weights, data), preopened as /p, /w and /d.
function setup(name: string, modelBytes: Uint8Array): Case {
  const dir = join(work, name);
  for (const d of ['p', 'w', 'd']) mkdirSync(join(dir, d), { recursive: true });
  const weights = join(dir, 'w', 'model.safetensors');
  writeFileSync(weights, modelBytes);
  return { dir, weights, original: Buffer.from(modelBytes) };
}

function runWasi(c: Case, args: string[], options: { runtime?: string; wasm?: string } = {}) {
  const preopens = { '/p': join(c.dir, 'p'), '/w': join(c.dir, 'w'), '/d': join(c.dir, 'd') };
  const wasm = join(ROOT, 'build', options.wasm ?? 'edgetune-wasi.wasm');
  const r = spawnSync(options.runtime ?? process.execPath, [RUNNER, wasm, JSON.stringify(preopens), ...args], { encoding: 'utf8', timeout: 120_000 });
  const stderr = r.stderr.split('\n').filter((l) => l && !/ExperimentalWarning|--trace-warnings/.test(l));
  return { status: r.status, stdout: r.stdout, stderr };
}

const trainArgs = (epochs: number) => ['train', '--plan', '/p/model.plan', '--weights', '/w/model.safetensors', '--data', '/d/train.etd', '--epochs', String(epochs)];

// The same fine-tuning through the JS host: the saved model, the same layers frozen, the saved
// optimizer and loss, fit with shuffle false; the trainable flags and the saved training config
// (its batch size) are put back before saving, so that the file's JSON header is the one the WASI
// module kept and only tensor data can differ.
async function fitOnHost(modelBytes: Uint8Array, freeze: string, batch: number, data: TrainingData, epochs: number, budget?: string) {
  const model: Model = await loadModel(modelBytes);
  const flags = model.layers.map((l) => l.trainable);
  const at = model.layers.findIndex((l) => l.name === freeze);
  for (let i = 0; i <= at; i++) model.layers[i].trainable = false;
  const cfg = model.compileConfig!;
  model.compile({ optimizer: cfg.optimizer, loss: cfg.loss, metrics: cfg.metrics, batchSize: batch, memoryBudget: budget });
  const n = data.x.length / data.xFloats;
  const history = await model.fit(tensor(data.x, [n, ...model.inputShape]), tensor(data.labels, [n]), { epochs, batchSize: batch, shuffle: false });
  model.layers.forEach((l, i) => { l.trainable = flags[i]; });
  model.restoreCompileConfig({ optimizer: cfg.optimizer, loss: cfg.loss, metrics: cfg.metrics, batchSize: cfg.batchSize });
  return { bytes: Buffer.from(model.toBytes()), losses: history.history.loss };
}

const bitsHex = (v: number) => {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, v);
  return b.getBigUint64(0).toString(16).padStart(16, '0');
};
const printedBits = (stdout: string) => [...stdout.matchAll(/^epoch \d+\/\d+ loss \S+ f64 0x([0-9a-f]{16})$/gm)].map((m) => m[1]);

describe('WASI fine-tuning (no JavaScript host)', () => {
  const mlpBytes = readFileSync(join(ROOT, 'models/mnist-base-0to4.safetensors'));
  // 50 digits 5-9 relabelled 0-4: 3 full batches of 16 and a partial one of 2.
  const data = mnistData([5, 6, 7, 8, 9], 50);

  it('MLP, first layer frozen: weights bit-identical to model.fit (shuffle false), losses identical', async () => {
    const c = setup('mlp', mlpBytes);
    const plan = await compileModelFile(c.weights, join(c.dir, 'p/model.plan'), { batch: 16, freeze: 'base_dense_1', budget: '4MB' });
    expect(plan.params.filter((p) => p.trainable).map((p) => `${p.layer}/${p.weight}`)).toEqual(['base_dense_2/kernel', 'base_dense_2/bias', 'base_head/kernel', 'base_head/bias']);
    await packDataFile(join(c.dir, 'd/train.etd'), data);
    const r = runWasi(c, trainArgs(3));
    expect(r.stderr).toEqual([]);
    expect(r.status).toBe(0);
    const after = readFileSync(c.weights);
    const host = await fitOnHost(mlpBytes, 'base_dense_1', 16, data, 3, '4MB');
    expect(after.length).toBe(c.original.length);
    expect(after.equals(c.original)).toBe(false); // training changed something
    expect(Buffer.compare(after, host.bytes)).toBe(0);
    expect(printedBits(r.stdout)).toEqual(host.losses.map(bitsHex));
    expect(r.stdout).toMatch(/^wrote model\.safetensors after 12 steps$/m);
    // No temporary file left next to the weights.
    expect(readdirSync(join(c.dir, 'w'))).toEqual(['model.safetensors']);
  });

  it('CNN with frozen convolutions, and the no-SIMD WASI build and Bun\'s WASI give the same bytes', async () => {
    const cnnBytes = readFileSync(join(ROOT, 'models/mnist-cnn-base-0to4.safetensors'));
    const cnnData = { ...data, x: data.x.slice(0, 37 * 784), labels: data.labels.slice(0, 37) };
    const results: Buffer[] = [];
    const runs: { name: string; runtime?: string; wasm?: string }[] = [
      { name: 'node-simd' }, { name: 'node-scalar', wasm: 'edgetune-wasi-nosimd.wasm' }, { name: 'bun-simd', runtime: BUN },
    ];
    for (const run of runs) {
      const c = setup(`cnn-${run.name}`, cnnBytes);
      await compileModelFile(c.weights, join(c.dir, 'p/model.plan'), { batch: 8, freeze: 'base_pool_1' });
      await packDataFile(join(c.dir, 'd/train.etd'), cnnData);
      const r = runWasi(c, trainArgs(2), run);
      expect(r.stderr, run.name).toEqual([]);
      expect(r.status, run.name).toBe(0);
      results.push(readFileSync(c.weights));
    }
    const host = await fitOnHost(cnnBytes, 'base_pool_1', 8, cnnData, 2);
    for (const [i, bytes] of results.entries()) expect(Buffer.compare(bytes, host.bytes), runs[i].name).toBe(0);
  });

  it('SGD with Nesterov momentum, a cosine schedule with warmup and clipnorm; batch norm state and dropout: bit-identical, state written back', async () => {
    setSeed(11);
    const fresh = sequential([
      layers.dense(32, { activation: 'relu', inputShape: [784], name: 'd1' }),
      layers.batchNormalization({ name: 'bn' }),
      layers.dropout(0.25, { seed: 5, name: 'drop' }),
      layers.dense(5, { activation: 'softmax', name: 'out' }),
    ], { name: 'scheduled' });
    const schedule = { className: 'cosineDecay', initialLearningRate: 0.001, decaySteps: 7, alpha: 0.1, warmupTarget: 0.05, warmupSteps: 3 };
    fresh.compile({ optimizer: optimizers.sgd({ learningRate: schedule as never, momentum: 0.9, nesterov: true, clipnorm: 0.5 }), loss: 'sparseCategoricalCrossentropy', batchSize: 12 });
    const bytes = fresh.toBytes();
    const c = setup('scheduled', bytes);
    await compileModelFile(c.weights, join(c.dir, 'p/model.plan'), { batch: 12 });
    await packDataFile(join(c.dir, 'd/train.etd'), data);
    const r = runWasi(c, trainArgs(3));
    expect(r.stderr).toEqual([]);
    expect(r.status).toBe(0);
    const host = await fitOnHost(bytes, '', 12, data, 3);
    const after = readFileSync(c.weights);
    expect(Buffer.compare(after, host.bytes)).toBe(0);
    expect(printedBits(r.stdout)).toEqual(host.losses.map(bitsHex));
    // The moving statistics changed (state is written back, not only trainable weights).
    const movingMean = (b: Uint8Array) => { const m = readSafetensors(b).tensors.get('bn/moving_mean')!; return Buffer.from(m.data); };
    expect(movingMean(after).equals(movingMean(bytes))).toBe(false);
  });

  it('shape layers on the strided N-D copy (reflected and edge borders: negative and zero strides) pass the WASI verifier and train bit-identically', async () => {
    setSeed(12);
    const inp = input({ shape: [28, 28, 1] });
    let t = layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: 'tanh', name: 'nd_conv' }).apply(inp);
    t = layers.pad({ paddings: [[2, 1], [1, 2], [0, 0]], mode: 'reflect' }).apply(t);
    t = layers.pad({ paddings: [[1, 0], [0, 1], [1, 1]], mode: 'edge' }).apply(t);
    t = layers.slice({ begin: [0, 0, 0], end: [16, 17, 6], strides: [2, 3, 1] }).apply(t);
    t = layers.permute([2, 1, 3]).apply(t);
    t = layers.depthToSpace(2).apply(layers.gather({ indices: [5, 0, 3, 3], axis: -1 }).apply(t));
    t = layers.concatenate({ axis: 2 }).apply([t, layers.tile([1, 2, 1]).apply(t)]);
    const fresh = model({ inputs: inp, outputs: layers.dense(5, { activation: 'softmax', name: 'nd_out' }).apply(layers.flatten().apply(t)), name: 'shapes' });
    fresh.compile({ optimizer: optimizers.sgd({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy', batchSize: 16 });
    const bytes = fresh.toBytes();
    const c = setup('shapes', bytes);
    await compileModelFile(c.weights, join(c.dir, 'p/model.plan'), { batch: 16 });
    await packDataFile(join(c.dir, 'd/train.etd'), data);
    const r = runWasi(c, trainArgs(2));
    expect(r.stderr).toEqual([]);
    expect(r.status).toBe(0);
    const host = await fitOnHost(bytes, '', 16, data, 2);
    expect(Buffer.compare(readFileSync(c.weights), host.bytes)).toBe(0);
    expect(printedBits(r.stdout)).toEqual(host.losses.map(bitsHex));
  });

  it('every optimizer kind (slot start values, Nadam\'s running product, weight decay, centered RMSprop, clipping modes) matches fit bit for bit', async () => {
    const cases = {
      adagrad: optimizers.adagrad({ learningRate: 0.05, initialAccumulatorValue: 0.2 }),
      rmsprop: optimizers.rmsprop({ learningRate: 0.01, momentum: 0.5, centered: true, clipvalue: 0.1 }),
      adamw: optimizers.adamw({ learningRate: 0.01, weightDecay: 0.05, amsgrad: true, globalClipnorm: 1 }),
      nadam: optimizers.nadam({ learningRate: 0.01 }),
      adamax: optimizers.adamax({ learningRate: 0.01 }),
    };
    const small = { ...data, x: data.x.slice(0, 21 * 784), labels: data.labels.slice(0, 21) };
    for (const [name, optimizer] of Object.entries(cases)) {
      setSeed(5);
      const fresh = sequential([
        layers.dense(16, { activation: 'tanh', inputShape: [784], name: 'd1' }),
        layers.dense(5, { activation: 'softmax', name: 'out' }),
      ], { name });
      fresh.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
      const bytes = fresh.toBytes();
      const c = setup(`opt-${name}`, bytes);
      await compileModelFile(c.weights, join(c.dir, 'p/model.plan'), { batch: 8 });
      await packDataFile(join(c.dir, 'd/train.etd'), small);
      const r = runWasi(c, trainArgs(2));
      expect(r.stderr, name).toEqual([]);
      const host = await fitOnHost(bytes, '', 8, small, 2);
      expect(readFileSync(c.weights).equals(Buffer.from(bytes)), name).toBe(false);
      expect(Buffer.compare(readFileSync(c.weights), host.bytes), name).toBe(0);
      expect(printedBits(r.stdout), name).toEqual(host.losses.map(bitsHex));
    }
  });

  it('the cross-runtime determinism scenario (examples/common/determinism.mjs) gives the Node digest under WASI', async () => {
    // The scenario shuffles with seed 3: the data file holds each epoch's rows in fit's order, one
    // WASI epoch over the three permutations is the scenario's three epochs (64 rows, 4 full batches each).
    const edgetune = await import('../dist/node.js');
    const scenario = await import('../examples/common/determinism.mjs');
    const modelBytes = readFileSync(join(ROOT, 'models/mnist-base-0to4.safetensors'));
    const expected = await scenario.runScenario(edgetune, modelBytes);
    const model = await scenario.scenarioModel(edgetune, modelBytes);
    const c = setup('determinism', model.toBytes());
    await compileModelFile(c.weights, join(c.dir, 'p/model.plan'), { batch: 16 });
    const { x, y, n } = scenario.scenarioData();
    const rng = new Random(3);
    const order = [...rng.permutation(n), ...rng.permutation(n), ...rng.permutation(n)];
    const xs = new Float32Array(order.length * 784);
    order.forEach((r, i) => xs.set(x.subarray(r * 784, (r + 1) * 784), i * 784));
    await packDataFile(join(c.dir, 'd/train.etd'), { x: xs, xFloats: 784, labels: Int32Array.from(order, (r) => y[r]), labelWords: 1 });
    const r = runWasi(c, trainArgs(1));
    expect(r.stderr).toEqual([]);
    const tensors = readSafetensors(readFileSync(c.weights)).tensors;
    const head = ['head/kernel', 'head/bias'].map((name) => new Float32Array(new Uint8Array(tensors.get(name)!.data).buffer));
    expect(scenario.digestWeights(head)).toBe(expected.digest);
  });

  it('the CLI writes the plan and data files (edgetune compile / pack-data) and the data file reads back', () => {
    const c = setup('cli', mlpBytes);
    const cli = join(ROOT, 'dist/cli.js');
    const plan = join(c.dir, 'p/model.plan');
    const etd = join(c.dir, 'd/train.etd');
    const a = spawnSync(process.execPath, [cli, 'compile', c.weights, '--train', '--batch', '16', '--freeze', 'base_dense_2', '--budget', '2MB', '-o', plan], { encoding: 'utf8' });
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    const info = readPlanFileInfo(readFileSync(plan), plan);
    expect(info.batchSize).toBe(16);
    expect(info.pages * 65536).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(info.bindings.map((b) => `${b.name}:${b.flags}`)).toEqual([
      'base_head/kernel:1', 'base_head/bias:1', 'base_dense_1/kernel:0', 'base_dense_1/bias:0', 'base_dense_2/kernel:0', 'base_dense_2/bias:0',
    ]);
    const b = spawnSync(process.execPath, [cli, 'pack-data', '--mnist', '--digits', '5-9', '--count', '20', '-o', etd], { encoding: 'utf8', cwd: ROOT });
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    const back = dataFromFileBytes(readFileSync(etd), etd);
    const expected = mnistData([5, 6, 7, 8, 9], 20);
    expect(Buffer.from(back.x.buffer).equals(Buffer.from(expected.x.buffer))).toBe(true);
    expect(Array.from(back.labels)).toEqual(Array.from(expected.labels));
    // A budget too small fails with the breakdown, and writes nothing.
    const small = join(c.dir, 'p/small.plan');
    const d = spawnSync(process.execPath, [cli, 'compile', c.weights, '--train', '--batch', '16', '--budget', '64KB', '-o', small], { encoding: 'utf8' });
    expect(d.status).toBe(1);
    expect(d.stderr).toMatch(/memory budget 64\.0 KB is too small: the plan needs .* = weights .* gradients .* optimizer state/);
    expect(existsSync(small)).toBe(false);
    // JSON records: class indices as sparse labels.
    const json = join(c.dir, 'd/small.json');
    writeFileSync(json, JSON.stringify({ x: [[0, 0.5, 1], [1, 1, 0]], y: [2, 0] }));
    const e = spawnSync(process.execPath, [cli, 'pack-data', json, '-o', join(c.dir, 'd/small.etd')], { encoding: 'utf8' });
    expect(e.status).toBe(0);
    const s = dataFromFileBytes(readFileSync(join(c.dir, 'd/small.etd')));
    expect(Array.from(s.x)).toEqual([0, 0.5, 1, 1, 1, 0]);
    expect(s.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(s.labels)).toEqual([2, 0]);
  });

  describe('bad input: a one-line reason on stderr, a non-zero exit, the weights file byte-identical', () => {
    async function prepared(name: string): Promise<Case> {
      const c = setup(name, mlpBytes);
      await compileModelFile(c.weights, join(c.dir, 'p/model.plan'), { batch: 16, freeze: 'base_dense_1' });
      await packDataFile(join(c.dir, 'd/train.etd'), data);
      return c;
    }
    function expectRefused(c: Case, reason: RegExp, runtime?: string) {
      const r = runWasi(c, trainArgs(2), { runtime });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toHaveLength(1);
      expect(r.stderr[0]).toMatch(reason);
      expect(readFileSync(c.weights).equals(c.original)).toBe(true);
      expect(readdirSync(join(c.dir, 'w'))).toEqual(['model.safetensors']);
    }

    it('a plan file from another format version', async () => {
      const c = await prepared('bad-version');
      const p = join(c.dir, 'p/model.plan');
      const bytes = readFileSync(p);
      bytes.writeUInt32LE(3, 4);
      writeFileSync(p, bytes);
      expectRefused(c, /^edgetune-wasi: plan: file format version 3, this module reads version 2: recompile the plan$/);
      expectRefused(c, /^edgetune-wasi: plan: file format version 3, this module reads version 2: recompile the plan$/, BUN);
    });

    it('a truncated plan file and a truncated data file', async () => {
      const c = await prepared('truncated');
      const p = join(c.dir, 'p/model.plan');
      const plan = readFileSync(p);
      writeFileSync(p, plan.subarray(0, plan.length - 40));
      expectRefused(c, /^edgetune-wasi: plan: file is truncated$/);
      writeFileSync(p, plan);
      const d = join(c.dir, 'd/train.etd');
      const etd = readFileSync(d);
      writeFileSync(d, etd.subarray(0, etd.length - 100));
      expectRefused(c, /^edgetune-wasi: data: 50 records need \d+ bytes, the file has \d+ \(truncated\?\)$/);
    });

    it('weights whose shapes do not match the plan', async () => {
      const c = await prepared('shapes');
      // A model with the same layer names and a narrower middle layer, compiled into the plan.
      setSeed(1);
      const other = sequential([
        layers.dense(300, { activation: 'relu', inputShape: [784], name: 'base_dense_1' }),
        layers.dense(64, { activation: 'relu', name: 'base_dense_2' }),
        layers.dense(5, { activation: 'softmax', name: 'base_head' }),
      ]);
      other.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      const otherPath = join(c.dir, 'other.safetensors');
      writeFileSync(otherPath, other.toBytes());
      await compileModelFile(otherPath, join(c.dir, 'p/model.plan'), { batch: 16, freeze: 'base_dense_1' });
      expectRefused(c, /^edgetune-wasi: weights: tensor 'base_dense_2\/(kernel|bias)' has shape \[(300,)?100\], the plan expects \[(300,)?64\]$/);
    });

    it('data whose records do not fit the plan, and a label outside the classes', async () => {
      const c = await prepared('records');
      const d = join(c.dir, 'd/train.etd');
      await packDataFile(d, { x: new Float32Array(4 * 10), xFloats: 10, labels: new Int32Array(4), labelWords: 1 });
      expectRefused(c, /^edgetune-wasi: data: records of 10 inputs and 1 class labels do not fit the plan: 784 inputs and 1 class labels$/);
      const bad = { ...data, labels: data.labels.slice() };
      bad.labels[37] = 7;
      await packDataFile(d, bad);
      expectRefused(c, /^edgetune-wasi: data: record 37 has a label outside the 5 classes$/);
    });

    it('a path outside the preopened directories', async () => {
      const c = await prepared('outside');
      const r = runWasi(c, ['train', '--plan', '/etc/model.plan', '--weights', '/w/model.safetensors', '--data', '/d/train.etd']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toEqual(['edgetune-wasi: plan /etc/model.plan is not in a preopened directory']);
      expect(readFileSync(c.weights).equals(c.original)).toBe(true);
    });
  });
});
