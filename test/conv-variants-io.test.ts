// Issue 11's convolution and pooling variants outside the kernels: Keras 3 files with Conv2D groups
// and Conv2DTranspose (built by TF.js, imported, predicting what TF.js predicts: the 'same' and
// 'valid' transposed geometry of TF's Conv2DBackpropInput), our own files round-tripping explicit
// pads, ceilMode and countIncludePad (extra config keys), the TF.js export refusing what TF.js
// lacks, strict options, and typed errors naming the layer for impossible geometry.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, layers, loadModel, model, input, sequential, tensor, verifyPlan, type Model } from '../dist/node.js';
import { importKeras } from '../dist/import/keras.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';
import { keras3 } from './support/keras-files';
import { tf, tfl } from './tfjs';
import { groupedConv2dRef } from './reference/conv';

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;

describe('Keras 3 files: Conv2D groups and Conv2DTranspose match TF.js', () => {
  it("imports Conv2DTranspose 'same' and 'valid' (strides 2, even and odd kernels) and predicts as TF.js", async () => {
    const inp = tfl.input({ shape: [5, 4, 3] });
    let h = tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(inp) as tfl.SymbolicTensor;
    h = tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 4, strides: 2, padding: 'same' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.conv2dTranspose({ filters: 3, kernelSize: [2, 3], strides: [2, 1], padding: 'valid', useBias: false }).apply(h) as tfl.SymbolicTensor;
    const tm = tfl.model({ inputs: inp, outputs: h });
    for (const l of tm.layers) l.setWeights(l.getWeights().map((w, i) => tf.tensor(randomArray(w.size, 31 + i), w.shape)));
    const m = await importKeras(keras3(tm), 'transpose.keras');
    expect(m.outputShape).toEqual(tm.outputs[0].shape.slice(1));
    const x = randomArray(2 * 5 * 4 * 3, 3);
    const want = (tm.predict(tf.tensor(x, [2, 5, 4, 3])) as tf.Tensor).dataSync();
    expect(maxAbsDiff(m.predict(tensor(x, [2, 5, 4, 3])).data, want)).toBeLessThan(1e-4);
  });

  it('reads Keras 3 Conv2D groups (kernel [kh, kw, in/groups, filters]) and predicts as the direct twin', async () => {
    // TF.js has no groups: a 2-channel convolution's file, its input widened to 4 channels and groups 2.
    const inp = tfl.input({ shape: [5, 6, 2] });
    const tm = tfl.model({ inputs: inp, outputs: tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }).apply(inp) as tfl.SymbolicTensor });
    const [w, b] = tm.layers[1].getWeights().map((t) => Float32Array.from(t.dataSync()));
    const file = keras3(tm, (config) => {
      for (const l of config.config.layers) {
        if (l.class_name === 'InputLayer') l.config.batch_shape = [null, 5, 6, 4];
        if (l.class_name === 'Conv2D') l.config.groups = 2;
      }
    });
    const m = await importKeras(file, 'grouped.keras');
    const conv = m.layers.find((l) => l.kind === 'conv2d')!;
    expect(conv.config.groups).toBe(2);
    const x = randomArray(2 * 5 * 6 * 4, 9);
    const g = { B: 2, H: 5, W: 6, C: 4, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 5, OW: 6 };
    expect(maxAbsDiff(m.predict(tensor(x, [2, 5, 6, 4])).data, groupedConv2dRef(g, 6, 2, x, w, b))).toBeLessThan(1e-5);
  });
});

// One model with every variant, so that a round trip covers all of their config keys.
function everyVariant(): Model {
  const inp = input({ shape: [9, 8, 4] });
  let h = layers.conv2d({ filters: 6, kernelSize: 3, groups: 2, padding: [[1, 0], [0, 2]], name: 'grouped', activation: 'relu' }).apply(inp);
  h = layers.depthwiseConv2d({ kernelSize: 3, padding: [[0, 1], [1, 1]], name: 'dw' }).apply(h);
  h = layers.maxPooling2d({ poolSize: 3, strides: 2, padding: [[1, 1], [1, 0]], ceilMode: true, name: 'maxp' }).apply(h);
  h = layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: [[1, 1], [0, 1]], outputPadding: [1, 0], name: 'up' }).apply(h);
  h = layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2, padding: 'same', name: 'up_same' }).apply(h);
  h = layers.averagePooling2d({ poolSize: 3, strides: 2, padding: [[1, 1], [1, 1]], ceilMode: true, countIncludePad: true, name: 'avgp' }).apply(h);
  return model({ inputs: inp, outputs: h });
}

describe('our files: explicit pads, ceilMode, countIncludePad, groups and Conv2DTranspose round-trip', () => {
  it('saves and loads every variant with its config and predicts the same', async () => {
    const m = everyVariant();
    const x = tensor(randomArray(2 * 9 * 8 * 4, 4), [2, 9, 8, 4]);
    const back = await loadModel(m.toBytes());
    for (const l of m.layers) expect(back.getLayer(l.name).config, l.name).toEqual(l.config);
    expect(back.outputShape).toEqual(m.outputShape);
    expect(maxAbsDiff(back.predict(x).data, m.predict(x).data)).toBe(0);
  });

  it('plans every variant memory-safely for training, frozen or not', () => {
    for (const freeze of [false, true]) {
      const m = everyVariant();
      if (freeze) m.freeze('dw');
      m.compile({ optimizer: 'adam', loss: 'meanSquaredError', batchSize: 3 });
      expect(verifyPlan(m.plan)).toEqual([]);
      const x = tensor(randomArray(3 * 9 * 8 * 4, 5), [3, 9, 8, 4]);
      expect(Number.isFinite(m.trainOnBatch(x, tensor(randomArray(3 * sizeOf(m.outputShape), 6), [3, ...m.outputShape])).loss)).toBe(true);
    }
  });

  it('refuses a TF.js layers export (edgetune convert) of what TF.js lacks, naming the layer; writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-conv-'));
    const convert = async (l: ReturnType<typeof layers.conv2d>) => {
      const file = join(dir, `${l.name}.safetensors`);
      await sequential([l], { inputShape: [6, 6, 4] }).save(file);
      const r = spawnSync(process.execPath, [CLI, 'convert', file, join(dir, `${l.name}-tfjs`)], { encoding: 'utf8' });
      return { code: r.status, stderr: r.stderr, wrote: existsSync(join(dir, `${l.name}-tfjs`, 'model.json')) };
    };
    const cases: [ReturnType<typeof layers.conv2d>, RegExp][] = [
      [layers.conv2d({ filters: 4, kernelSize: 3, groups: 2, name: 'g2' }), /'g2' \(Conv2D\) uses groups 2/],
      [layers.maxPooling2d({ poolSize: 2, padding: [[1, 0], [1, 0]], name: 'mp' }), /'mp' \(MaxPooling2D\) uses explicit padding \[\[1,0\],\[1,0\]\]/],
      [layers.averagePooling2d({ poolSize: 2, ceilMode: true, countIncludePad: true, name: 'ap' }), /'ap' \(AveragePooling2D\) uses ceilMode, countIncludePad/],
      [layers.conv2dTranspose({ filters: 2, kernelSize: 3, padding: [[1, 1], [1, 1]], name: 'tp' }), /'tp' \(Conv2DTranspose\) uses explicit padding/],
    ];
    for (const [l, message] of cases) {
      const r = await convert(l);
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.wrote).toBe(false);
    }
    const ok = await convert(layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', name: 'tsame' }));
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('options are strict and impossible geometry is a typed error naming the layer', () => {
  it('refuses unknown and misplaced options', () => {
    expect(() => layers.conv2dTranspose({ filters: 2, kernelSize: 3, ceilMode: true } as never)).toThrow(InvalidArgumentError);
    expect(() => layers.conv2dTranspose({ filters: 2, kernelSize: 3, groups: 0, name: 't' })).toThrow(/t: groups must be a positive integer/);
    expect(() => layers.maxPooling2d({ poolSize: 2, countIncludePad: true } as never)).toThrow(InvalidArgumentError);
    expect(() => layers.averagePooling2d({ poolSize: 2, ceilMode: 1 as never, name: 'ap' })).toThrow(/ap: ceilMode must be true or false/);
    expect(() => layers.conv2d({ filters: 2, kernelSize: 3, groups: 0, name: 'c' })).toThrow(/c: groups must be a positive integer/);
    expect(() => layers.conv2d({ filters: 2, kernelSize: 3, padding: [[1, -1], [0, 0]], name: 'c' })).toThrow(/c: explicit padding must be \[\[top, bottom\], \[left, right\]\]/);
    expect(() => layers.depthwiseConv2d({ kernelSize: 3, padding: [[1, 1]] as never, name: 'd' })).toThrow(/d: explicit padding must be/);
  });

  it('refuses geometry no framework computes', () => {
    const build = (l: ReturnType<typeof layers.conv2d>, shape = [6, 6, 4]) => () => sequential([l], { inputShape: shape });
    expect(build(layers.conv2d({ filters: 6, kernelSize: 3, groups: 3, name: 'g' }))).toThrow(/layer g \(conv2d\): groups 3 must divide the input channels \(4\) and filters \(6\)/);
    expect(build(layers.conv2d({ filters: 3, kernelSize: 3, groups: 2, name: 'g' }))).toThrow(InvalidArgumentError);
    expect(() => layers.maxPooling2d({ poolSize: 2, padding: [[2, 0], [0, 0]], name: 'mp' })).toThrow(/mp: explicit padding \[\[2,0\],\[0,0\]\] must be smaller than poolSize \[2,2\]/);
    expect(() => layers.averagePooling2d({ poolSize: 2, padding: 'same', ceilMode: true, name: 'ap' })).toThrow(/ap: ceilMode needs 'valid' or explicit padding/);
    expect(() => layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, outputPadding: 2, name: 't' })).toThrow(/t: outputPadding must be non-negative integers below the strides/);
    // 'same' with an even kernel and no output padding: ceil(out/s) != in, which TF refuses too.
    expect(build(layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2, padding: 'same', outputPadding: 0, name: 't' }))).toThrow(/layer t \(conv2dTranspose\): .* give no valid output size for input \[6, 6\]/);
    expect(build(layers.conv2dTranspose({ filters: 2, kernelSize: 3, padding: [[3, 3], [0, 0]], name: 't' }), [2, 2, 1])).toThrow(InvalidArgumentError);
    expect(build(layers.conv2d({ filters: 2, kernelSize: 5, padding: [[1, 0], [0, 0]], name: 'c' }), [3, 3, 1])).toThrow(/layer c \(conv2d\): kernelSize \[5, 5\]/);
  });

  it('computes the output shapes of the Keras and PyTorch formulas', () => {
    const shape = (l: ReturnType<typeof layers.conv2d>, s: number[]) => sequential([l], { inputShape: s }).outputShape;
    expect(shape(layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2 }), [4, 5, 1])).toEqual([9, 11, 2]); // I*s + max(k - s, 0)
    expect(shape(layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' }), [4, 5, 1])).toEqual([8, 10, 2]);
    expect(shape(layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: [[1, 1], [1, 1]], outputPadding: 1 }), [4, 5, 1])).toEqual([8, 10, 2]);
    expect(shape(layers.conv2d({ filters: 2, kernelSize: 1, padding: [[0, 1], [2, 0]] }), [4, 5, 1])).toEqual([5, 7, 2]);
    expect(shape(layers.maxPooling2d({ poolSize: 3, strides: 2, padding: [[1, 1], [1, 1]], ceilMode: true }), [8, 7, 1])).toEqual([5, 4, 1]);
    expect(sizeOf(shape(layers.maxPooling2d({ poolSize: 3, strides: 2, padding: [[1, 1], [1, 1]] }), [8, 7, 1]))).toBe(4 * 4);
  });
});
