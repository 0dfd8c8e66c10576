// Keras .keras (Keras 3 zip) and legacy .h5 files, written with h5wasm following the documented
// layouts (test/support/keras-files.ts): the imported model must predict what TF.js predicts with
// the same topology and weights.
import { describe, expect, it } from 'vitest';
import { ModelFormatError, tensor, UnsupportedOpError } from '../dist/node.js';
import { importKeras } from '../dist/import/keras.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';
import { h5, keras3, legacyH5, zip } from './support/keras-files';
import { tf, tfl } from './tfjs';

function nets(): [string, tfl.LayersModel, number[]][] {
  const seq = tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [10, 10, 2], filters: 6, kernelSize: 3, activation: 'relu' }),
    tfl.layers.batchNormalization(),
    tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }),
    tfl.layers.separableConv2d({ filters: 5, kernelSize: 3, activation: 'relu' }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 7, activation: 'tanh' }),
    tfl.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  const inp = tfl.input({ shape: [8, 8, 3] });
  const a = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(inp) as tfl.SymbolicTensor;
  const s = tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor;
  const gate = tfl.layers.multiply().apply([s, b]) as tfl.SymbolicTensor;
  const padded = tfl.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]] }).apply(gate) as tfl.SymbolicTensor;
  const c = tfl.layers.concatenate().apply([padded, tfl.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]] }).apply(a) as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
  const g = tfl.layers.globalAveragePooling2d({}).apply(c) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 4, activation: 'softmax' }).apply(g) as tfl.SymbolicTensor;
  const fn = tfl.model({ inputs: inp, outputs: out });
  for (const m of [seq, fn]) {
    let seed = 1;
    for (const w of m.weights) {
      const v = w.read();
      const noise = tf.mul(tf.tensor(randomArray(v.size, seed++), v.shape), 0.3);
      (w as any).write(w.name.includes('moving_variance') ? tf.add(v, tf.abs(noise)) : tf.add(v, noise));
    }
  }
  return [['sequential', seq, [10, 10, 2]], ['functional', fn, [8, 8, 3]]];
}


describe.each(nets())('%s Keras model', (_, m, shape) => {
  it.each([['.keras', keras3], ['.h5', legacyH5]] as const)('%s matches TF.js on the same topology and weights (batch 1 and 8)', async (ext, write) => {
    const model = await importKeras(write(m), `model${ext}`);
    for (const batch of [1, 8]) {
      const x = randomArray(batch * shape.reduce((a, b) => a * b, 1), batch + 3);
      const ours = model.predict(tensor(x, [batch, ...shape])).data;
      const theirs = (m.predict(tf.tensor(x, [batch, ...shape])) as tf.Tensor).dataSync();
      expect(ours.length).toBe(theirs.length);
      expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-4);
    }
  });
});

describe('Keras import: bad files', () => {
  const [[, seq]] = nets();
  it('names the file and the weight for a wrong shape or a missing weight; rejects other files', async () => {
    const good = keras3(seq);
    const wrong = h5((_f, group) => {
      group('layers/conv2d/vars').create_dataset({ name: '0', data: new Float32Array(3 * 3 * 2 * 5), shape: [3, 3, 2, 5], dtype: '<f' });
    });
    const entries = { 'config.json': new TextEncoder().encode(JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers: [
      { class_name: 'InputLayer', config: { batch_shape: [null, 10, 10, 2], name: 'in' } },
      { class_name: 'Conv2D', config: { name: 'conv', filters: 6, kernel_size: [3, 3], use_bias: false } },
    ] } })), 'model.weights.h5': wrong };
    const err = await importKeras(zip(entries), 'w.keras').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toBe("w.keras/model.weights.h5: weight 'layers/conv2d/vars/0' has shape [3,3,2,5], but layer 'conv' (Conv2D) expects 'kernel' of shape [3,3,2,6]");
    const noWeights = zip({ 'config.json': entries['config.json'], 'model.weights.h5': h5(() => {}) });
    await expect(importKeras(noWeights, 'n.keras')).rejects.toThrow("n.keras/model.weights.h5: no weight for layer 'conv' (Conv2D) 'kernel' [3,3,2,6]");
    await expect(importKeras(good.subarray(0, good.length - 30), 't.keras')).rejects.toThrow(/t\.keras: (truncated zip|corrupt zip)/);
    await expect(importKeras(new Uint8Array(100), 'x.bin')).rejects.toThrow('x.bin: neither a .keras zip nor an HDF5 (.h5) file');
    const lstm = zip({ 'config.json': new TextEncoder().encode(JSON.stringify({ class_name: 'Sequential', config: { layers: [
      { class_name: 'InputLayer', config: { batch_shape: [null, 4, 4], name: 'in' } }, { class_name: 'LSTM', config: { name: 'rnn', units: 3 } }] } })), 'model.weights.h5': h5(() => {}) });
    await expect(importKeras(lstm, 'u.keras')).rejects.toThrow(UnsupportedOpError);
  });
});
