// Callbacks, checkpoints and the LR finder: Keras semantics against plain-TypeScript twins, and
// resuming from a checkpoint gives the same weights, bit for bit, as never having stopped.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  callbacks, findLearningRate, layers, loadModel, optimizers, schedules, sequential, setSeed, tensor, type Model, type OptimizerConfig,
} from '../dist/node.js';
import { randomArray } from './support/harness';
import { reduceLROnPlateauRef } from './reference/schedules';

const N = 24;
const x = tensor(randomArray(N * 6, 5), [N, 6]);
const y = tensor(Int32Array.from({ length: N }, (_, i) => (i * 5) % 3), [N]);

function net(dropout = false): Model {
  setSeed(21);
  return sequential([
    layers.dense(8, { activation: 'relu', inputShape: [6] }),
    ...(dropout ? [layers.dropout(0.3, { seed: 4 })] : []),
    layers.batchNormalization(),
    layers.dense(3, { activation: 'softmax' }),
  ]);
}
const bytesOf = (m: Model) => m.layers.flatMap((l) => l.getWeights().map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')));

describe('reduceLROnPlateau (performance scheduling)', () => {
  // Plateaus, small improvements under minDelta, and recoveries, so patience and cooldown both act.
  const valLoss = [1.0, 0.9, 0.9, 0.89995, 0.9, 0.91, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8];
  for (const o of [
    { factor: 0.5, patience: 2, minDelta: 1e-4, cooldown: 0, minLr: 0 },
    { factor: 0.2, patience: 1, minDelta: 1e-3, cooldown: 2, minLr: 0.004 },
    { factor: 0.1, patience: 3, minDelta: 0, cooldown: 1, minLr: 0 },
  ]) {
    it(`factor ${o.factor}, patience ${o.patience}, minDelta ${o.minDelta}, cooldown ${o.cooldown}, minLr ${o.minLr}: the Keras algorithm epoch by epoch`, () => {
      const model = net();
      model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
      const cb = callbacks.reduceLROnPlateau(o);
      cb.setModel(model);
      cb.onTrainBegin();
      const seen = valLoss.map((v, e) => { cb.onEpochEnd(e, { loss: 0, val_loss: v }); return model.learningRate; });
      const expected = reduceLROnPlateauRef(valLoss, 0.1, o);
      expect(seen).toEqual(expected);
      expect(new Set(expected).size).toBeGreaterThan(1);
    });
  }

  it('inside fit, the reduced rate is the one the next steps use (history.steps.lr)', async () => {
    const model = net();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    // Monitoring training accuracy in 'min' mode never improves after the first epoch: a reduction every 2 epochs.
    const h = await model.fit(x, y, { epochs: 5, batchSize: 8, shuffle: false, callbacks: [callbacks.reduceLROnPlateau({ monitor: 'loss', mode: 'max', factor: 0.5, patience: 2, minDelta: 10 })] });
    const perEpoch = [0, 1, 2, 3, 4].map((e) => h.steps.lr[e * 3]);
    expect(perEpoch).toEqual([0.05, 0.05, 0.05, 0.025, 0.025].map(Math.fround));
    // Keras logs the rate the epoch ran with (reduceLROnPlateau writes it before reducing).
    expect(h.history.learning_rate).toEqual([0.05, 0.05, 0.05, 0.025, 0.025].map(Math.fround));
    expect(model.learningRate).toBe(Math.fround(0.0125));
  });

  it('refuses factor >= 1 and a schedule-driven optimizer', () => {
    expect(() => callbacks.reduceLROnPlateau({ factor: 1 })).toThrow(/factor must be in \(0, 1\)/);
    expect(() => callbacks.reduceLROnPlateau({ factor: 1.5 })).toThrow(/got 1.5/);
    const model = net();
    model.compile({ optimizer: optimizers.sgd({ learningRate: schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.9 }) }), loss: 'sparseCategoricalCrossentropy' });
    expect(() => { model.learningRate = 0.01; }).toThrow(/exponentialDecay schedule/);
  });
});

describe('learningRateScheduler', () => {
  it('sets the rate at the start of every epoch from fn(epoch, lr)', async () => {
    const model = net();
    model.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    const calls: [number, number][] = [];
    const h = await model.fit(x, y, {
      epochs: 4, batchSize: 8, callbacks: [callbacks.learningRateScheduler((epoch, lr) => { calls.push([epoch, lr]); return epoch < 2 ? lr : lr * 0.1; })],
    });
    expect(calls.map((c) => c[0])).toEqual([0, 1, 2, 3]);
    // The rate is an f32 variable: fn sees what was stored, and its result is stored as f32.
    const lr2 = Math.fround(Math.fround(0.01) * 0.1);
    const lr3 = Math.fround(lr2 * 0.1);
    expect(calls.map((c) => c[1])).toEqual([Math.fround(0.01), Math.fround(0.01), Math.fround(0.01), lr2]);
    const firstOfEpoch = [0, 3, 6, 9].map((i) => h.steps.lr[i]);
    expect(firstOfEpoch).toEqual([Math.fround(0.01), Math.fround(0.01), lr2, lr3]);
    // The last rate fn returned stays the model's rate after fit; a rate that is not a positive
    // number is refused and not stored.
    expect(model.learningRate).toBe(lr3);
    await expect(model.fit(x, y, { epochs: 1, callbacks: [callbacks.learningRateScheduler(() => -1)] })).rejects.toThrow(/returned -1 for epoch 0/);
    expect(model.learningRate).toBe(lr3);
  });
});

describe('earlyStopping', () => {
  it('stops after `patience` epochs without improvement and restores the best epoch\'s weights', async () => {
    const model = net();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    // val_loss scripted through a callback that runs first: best at epoch 2, then worse.
    const script = [1.0, 0.8, 0.7, 0.75, 0.9, 0.95, 0.99, 1.2];
    const snapshots: string[][] = [];
    const stop = callbacks.earlyStopping({ monitor: 'val_loss', patience: 3, restoreBestWeights: true });
    const h = await model.fit(x, y, {
      epochs: 8, batchSize: 8, shuffle: false,
      callbacks: [{ onEpochEnd: (e, logs) => { logs.val_loss = script[e]; snapshots.push(bytesOf(model)); } }, stop],
    });
    // Keras: wait counts from the best epoch; with patience 3 training stops at epoch 5 (0-based).
    expect(h.epoch).toEqual([0, 1, 2, 3, 4, 5]);
    expect(stop.stoppedEpoch).toBe(5);
    expect(stop.bestEpoch).toBe(2);
    expect(bytesOf(model)).toEqual(snapshots[2]);
    expect(bytesOf(model)).not.toEqual(snapshots[5]);
  });

  it('minDelta and baseline follow Keras: an improvement smaller than minDelta does not reset patience', async () => {
    const model = net();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    const script = [1.0, 0.995, 0.99, 0.985, 0.98, 0.5];
    const stop = callbacks.earlyStopping({ patience: 2, minDelta: 0.01 });
    const h = await model.fit(x, y, { epochs: 6, batchSize: 8, callbacks: [{ onEpochEnd: (e, l) => { l.val_loss = script[e]; } }, stop] });
    expect(h.epoch).toEqual([0, 1, 2]);
  });
});

describe('modelCheckpoint and resuming', () => {
  it('saveBestOnly writes only when the monitor improves, atomically, and the file loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-ckpt-'));
    const model = net();
    model.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 8 });
    const script = [0.9, 0.7, 0.8, 0.6, 0.65];
    const ckpt = callbacks.modelCheckpoint({ filepath: join(dir, 'ckpt-{epoch:02d}.safetensors'), saveBestOnly: true });
    await model.fit(x, y, { epochs: 5, batchSize: 8, callbacks: [{ onEpochEnd: (e, l) => { l.val_loss = script[e]; } }, ckpt] });
    expect(readdirSync(dir).sort(), 'no temporary files left behind either').toEqual(['ckpt-01.safetensors', 'ckpt-02.safetensors', 'ckpt-04.safetensors']);
    const loaded = await loadModel(join(dir, 'ckpt-04.safetensors'));
    expect(loaded.iterations).toBe(12);
    expect(ckpt.saved.length).toBe(3);
  });

  const optimizersToResume: [string, () => OptimizerConfig][] = [
    ['adam', () => optimizers.adam({ learningRate: 0.01 })],
    ['nadam (its running product)', () => optimizers.nadam({ learningRate: 0.01, clipnorm: 0.5 })],
    ['sgd nesterov with an exponential schedule', () => optimizers.sgd({ learningRate: schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 3, decayRate: 0.7 }), momentum: 0.9, nesterov: true })],
    ['centered rmsprop with momentum and globalClipnorm', () => optimizers.rmsprop({ learningRate: 0.005, momentum: 0.5, centered: true, globalClipnorm: 1 })],
    ['adagrad', () => optimizers.adagrad({ learningRate: 0.05 })],
    ['adamw + 1cycle', () => optimizers.adamw({ learningRate: schedules.oneCycle({ iterations: 15, maxLearningRate: 0.02 }) })],
    ['adamax', () => optimizers.adamax({ learningRate: 0.01, weightDecay: 0.01 })],
  ];
  for (const [name, make] of optimizersToResume) {
    it(`${name}: save with the optimizer, load, continue = never stopped, bit for bit (dropout and BN included)`, async () => {
      const straight = net(true);
      straight.compile({ optimizer: make(), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
      await straight.fit(x, y, { epochs: 2, batchSize: 8, seed: 1 });
      const checkpoint = straight.toBytes({ includeOptimizer: true });
      await straight.fit(x, y, { epochs: 3, batchSize: 8, seed: 2 });

      const resumed = await loadModel(checkpoint);
      expect(resumed.iterations).toBe(6);
      await resumed.fit(x, y, { epochs: 3, batchSize: 8, seed: 2 });
      expect(bytesOf(resumed)).toEqual(bytesOf(straight));

      // Without the optimizer state the continuation differs (the comparison is not vacuous).
      const fresh = await loadModel(checkpoint.slice(0)).then(async () => {
        const m = net(true);
        m.compile({ optimizer: make(), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
        await m.fit(x, y, { epochs: 2, batchSize: 8, seed: 1 });
        const noOpt = await loadModel(m.toBytes());
        await noOpt.fit(x, y, { epochs: 3, batchSize: 8, seed: 2 });
        return noOpt;
      });
      expect(bytesOf(fresh)).not.toEqual(bytesOf(straight));
    });
  }

  it('a checkpoint whose optimizer tensor does not match its weight is refused, naming the tensor', async () => {
    const model = net();
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    await model.fit(x, y, { epochs: 1, batchSize: 8 });
    const { readSafetensors, writeSafetensors } = await import('../dist/node.js');
    const file = readSafetensors(model.toBytes({ includeOptimizer: true }));
    const target = `optimizer/m/${model.layers[0].name}/kernel`;
    expect([...file.tensors.keys()]).toContain(target);
    const tensors = [...file.tensors.entries()].map(([name, t]) => ({
      name, dtype: 'F32' as const, shape: name === target ? [3] : t.shape,
      data: name === target ? new Float32Array(3) : new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)),
    }));
    await expect(loadModel(writeSafetensors(tensors, file.metadata))).rejects.toThrow(`optimizer tensor '${target}' has 3 values`);
  });
});

describe('findLearningRate', () => {
  it('grows the rate exponentially, records the loss, suggests a rate, restores everything bit for bit', async () => {
    const model = net();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    await model.fit(x, y, { epochs: 1, batchSize: 8, seed: 1 });
    const before = model.toBytes({ includeOptimizer: true });
    const r = await findLearningRate(model, x, y, { minLr: 1e-4, maxLr: 10, steps: 60, batchSize: 8, seed: 3 });
    expect(Buffer.compare(Buffer.from(model.toBytes({ includeOptimizer: true })), Buffer.from(before))).toBe(0);
    expect(model.iterations).toBe(3);
    expect(r.lrs[0]).toBeCloseTo(1e-4, 10);
    const q = (10 / 1e-4) ** (1 / 59);
    r.lrs.forEach((lr, i) => expect(lr / (1e-4 * q ** i)).toBeCloseTo(1, 9));
    expect(r.losses.length).toBe(r.lrs.length);
    // The loss falls at first and the suggestion sits a decade below the smoothed minimum.
    expect(Math.min(...r.smoothed)).toBeLessThan(r.smoothed[0]);
    expect(r.suggestion).toBeCloseTo(Math.max(1e-4, r.minLossLr / 10), 12);
    expect(r.svg).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(r.svg).toContain('learning rate (log scale)');
    expect(r.svg).toContain('>1e-4<');
    // Training afterwards continues exactly as if the finder had never run.
    const twin = await loadModel(before);
    await model.fit(x, y, { epochs: 1, batchSize: 8, seed: 9 });
    await twin.fit(x, y, { epochs: 1, batchSize: 8, seed: 9 });
    expect(bytesOf(model)).toEqual(bytesOf(twin));
  });

  it('edgetune find-lr writes the SVG plot and prints a suggestion', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-lr-'));
    const svg = join(dir, 'curve.svg');
    const out = execFileSync(process.execPath, [new URL('../dist/cli.js', import.meta.url).pathname, 'find-lr', '--steps', '40', '--count', '400', '--svg', svg], { encoding: 'utf8' });
    expect(out).toMatch(/suggested learning rate: \d\.\d\de-\d/);
    expect(readFileSync(svg, 'utf8')).toContain('<path');
    expect(existsSync(svg + '.tmp')).toBe(false);
  });

  it('refuses bad ranges', async () => {
    const model = net();
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    await expect(findLearningRate(model, x, y, { minLr: 1, maxLr: 0.1 })).rejects.toThrow(/maxLr must be a finite number above minLr/);
    await expect(findLearningRate(model, x, y, { minLr: -1 })).rejects.toThrow(/minLr must be a positive number/);
  });
});

describe('progress', () => {
  it('prints one line per epoch with the logs and the rate, and every N steps when asked', async () => {
    const model = net();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.02 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 8 });
    const lines: string[] = [];
    const h = await model.fit(x, y, { epochs: 2, batchSize: 8, callbacks: [callbacks.progress({ print: (l) => lines.push(l), everySteps: 2 })] });
    expect(lines.filter((l) => l.startsWith('  step 2: loss '))).toHaveLength(2);
    const epochLines = lines.filter((l) => l.startsWith('epoch '));
    expect(epochLines).toHaveLength(2);
    expect(epochLines[1]).toContain(`loss ${h.history.loss[1].toFixed(4)}`);
    expect(epochLines[1]).toContain(`accuracy ${h.history.accuracy[1].toFixed(4)}`);
    expect(epochLines[1]).toContain('learning_rate 2.000e-2');
    expect(lines.at(-1)).toMatch(/^trained 2 epochs in \d+\.\d\d s$/);
  });
});
