// Values that used to be accepted and silently changed into something else (an i32 that wraps, an
// f32 that becomes Infinity, a string read as true, a NaN weight, a shape that does not match its
// data) are refused with a typed error that names what was wrong.
import { describe, expect, it } from 'vitest';
import {
  layers, sequential, optimizers, schedules, tensor, loadModel, readSafetensors, writeSafetensors, importOnnx, importTfjsLayersModel,
  InvalidArgumentError, ModelFormatError, ShapeError, type Model, type Tensor,
} from '../dist/node.js';
// @ts-expect-error: plain JavaScript module without types
import { node, onnxModel, tensor as onnxTensor, valueInfo } from '../scripts/onnx-writer.mjs';

function trained(): Model {
  const m = sequential([layers.dense(4, { inputShape: [3], name: 'd' }), layers.dense(2, { activation: 'softmax', name: 'head' })]);
  m.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: 2 });
  return m;
}
const x = tensor(Float32Array.from([0.1, 0.2, 0.3, -0.4, 0.5, -0.6]), [2, 3]);
const y = tensor(Int32Array.from([0, 1]), [2]);

// A saved model with one metadata entry rewritten.
function rewritten(bytes: Uint8Array, key: string, edit: (value: any) => any): Uint8Array {
  const file = readSafetensors(bytes);
  const metadata = { ...file.metadata, [key]: JSON.stringify(edit(JSON.parse(file.metadata[key]))) };
  return writeSafetensors([...file.tensors.values()], metadata);
}

describe('optimizer_state.iterations must fit the i32 step counter', () => {
  for (const iterations of [2 ** 31, 2 ** 31 - 1, 2 ** 32 + 8]) {
    it(`iterations ${iterations} is refused (it would wrap)`, async () => {
      const m = trained();
      await m.fit(x, y, { epochs: 1, batchSize: 2 });
      const bytes = rewritten(m.toBytes({ includeOptimizer: true }), 'optimizer_state', (s) => ({ ...s, iterations }));
      const e = await loadModel(bytes).catch((err) => err);
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(new RegExp(`optimizer_state' iterations is ${iterations}; it must be an integer from 0 to 2147483646`));
    });
  }

  it('the largest allowed count loads and the next step is t = 2^31 - 1', async () => {
    const m = trained();
    await m.fit(x, y, { epochs: 1, batchSize: 2 });
    const bytes = rewritten(m.toBytes({ includeOptimizer: true }), 'optimizer_state', (s) => ({ ...s, iterations: 2 ** 31 - 2 }));
    const loaded = await loadModel(bytes);
    expect(loaded.iterations).toBe(2 ** 31 - 2);
    loaded.trainOnBatch(x, y);
    expect(loaded.iterations).toBe(2 ** 31 - 1);
  });

  it('a learning rate that is Infinity in f32 is refused in optimizer_state', async () => {
    const m = trained();
    const bytes = rewritten(m.toBytes({ includeOptimizer: true }), 'optimizer_state', (s) => ({ ...s, base_learning_rate: 1e39 }));
    await expect(loadModel(bytes)).rejects.toThrow(/base_learning_rate is 1e\+39 \(Infinity as f32, the kernels' precision\)/);
  });
});

describe('hyperparameters must stay what they are in f32', () => {
  it('learning rates, epsilons, clip values and decay that overflow or vanish in f32 are refused', () => {
    // f32 max is 3.4028234663852886e38; 1e39 rounds to Infinity, 1e-46 to 0.
    const cases: [() => unknown, RegExp][] = [
      [() => optimizers.sgd({ learningRate: 1e39 }), /sgd learningRate must be a positive number, got 1e\+39 \(Infinity as f32/],
      [() => optimizers.adam({ learningRate: 1e-46 }), /adam learningRate must be a positive number, got 1e-46 \(0 as f32/],
      [() => optimizers.adam({ epsilon: 4e38 }), /adam epsilon must be a positive number, got 4e\+38/],
      [() => optimizers.sgd({ clipnorm: 1e39 }), /sgd clipnorm must be a positive number/],
      [() => optimizers.adamw({ weightDecay: 1e39 }), /adamw weightDecay must be a non-negative number/],
      // 1 - 1e-9 is 1 in f32: Adam's bias correction 1 - beta^t would be 0.
      [() => optimizers.adam({ beta1: 1 - 1e-9 }), /adam beta1 must be in \[0, 1\), got 0\.999999999 \(1 as f32/],
      [() => optimizers.sgd({ momentum: 1 - 1e-9 }), /sgd momentum must be in \[0, 1\)/],
      [() => schedules.exponentialDecay({ initialLearningRate: 1e39, decaySteps: 10, decayRate: 0.9 }), /initialLearningRate must be a positive number, got 1e\+39/],
    ];
    for (const [make, message] of cases) {
      expect(make).toThrow(InvalidArgumentError);
      expect(make).toThrow(message);
    }
    // The largest f32 is still accepted.
    expect(optimizers.sgd({ learningRate: 3.4028234663852886e38 }).learningRate).toBe(3.4028234663852886e38);
  });

  it('model.learningRate = 1e39 is refused and the rate is unchanged', () => {
    const m = trained();
    expect(() => { m.learningRate = 1e39; }).toThrow(InvalidArgumentError);
    expect(() => { m.learningRate = 1e39; }).toThrow(/learning rate must be a positive number, got 1e\+39 \(Infinity as f32/);
    expect(m.learningRate).toBe(Math.fround(0.01));
  });
});

describe('boolean options must be booleans', () => {
  it('layers refuse trainable, useBias, center and scale that are not true or false', () => {
    expect(() => layers.dense(2, { trainable: 'abc' as unknown as boolean })).toThrow(/trainable must be true or false, got "abc"/);
    expect(() => layers.dense(2, { useBias: [1] as unknown as boolean })).toThrow(InvalidArgumentError);
    expect(() => layers.conv2d({ filters: 2, kernelSize: 1, useBias: 1 as unknown as boolean })).toThrow(/useBias must be true or false, got 1/);
    expect(() => layers.batchNormalization({ center: 'no' as unknown as boolean })).toThrow(/center must be true or false, got "no"/);
    expect(() => layers.batchNormalization({ scale: null as unknown as boolean })).toThrow(/scale must be true or false, got null/);
  });

  for (const [field, value, message] of [
    ['trainable', 'abc', /layer 'd' \(Dense\): d: trainable must be true or false, got "abc"/],
    ['use_bias', [1, 2], /layer 'd' \(Dense\): d: useBias must be true or false, got \[1,2\]/],
  ] as const) {
    it(`a safetensors topology with ${field}: ${JSON.stringify(value)} is a ModelFormatError naming the layer`, async () => {
      const bytes = rewritten(trained().toBytes(), 'topology', (t) => {
        t.config.layers[0].config[field] = value;
        return t;
      });
      const e = await loadModel(bytes).catch((err) => err);
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(message);
    });

    it(`a Keras config (TF.js layers model.json) with ${field}: ${JSON.stringify(value)} is a ModelFormatError naming the layer`, async () => {
      const modelJson = {
        modelTopology: {
          class_name: 'Sequential',
          config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd', units: 2, batch_input_shape: [null, 3], [field]: value } }] },
        },
        weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'd/kernel', shape: [3, 2], dtype: 'float32' }, { name: 'd/bias', shape: [2], dtype: 'float32' }] }],
      };
      const e = await importTfjsLayersModel(modelJson, async () => new Uint8Array(32), 'model.json').catch((err) => err);
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(message);
    });
  }
});

describe('ONNX initializers must be finite', () => {
  const mlp = (bias: number[]) => onnxModel({
    nodes: [node('Gemm', ['x', 'fc.weight', 'fc.bias'], ['z'], { transB: 1 }, '/fc/Gemm')],
    initializers: [onnxTensor('fc.weight', [2, 3], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), onnxTensor('fc.bias', [2], bias)],
    inputs: [valueInfo('x', ['N', 3])],
    outputs: [valueInfo('z', ['N', 2])],
  });

  it('a finite model imports (the control)', () => {
    expect(importOnnx(mlp([0.5, -0.5]), 'ok.onnx').predict(tensor(new Float32Array(3).fill(1), [1, 3])).data[0]).toBeCloseTo(0.1 + 0.2 + 0.3 + 0.5, 6);
  });

  for (const bad of [NaN, Infinity, -Infinity]) {
    it(`a ${bad} in an initializer is a ModelFormatError naming the file, the initializer and the element`, () => {
      const e = (() => { try { importOnnx(mlp([0.5, bad]), 'bad.onnx'); } catch (err) { return err; } return null; })() as ModelFormatError;
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(new RegExp(`^bad\\.onnx: initializer 'fc\\.bias' \\(dims \\[2\\]\\) has a non-finite value \\(${String(bad).replace('-', '\\-')}\\) at element 1$`));
      expect(e.tensor).toBe('fc.bias');
    });
  }
});

describe('a tensor record whose data does not fill its shape', () => {
  const short = { data: new Float32Array(2), shape: [2, 4] } as Tensor;
  it('is refused by predict, fit, evaluate and trainOnBatch', async () => {
    const m = sequential([layers.dense(2, { inputShape: [4] })]);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 2 });
    const targets = tensor(new Float32Array(4), [2, 2]);
    expect(() => m.predict(short)).toThrow(ShapeError);
    expect(() => m.predict(short)).toThrow(/^predict inputs: tensor of shape \[2,4\] needs 8 values, got 2$/);
    await expect(m.fit(short, targets)).rejects.toThrow(/^fit inputs: tensor of shape \[2,4\] needs 8 values, got 2$/);
    expect(() => m.evaluate(short, targets)).toThrow(ShapeError);
    expect(() => m.trainOnBatch(short, targets)).toThrow(ShapeError);
  });

  it('labels whose data does not fill their shape are refused too', async () => {
    const m = trained();
    await expect(m.fit(x, { data: new Int32Array(1), shape: [2] } as Tensor)).rejects.toThrow(/^fit labels: tensor of shape \[2\] needs 2 values, got 1$/);
    expect(() => m.predict({ data: [1, 2, 3] as unknown as Float32Array, shape: [1, 3] })).toThrow(InvalidArgumentError);
  });
});
