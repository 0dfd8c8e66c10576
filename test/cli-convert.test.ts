// The built CLI (node dist/cli.js) on temp dirs: ONNX -> safetensors checked against
// onnxruntime-web; safetensors -> TF.js layers model checked by TF.js loading it and predicting the
// same outputs (float32 and float16); a real TF.js graph model through both steps; inspect's numbers;
// and bad input: a typed error naming file and node, nothing written.
import h5wasm from 'h5wasm';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layers, loadModel, sequential, tensor, type Model } from '../dist/node.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';
import { badGemmWeight, normalizedInput, pytorchCnn, pytorchMlp, withNode } from './onnx-models';
import { ortRun, toNhwc } from './ort';
import { tf, tfl } from './tfjs';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// TF.js reads the directory's model.json and shards through an in-memory handler (tfjs-node's
// file:// loader is not installed), exactly the bytes the CLI wrote.
async function tfjsLoad(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const group = json.weightsManifest[0];
  const parts = group.paths.map((p: string) => readFileSync(join(dir, p)));
  const data = new Uint8Array(parts.reduce((n: number, p: Buffer) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { data.set(p, at); at += p.length; }
  return tfl.loadLayersModel({
    load: async () => ({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData: data.buffer, format: json.format }),
  });
}

const tmp = () => mkdtempSync(join(tmpdir(), 'edgetune-cli-'));

// A legacy Keras 2 .h5 of a TF.js model (model_config attribute, model_weights/<layer>/<layer>/
// <weight>:0), written with h5wasm as test/import-keras.test.ts does.
async function legacyH5(m: tfl.LayersModel): Promise<Uint8Array> {
  const { FS } = await h5wasm.ready;
  const path = '/cli-test.h5';
  const f = new h5wasm.File(path, 'w');
  f.create_attribute('model_config', JSON.stringify(m.toJSON(undefined, false)));
  f.create_attribute('keras_version', '2.15.0');
  const root = f.create_group('model_weights')!;
  root.create_attribute('layer_names', m.layers.map((l) => l.name));
  for (const l of m.layers) {
    const g = root.create_group(l.name)!;
    const names = l.weights.map((w) => `${l.name}/${w.name.split('/').pop()}:0`);
    if (!names.length) continue;
    g.create_attribute('weight_names', names);
    const inner = g.create_group(l.name)!;
    l.getWeights().forEach((w, i) => inner.create_dataset({ name: names[i].split('/').pop()!, data: w.dataSync() as Float32Array, shape: w.shape, dtype: '<f' }));
  }
  f.close();
  const bytes = FS.readFile(path) as Uint8Array;
  FS.unlink(path);
  return bytes;
}

describe('edgetune convert', () => {
  it('ONNX -> safetensors matches onnxruntime-web; -> TF.js layers (float32 and float16) matches TF.js', async () => {
    const dir = tmp();
    const onnx = join(dir, 'cnn.onnx');
    const bytes = pytorchCnn();
    writeFileSync(onnx, bytes);
    const r = cli('convert', onnx, join(dir, 'cnn.safetensors'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = await loadModel(join(dir, 'cnn.safetensors'));
    const n = 8;
    const x = randomArray(n * 3 * 12 * 12, 8);
    const xs = tensor(toNhwc(x, n, 3, 12, 12), [n, 12, 12, 3]);
    const ours = m.predict(xs).data;
    expect(maxAbsDiff(ours, (await ortRun(bytes, x, [n, 3, 12, 12])).data)).toBeLessThan(1e-4);

    expect(cli('convert', join(dir, 'cnn.safetensors'), join(dir, 'tfjs32')).code).toBe(0);
    const t32 = await tfjsLoad(join(dir, 'tfjs32'));
    expect(maxAbsDiff((t32.predict(tf.tensor(xs.data, xs.shape)) as tf.Tensor).dataSync(), ours)).toBeLessThan(1e-4);

    // and back: the TF.js layers model -> safetensors (the TF.js layers importer) predicts the same
    expect(cli('convert', join(dir, 'tfjs32', 'model.json'), join(dir, 'back.safetensors')).code).toBe(0);
    expect(maxAbsDiff((await loadModel(join(dir, 'back.safetensors'))).predict(xs).data, ours)).toBeLessThan(1e-6);

    // float16: TF.js on the half weights agrees with our model on the same half weights
    expect(cli('convert', join(dir, 'cnn.safetensors'), join(dir, 'tfjs16', 'model.json'), '--quantize', 'float16').code).toBe(0);
    expect(cli('convert', join(dir, 'cnn.safetensors'), join(dir, 'cnn16.safetensors'), '--quantize=float16').code).toBe(0);
    const size = (d: string) => readdirSync(d).filter((f) => f.endsWith('.bin')).reduce((s, f) => s + statSync(join(d, f)).size, 0);
    expect(size(join(dir, 'tfjs16')) * 2).toBe(size(join(dir, 'tfjs32')));
    // the safetensors weights halve too (the header, with the topology, stays)
    const saved = statSync(join(dir, 'cnn.safetensors')).size - statSync(join(dir, 'cnn16.safetensors')).size;
    expect(saved / size(join(dir, 'tfjs32'))).toBeGreaterThan(0.45);
    expect(saved / size(join(dir, 'tfjs32'))).toBeLessThan(0.55);
    const m16 = await loadModel(join(dir, 'cnn16.safetensors'));
    const ours16 = m16.predict(xs).data;
    const t16 = await tfjsLoad(join(dir, 'tfjs16'));
    expect(maxAbsDiff((t16.predict(tf.tensor(xs.data, xs.shape)) as tf.Tensor).dataSync(), ours16)).toBeLessThan(1e-4);
    expect(maxAbsDiff(ours16, ours)).toBeGreaterThan(0); // the weights really were rounded
    expect(maxAbsDiff(ours16, ours)).toBeLessThan(1e-2);
  });

  it('a real TF.js graph model (emotion) -> safetensors -> TF.js layers, batch 1 and 8', async () => {
    const dir = tmp();
    const r = cli('convert', join(MODELS, 'emotion.json'), join(dir, 'emotion.safetensors'), '--progress');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/100%/); // the progress bar, asked for
    expect(cli('convert', join(dir, 'emotion.safetensors'), join(dir, 'emotion-tfjs')).code).toBe(0);
    const m: Model = await loadModel(join(dir, 'emotion.safetensors'));
    const t = await tfjsLoad(join(dir, 'emotion-tfjs'));
    for (const n of [1, 8]) {
      const x = tensor(randomArray(n * 64 * 64, 40 + n, 0, 1), [n, 64, 64, 1]);
      const ours = m.predict(x).data;
      expect(maxAbsDiff((t.predict(tf.tensor(x.data, x.shape)) as tf.Tensor).dataSync(), ours), `batch ${n}`).toBeLessThan(1e-4);
    }
  });

  it('a legacy Keras .h5 -> safetensors matches TF.js on the same model', async () => {
    const dir = tmp();
    const km = tfl.sequential({ layers: [tfl.layers.dense({ units: 8, activation: 'relu', inputShape: [5], name: 'hidden' }), tfl.layers.dense({ units: 3, activation: 'softmax', name: 'probs' })] });
    writeFileSync(join(dir, 'model.h5'), await legacyH5(km));
    const r = cli('convert', join(dir, 'model.h5'), join(dir, 'model.safetensors'));
    expect(r.code, r.stderr).toBe(0);
    const m = await loadModel(join(dir, 'model.safetensors'));
    const x = randomArray(8 * 5, 12);
    expect(maxAbsDiff(m.predict(tensor(x, [8, 5])).data, (km.predict(tf.tensor(x, [8, 5])) as tf.Tensor).dataSync())).toBeLessThan(1e-5);
  });

  it('TF.js export: a scalar rescaling becomes config; layers TF.js cannot hold are refused by name, nothing written', async () => {
    const dir = tmp();
    const m = sequential([layers.rescaling(1 / 255, { offset: -0.5, inputShape: [6], name: 'scale_pixels' }), layers.dense(3, { name: 'out' })]);
    await m.save(join(dir, 'r.safetensors'));
    expect(cli('convert', join(dir, 'r.safetensors'), join(dir, 'r-tfjs')).code).toBe(0);
    const x = tensor(randomArray(4 * 6, 5, 0, 255), [4, 6]);
    const t = await tfjsLoad(join(dir, 'r-tfjs'));
    expect(maxAbsDiff((t.predict(tf.tensor(x.data, x.shape)) as tf.Tensor).dataSync(), m.predict(x).data)).toBeLessThan(1e-5);
    writeFileSync(join(dir, 'norm.onnx'), normalizedInput());
    const r = cli('convert', join(dir, 'norm.onnx'), join(dir, 'norm-tfjs'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/norm\.onnx: layer '(Sub|Div)' \(Rescaling\) has per-channel constants/);
    expect(readdirSync(dir).sort()).toEqual(['norm.onnx', 'r-tfjs', 'r.safetensors']);
  });

  it('bad input: a typed error naming file and node or tensor; nothing written', () => {
    const dir = tmp();
    const cases: [Uint8Array, RegExp[]][] = [
      [withNode('LpNormalization'), [/node 'my_lpnormalization'/, /'LpNormalization'/]],
      [withNode('Relu', {}, ['N', 'features']), [/input 'x'/, /dynamic shape/]],
      [badGemmWeight(), [/node 'fc' \(Gemm\)/, /weight 'W'/]],
    ];
    cases.forEach(([bytes, patterns], i) => {
      const input = join(dir, `bad${i}.onnx`);
      writeFileSync(input, bytes);
      const r = cli('convert', input, join(dir, `out${i}.safetensors`));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(input);
      for (const p of patterns) expect(r.stderr).toMatch(p);
      const r2 = cli('convert', input, join(dir, `out${i}-tfjs`));
      expect(r2.code).toBe(1);
    });
    expect(readdirSync(dir).sort()).toEqual(['bad0.onnx', 'bad1.onnx', 'bad2.onnx']);
    const missing = cli('convert', join(dir, 'nope.onnx'), join(dir, 'x.safetensors'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.onnx');
  });
});

describe('edgetune convert --quantize int8', () => {
  it('quantizes the frozen base of the bundled CNN to I8 kernels, inspect shows them; nothing frozen is refused and nothing written', () => {
    const dir = tmp();
    const base = new URL('../models/mnist-cnn-base-0to4.safetensors', import.meta.url).pathname;
    const out = join(dir, 'base-int8.safetensors');
    const r = cli('convert', base, out, '--quantize', 'int8', '--freeze', 'base_conv_2');
    expect(r.code, r.stderr).toBe(0);
    // Keras's default config: the inputs of base_conv_2 (32 filters, 3x3x16 patches) are quantized
    // too; base_conv_1's (3x3x1 patches, 144 products each) stay f32 (docs/int8.md "Which layers")
    expect(r.stdout).toMatch(/int8 kernels in base_conv_1, base_conv_2 \(absmax inputs in 1 of them\), float32 otherwise/);
    expect(readFileSync(base).length - readFileSync(out).length).toBeGreaterThan(3 * (144 + 4608) - 512);
    const j = JSON.parse(cli('inspect', out, '--json').stdout);
    expect(j.layers.filter((l: { int8: boolean }) => l.int8).map((l: { name: string }) => l.name)).toEqual(['base_conv_1', 'base_conv_2']);
    expect(j.layers.filter((l: { activationQuantizer?: string }) => l.activationQuantizer === 'absmax').map((l: { name: string }) => l.name)).toEqual(['base_conv_2']);
    expect(cli('inspect', out).stdout).toMatch(/base_conv_2 \(conv2d\) .* frozen, int8 absmax/);
    expect(cli('inspect', out).stdout).toMatch(/base_conv_1 \(conv2d\) .* frozen, int8\s/);
    const bad = cli('convert', base, join(dir, 'none.safetensors'), '--quantize', 'int8');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no frozen dense, conv2d or depthwiseConv2d layer to quantize/);
    expect(readdirSync(dir)).toEqual(['base-int8.safetensors']);
  });

  it('--activation-quantizer absmax (every conv2d) or none (weight-only): saved and shown; a bad value refused', () => {
    const dir = tmp();
    const base = new URL('../models/mnist-cnn-base-0to4.safetensors', import.meta.url).pathname;
    const plain = join(dir, 'base-weight-only.safetensors');
    const w = cli('convert', base, plain, '--quantize', 'int8', '--freeze', 'base_conv_2', '--activation-quantizer', 'none');
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/int8 kernels in base_conv_1, base_conv_2 \(weight-only\), float32 otherwise/);
    const jw = JSON.parse(cli('inspect', plain, '--json').stdout);
    expect(jw.layers.filter((l: { int8: boolean }) => l.int8).map((l: { name: string }) => l.name)).toEqual(['base_conv_1', 'base_conv_2']);
    expect(jw.layers.some((l: { activationQuantizer?: string }) => l.activationQuantizer !== undefined)).toBe(false);
    expect(cli('inspect', plain).stdout).not.toMatch(/int8 absmax/);
    const out = join(dir, 'base-absmax.safetensors');
    const r = cli('convert', base, out, '--quantize', 'int8', '--freeze', 'base_conv_2', '--activation-quantizer', 'absmax');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/int8 kernels in base_conv_1, base_conv_2 \(absmax inputs in 2 of them\)/);
    const j = JSON.parse(cli('inspect', out, '--json').stdout);
    expect(j.layers.filter((l: { activationQuantizer?: string }) => l.activationQuantizer === 'absmax').map((l: { name: string }) => l.name)).toEqual(['base_conv_1', 'base_conv_2']);
    expect(cli('inspect', out).stdout).toMatch(/base_conv_2 \(conv2d\) .* frozen, int8 absmax/);
    const bad = cli('convert', base, join(dir, 'bad.safetensors'), '--quantize', 'int8', '--freeze', 'base_conv_2', '--activation-quantizer', 'minmax');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--activation-quantizer takes default, absmax or none, with --quantize int8; got 'minmax'/);
    const alone = cli('convert', base, join(dir, 'alone.safetensors'), '--activation-quantizer', 'absmax');
    expect(alone.stderr).toMatch(/without --quantize int8/);
    expect(readdirSync(dir).sort()).toEqual(['base-absmax.safetensors', 'base-weight-only.safetensors']);
  });
});

describe('edgetune inspect', () => {
  it('layers, parameters and the planned arenas, with freezing', () => {
    const dir = tmp();
    const input = join(dir, 'mlp.onnx');
    writeFileSync(input, pytorchMlp());
    const r = cli('inspect', input, '--batch', '4', '--freeze', 'fc1', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.layers.map((l: { name: string }) => l.name)).toEqual(['fc1', 'relu', 'fc2', 'Softmax']);
    expect(j.layers.map((l: { outputShape: number[] }) => l.outputShape)).toEqual([[16], [16], [4], [4]]);
    // fc1: 12*16 + 16, fc2: 16*4 + 4
    expect(j.params).toEqual({ total: 12 * 16 + 16 + 16 * 4 + 4, trainable: 16 * 4 + 4, nonTrainable: 12 * 16 + 16 });
    expect(j.inference.breakdown.gradients).toBe(0);
    // gradients of fc2 only: kernel 64 floats, bias 4 floats padded to 16 bytes
    expect(j.training.batch).toBe(4);
    expect(j.training.breakdown.gradients).toBe(64 * 4 + 16);
    expect(j.training.breakdown.optimizerState).toBe(2 * (64 * 4 + 16)); // Adam: m and v
    expect(j.training.breakdown.weights).toBe(j.inference.breakdown.weights);
    // The live-set lower bound next to each arena: no more than the arena, no less than its fixed slabs.
    for (const p of [j.inference, j.training]) {
      const fixed = p.breakdown.weights + p.breakdown.gradients + p.breakdown.optimizerState + p.breakdown.scratch + p.breakdown.other;
      expect(p.lowerBound.bytes).toBeGreaterThan(fixed);
      expect(p.lowerBound.bytes).toBeLessThanOrEqual(p.bytes);
      expect(p.lowerBound.ratio).toBeGreaterThanOrEqual(1);
    }
    const text = cli('inspect', input, '--train');
    expect(text.stdout).toMatch(/Planned arena, training \(batch 32, adam, sparseCategoricalCrossentropy\)/);
    expect(text.stdout).toMatch(/Total params: 276 {2}\(trainable 276, frozen 0\)/);
    expect(text.stdout).toMatch(/lower bound [\d.]+ KB \(largest live set of activations [\d.]+ KB, at train op#\d+ .*\); planned \/ bound = 1\.\d\dx/);
    // The threads its models run on (docs/threads.md): the cores reported here, up to 8.
    expect(text.stdout).toMatch(/^Threads: [1-8]( \(\+[\d.]+ KB outside the planned arena: .*\))?$/m);
    const bad = cli('inspect', input, '--freeze', 'nope');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no layer 'nope'/);
  });
});
