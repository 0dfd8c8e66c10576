// Strict options (issue 16): every options object is checked against its documented names, and an
// unknown key is an InvalidArgumentError naming it, where, and the nearest documented name. The
// TF.js call forms that are unambiguous (a number as an optimizer's learning rate, callbacks as one
// object of hooks) work; fit's validationSplit, initialEpoch and verbose do what Keras does.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  callbacks, findLearningRate, importPytorchSafetensors, InvalidArgumentError, layers, optimizers, schedules, sequential, tensor,
  type Model,
} from '../dist/node.js';

function net(): Model {
  const m = sequential([layers.dense(3, { activation: 'softmax', inputShape: [4], kernelInitializer: 'zeros' })]);
  m.compile({ optimizer: optimizers.sgd({ learningRate: 0.5 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 4 });
  return m;
}
function data(n: number) {
  const x = new Float32Array(n * 4).map((_, i) => Math.sin(i * 1.7));
  const y = new Int32Array(n).map((_, i) => (i * 5) % 3);
  return { x, y, xt: tensor(x, [n, 4]), yt: tensor(y, [n]) };
}
function refusal(f: () => unknown): InvalidArgumentError {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(InvalidArgumentError); return e as InvalidArgumentError; }
  throw new Error('not refused');
}
async function refusalAsync(f: () => Promise<unknown>): Promise<InvalidArgumentError> {
  try { await f(); } catch (e) { expect(e).toBeInstanceOf(InvalidArgumentError); return e as InvalidArgumentError; }
  throw new Error('not refused');
}

describe('unknown options are refused with the nearest name', () => {
  const { xt, yt } = data(8);
  const cases: [string, () => unknown, string][] = [
    ['dense', () => layers.dense(4, { activaton: 'relu' } as never), "unknown option 'activaton' for layers.dense; did you mean 'activation'?"],
    ['dense, options only', () => layers.dense({ units: 4, usebias: false } as never), "unknown option 'usebias' for layers.dense; did you mean 'useBias'?"],
    ['conv2d', () => layers.conv2d(4, { kernel_size: 3 } as never), "unknown option 'kernel_size' for layers.conv2d; did you mean 'kernelSize'?"],
    ['flatten', () => layers.flatten({ nme: 'f' } as never), "unknown option 'nme' for layers.flatten; did you mean 'name'?"],
    ['dropout', () => layers.dropout(0.5, { sed: 1 } as never), "unknown option 'sed' for layers.dropout; did you mean 'seed'?"],
    ['relu', () => layers.relu({ inputshape: [3] } as never), "unknown option 'inputshape' for layers.activation; did you mean 'inputShape'?"],
    ['adam lr (Keras 3 removed it)', () => optimizers.adam({ lr: 0.05 } as never), "unknown option 'lr' for optimizers.adam; did you mean 'learningRate'?"],
    ['sgd', () => optimizers.sgd({ momentun: 0.9 } as never), "unknown option 'momentun' for optimizers.sgd; did you mean 'momentum'?"],
    ['adamw', () => optimizers.adamw({ beta_1: 0.8 } as never), "unknown option 'beta_1' for optimizers.adamw; did you mean 'beta1'?"],
    ['schedule', () => schedules.exponentialDecay({ initialLearningRate: 0.1, decayStep: 10, decayRate: 0.9 } as never), "unknown option 'decayStep' for schedules.exponentialDecay; did you mean 'decaySteps'?"],
    ['earlyStopping', () => callbacks.earlyStopping({ patiance: 2 } as never), "unknown option 'patiance' for callbacks.earlyStopping; did you mean 'patience'?"],
    ['reduceLROnPlateau', () => callbacks.reduceLROnPlateau({ min_lr: 1e-5 } as never), "unknown option 'min_lr' for callbacks.reduceLROnPlateau; did you mean 'minLr'?"],
    ['modelCheckpoint', () => callbacks.modelCheckpoint({ filepath: 'a', saveBest: true } as never), "unknown option 'saveBest' for callbacks.modelCheckpoint; did you mean 'saveBestOnly'?"],
    ['progress', () => callbacks.progress({ everyStep: 2 } as never), "unknown option 'everyStep' for callbacks.progress; did you mean 'everySteps'?"],
    ['compile', () => net().compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metric: ['accuracy'] } as never), "unknown option 'metric' for compile; did you mean 'metrics'?"],
    ['evaluate', () => net().evaluate(xt, yt, { batch_size: 4 } as never), "unknown option 'batch_size' for evaluate; did you mean 'batchSize'?"],
    ['predict', () => net().predict(xt, { batchsize: 4 } as never), "unknown option 'batchsize' for predict; did you mean 'batchSize'?"],
    ['toBytes', () => net().toBytes({ includeOptimiser: true } as never), "unknown option 'includeOptimiser' for toBytes; did you mean 'includeOptimizer'?"],
    ['pytorch import', () => importPytorchSafetensors(new Uint8Array(8), net(), { mappings: {} } as never, 'a.safetensors'), "unknown option 'mappings' for importPytorchSafetensors; did you mean 'mapping'?"],
  ];
  it.each(cases)('%s', (_, f, message) => {
    expect(refusal(f).message).toBe(message);
  });

  it('fit, save and findLearningRate (async)', async () => {
    expect((await refusalAsync(() => net().fit(xt, yt, { epoch: 3 } as never))).message).toBe("unknown option 'epoch' for fit; did you mean 'epochs'?");
    expect((await refusalAsync(() => net().save('/tmp/never.safetensors', { include_optimizer: true } as never))).message).toBe("unknown option 'include_optimizer' for save; did you mean 'includeOptimizer'?");
    expect((await refusalAsync(() => findLearningRate(net(), xt, yt, { maxLR: 1 } as never))).message).toBe("unknown option 'maxLR' for findLearningRate; did you mean 'maxLr'?");
    // A hook fit never calls is refused rather than silently skipped.
    expect((await refusalAsync(() => net().fit(xt, yt, { verbose: 0, callbacks: { onBatchBegin: () => {} } as never }))).message).toMatch(/^unknown option 'onBatchBegin' for fit callbacks; did you mean/);
  });

  it('a key with no near name lists the documented ones', () => {
    expect(refusal(() => optimizers.sgd({ zzzzzzzz: 1 } as never)).message).toBe(
      "unknown option 'zzzzzzzz' for optimizers.sgd (options: learningRate, weightDecay, clipvalue, clipnorm, globalClipnorm, momentum, nesterov)");
  });
});

describe('TF.js call forms', () => {
  it('a number first is the learning rate, then TF.js positional arguments', () => {
    expect(optimizers.adam(0.01).learningRate).toBe(0.01);
    expect(optimizers.sgd(0.1).learningRate).toBe(0.1);
    const a = optimizers.adam(0.02, 0.8, 0.99, 1e-6);
    expect([a.learningRate, a.beta1, a.beta2, a.epsilon]).toEqual([0.02, 0.8, 0.99, 1e-6]);
    const r = optimizers.rmsprop(0.01, 0.95, 0.5, 1e-5, true);
    expect([r.learningRate, r.rho, r.momentum, r.epsilon, r.centered]).toEqual([0.01, 0.95, 0.5, 1e-5, true]);
    expect(optimizers.adagrad(0.3, 0.2).initialAccumulatorValue).toBe(0.2);
    expect(() => optimizers.sgd(0.1, 0.9, false, 3 as never)).toThrow(InvalidArgumentError);
    expect(() => optimizers.adam({ learningRate: 0.1 }, 0.9)).toThrow(InvalidArgumentError);
  });

  it('callbacks as one object of hooks', async () => {
    const { xt, yt } = data(8);
    const seen: number[] = [];
    await net().fit(xt, yt, { epochs: 3, verbose: 0, callbacks: { onEpochEnd: (e) => { seen.push(e); } } });
    expect(seen).toEqual([0, 1, 2]);
  });
});

describe('fit: validationSplit, initialEpoch, verbose', () => {
  afterEach(() => vi.restoreAllMocks());

  it('validationSplit holds out the last floor-complement of the samples, before shuffling (Keras)', async () => {
    const { x, y, xt, yt } = data(10);
    // Keras: split_at = floor(10 * (1 - 0.25)) = 7 training samples, the last 3 for validation.
    const split = await net().fit(xt, yt, { epochs: 3, batchSize: 4, seed: 9, verbose: 0, validationSplit: 0.25 });
    const explicit = await net().fit(tensor(x.slice(0, 28), [7, 4]), tensor(y.slice(0, 7), [7]), {
      epochs: 3, batchSize: 4, seed: 9, verbose: 0, validationData: [tensor(x.slice(28), [3, 4]), tensor(y.slice(7), [3])],
    });
    expect(split.history.val_loss).toHaveLength(3);
    expect(split.history).toEqual(explicit.history);
    expect(split.steps.loss).toEqual(explicit.steps.loss);
    await expect(net().fit(xt, yt, { verbose: 0, validationSplit: 1 })).rejects.toThrow(InvalidArgumentError);
    await expect(net().fit(xt, yt, { verbose: 0, validationSplit: 0.95 })).rejects.toThrow(/leaves no training samples/);
  });

  it('initialEpoch: epochs is the index to stop at (Keras)', async () => {
    const { xt, yt } = data(8);
    const seen: number[] = [];
    const h = await net().fit(xt, yt, { epochs: 3, initialEpoch: 1, verbose: 0, onEpochEnd: (e) => { seen.push(e); } });
    expect(h.epoch).toEqual([1, 2]);
    expect(seen).toEqual([1, 2]);
    expect(h.history.loss).toHaveLength(2);
  });

  it('verbose 2 (and auto off a terminal): one line per epoch; 1: a bar redrawn in place; 0: nothing', async () => {
    const { xt, yt } = data(8);
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { written.push(String(s)); return true; });
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    try {
      Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
      await net().fit(xt, yt, { epochs: 2, batchSize: 4 });
      expect(written).toHaveLength(2);
      expect(written[0]).toMatch(/^Epoch 1\/2 - \d+s - loss: \d\.\d{4} - accuracy: \d\.\d{4}\n$/);
      written.length = 0;
      Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
      await net().fit(xt, yt, { epochs: 1, batchSize: 4 });
      const out = written.join('');
      expect(out).toMatch(/^Epoch 1\/1\n\r1\/2 \[=+\.+\] - ETA: \d+s - loss: \d\.\d{4}/);
      expect(out).toMatch(/\r2\/2 \[={20}\] - \d+s - loss: \d\.\d{4} - accuracy: \d\.\d{4}\n$/);
      written.length = 0;
      await net().fit(xt, yt, { epochs: 2, verbose: 0 });
      expect(written).toEqual([]);
    } finally {
      if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
    await expect(net().fit(xt, yt, { verbose: 3 as never })).rejects.toThrow(/verbose must be 'auto', 0, 1 or 2/);
  });
});

