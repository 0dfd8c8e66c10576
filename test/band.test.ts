// Row bands for the frozen convolution prefix (issue 14 item 3; host/compile/band.ts,
// docs/memory.md): a batch-1 plan computes the chain of window and elementwise ops from the input
// band by band, as the same kernels over row sub-ranges. Its outputs must be the whole-map plan's
// bits (same ops, same summation order per output), its ops must pass the plan verifier, and a
// budget that only a banded plan meets must compile.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compilePlan, compileTrainPlan, InvalidArgumentError, layers, loadModel, MemoryBudgetError, type Model, packDataFile, type Plan, planToFileBytes,
  sequential, setSeed, tensor, verifyPlan,
} from '../dist/node.js';
import { Executor, ready } from '../host/runtime/executor';
import { ROOT, runToEnd } from './runtime-spawn';

const work = mkdtempSync(join(tmpdir(), 'edgetune-band-'));

// Every window op of the scope: a strided 'same' convolution with a frozen batch norm and a ReLU6
// layer, a 'same' depthwise convolution, a dilated 'valid' one, a 3x3 stride-2 'same' max pooling,
// a 1x1 convolution with tanh, a 2x2 average pooling; then what needs whole maps.
function cnn96(head: 'dense' | 'conv-dense'): Model {
  setSeed(3);
  const m = sequential([
    layers.conv2d({ filters: 8, kernelSize: 3, inputShape: [96, 96, 3], padding: 'same', strides: 2, name: 'c1' }),
    layers.batchNormalization({ name: 'bn1' }),
    layers.activation('relu6', { name: 'a1' }),
    layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu', name: 'dw' }),
    layers.conv2d({ filters: 16, kernelSize: 3, dilationRate: 2, activation: 'relu', name: 'c2' }),
    layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'p1' }),
    layers.conv2d({ filters: 16, kernelSize: 1, name: 'pw' }),
    layers.activation('tanh', { name: 'a2' }),
    layers.averagePooling2d({ poolSize: 2, name: 'p2' }),
    ...(head === 'conv-dense' ? [layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', name: 'tc' })] : []),
    layers.globalAveragePooling2d({ name: 'gap' }),
    layers.dense(4, { activation: 'softmax', name: 'head' }),
  ]);
  // Moving statistics and scale that are not the identity.
  const bn = m.layers[1];
  bn.setWeights(bn.getWeights().map((w, i) => Array.from(w, (_, j) => (i === 3 ? 0.5 + ((j * 7) % 5) / 4 : Math.sin(j + i) / 2))));
  return m;
}

const SCOPE = ['c1', 'dw', 'c2', 'p1', 'pw', 'a2', 'p2'];
const image = (n: number, seed = 0) => Float32Array.from({ length: n * 96 * 96 * 3 }, (_, i) => Math.sin(i * 0.37 + seed));

// Runs a plan's forward program on one image with the model's weights, in its own executor.
function forward(plan: Plan, model: Model, x: Float32Array): Float32Array {
  const exec = new Executor(plan, 1);
  for (const b of plan.params) exec.view(b.region, b.shape.reduce((a, d) => a * d, 1)).set(model.getLayer(b.layer).getWeights()[model.getLayer(b.layer).weightSpecs.findIndex((s) => s.name === b.weight)]);
  exec.setStep(1);
  exec.view(plan.input, x.length).set(x);
  expect(exec.run('forward')).toEqual({ nonFinite: null });
  return exec.view(plan.programs.forward!.output, 4).slice();
}

describe('row bands for the frozen prefix', () => {
  it('a 96x96 CNN in bands of 1 to 11 rows: the whole-map plan\'s bits, every op verified, activations down 3.2x at 1 row', async () => {
    await ready(new URL('../build/edgetune.wasm', import.meta.url));
    const m = cnn96('dense');
    const x = image(1);
    const whole = compilePlan(m.graph, { batchSize: 1, mode: 'inference', prepareWeights: false });
    expect(whole.banding).toBeNull();
    const expected = forward(whole, m, x);
    const activations: number[] = [];
    for (const bandRows of [1, 2, 3, 4, 5, 11]) {
      const plan = compilePlan(m.graph, { batchSize: 1, mode: 'inference', prepareWeights: false, bandRows });
      expect(verifyPlan(plan), `bands of ${bandRows}`).toEqual([]);
      // The chain ends where the peak is smallest: after p2, or after p1 (22 rows) when p2's
      // bands would need wider halos than p1's whole map costs.
      const { layers: banded, outputRows } = plan.banding!;
      expect(banded).toEqual(SCOPE.slice(0, banded.length));
      expect(banded.length >= 4 && outputRows === (banded.length === 7 ? 11 : 22)).toBe(true);
      if (bandRows === 1 || bandRows === 11) expect(banded).toEqual(SCOPE);
      expect([plan.banding!.bandRows, plan.banding!.bands]).toEqual([bandRows, Math.ceil(outputRows / bandRows)]);
      expect(plan.banding!.extraMacs > 0).toBe(plan.banding!.bands > 1);
      expect(Array.from(forward(plan, m, x)), `bands of ${bandRows}`).toEqual(Array.from(expected));
      activations.push(plan.breakdown.activations);
    }
    // Whole maps: c1's output (48x48x8) and dw's alive together, 147,456 + ... bytes; one band
    // row of p2 needs at most 7 rows of c1's output.
    expect(whole.breakdown.activations).toBe(197_632);
    expect(activations[0]).toBeLessThan(whole.breakdown.activations / 3);
    expect(activations[5]).toBe(whole.breakdown.activations); // one band: the whole maps again
    expect(activations).toEqual([...activations].sort((a, b) => a - b));
  });

  it('a budget only a banded plan meets compiles: fit and predict give the unbudgeted model\'s bits; summary() names the band height', async () => {
    const budget = 256 * 1024;
    const frozen = (m: Model) => { for (const l of m.layers.slice(0, 9)) l.trainable = false; return m; };
    const compile = (m: Model, memoryBudget?: number) => m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 1, ...(memoryBudget ? { memoryBudget } : {}) });
    const plain = frozen(cnn96('dense'));
    compile(plain);
    const small = frozen(cnn96('dense'));
    // The whole maps (bands of all the rows at once) need more than the budget at any scratch size.
    expect(() => compilePlan(small.graph, { batchSize: 1, mode: 'training', loss: plain.plan.loss!, optimizer: plain.plan.optimizer!, memoryBudget: budget, bandRows: Infinity })).toThrow(MemoryBudgetError);
    compile(small, budget);
    const plan = small.plan;
    expect(plan.pages * 65536).toBeLessThanOrEqual(budget);
    expect(plain.plan.banding).toBeNull();
    expect(plan.banding!.layers).toEqual(SCOPE.slice(0, plan.banding!.layers.length));
    expect(plan.banding!.programs).toEqual(['forward', 'evaluate', 'train']);
    expect(verifyPlan(plan)).toEqual([]);
    const x = tensor(image(6), [6, 96, 96, 3]);
    const y = tensor(Int32Array.from([0, 1, 2, 3, 1, 2]), [6]);
    const h1 = await plain.fit(x, y, { epochs: 2, batchSize: 1, shuffle: false, verbose: 0 });
    const h2 = await small.fit(x, y, { epochs: 2, batchSize: 1, shuffle: false, verbose: 0 });
    expect(small.plan.banding).not.toBeNull();
    expect(h2.history.loss).toEqual(h1.history.loss);
    // The saved files differ in the compile configuration (memoryBudget); the weights may not.
    const weights = (m: Model) => m.layers.map((l) => l.getWeights().map((w) => Array.from(w)));
    expect(weights(small)).toEqual(weights(plain));
    expect(weights(small)[10]).not.toEqual(weights(cnn96('dense'))[10]); // the head trained
    expect(Array.from(small.predict(x, { batchSize: 1 }).data)).toEqual(Array.from(plain.predict(x, { batchSize: 1 }).data));
    const text = small.summary(null);
    const { layers: banded, bands, bandRows, outputRows } = plan.banding!;
    expect(text, text).toContain(`frozen prefix in row bands: ${banded.join(', ')} run in ${bands} bands of ${bandRows} of the ${outputRows} output rows of ${banded[banded.length - 1]}`);
  }, 120_000);

  it('a trainable convolution after the frozen base: the train program bands the base only, its input and what follows stay whole', () => {
    const m = cnn96('conv-dense');
    for (const l of m.layers.slice(0, 9)) l.trainable = false;
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 1 });
    const plan = compilePlan(m.graph, { batchSize: 1, mode: 'training', loss: m.plan.loss!, optimizer: m.plan.optimizer!, bandRows: 1 });
    expect(verifyPlan(plan)).toEqual([]);
    const train = plan.programs.train!.ops;
    const count = (layer: string, op: string) => train.filter((o) => o.layer === layer && o.op === op).length;
    expect(count('c1', 'conv2d_direct')).toBeGreaterThan(1);
    expect(count('tc', 'conv2d_forward')).toBe(1);
    expect(count('tc', 'conv2d_backward_filter')).toBe(1);
    // tc reads p2's output whole, and so does its filter gradient.
    const tcForward = train.find((o) => o.layer === 'tc' && o.op === 'conv2d_forward')!;
    expect(plan.regions[tcForward.uses.x].bytes).toBe(11 * 11 * 16 * 4);
  });

  it('edgetune inspect --batch 1 --budget 128KB on the MNIST CNN base: only a banded inference plan fits, and inspect says so with the band height', async () => {
    const base = await loadModel(readFileSync(join(ROOT, 'models/mnist-cnn-base-0to4.safetensors')));
    expect(() => compilePlan(base.graph, { batchSize: 1, mode: 'inference', memoryBudget: 128 * 1024, bandRows: Infinity })).toThrow(MemoryBudgetError);
    const out = await runToEnd('node', join(ROOT, 'dist/cli.js'), ['inspect', join(ROOT, 'models/mnist-cnn-base-0to4.safetensors'), '--batch', '1', '--budget', '128KB'], work);
    expect(out).toMatch(/^Planned arena, inference \(batch 1\): 128\.0 KB = /m);
    expect(out).toMatch(/^ {2}frozen prefix in row bands: base_conv_1, base_pool_1, base_conv_2, base_pool_2 run in 7 bands of 1 of the 7 output rows of base_pool_2; \+9\.5% multiply-adds recomputed in the halos$/m);
  });

  it('bandRows on a plan of batch 2, or not a positive integer: a typed error', () => {
    const m = cnn96('dense');
    expect(() => compilePlan(m.graph, { batchSize: 2, mode: 'inference', bandRows: 2 })).toThrow(InvalidArgumentError);
    expect(() => compilePlan(m.graph, { batchSize: 2, mode: 'inference', bandRows: 2 })).toThrow(/row bands need a plan of batch 1 .*got batch 2/);
    expect(() => compilePlan(m.graph, { batchSize: 1, mode: 'inference', bandRows: 0.5 })).toThrow(/bandRows must be a positive integer, got 0.5/);
  });

  // The base in either int8 mode: weight-only, and absmax (the default: each conv quantizes every
  // output position's patch on its own, so a band of rows computes what the whole map does).
  it.each([null, 'absmax'])('the 256 KB fine-tune with its int8 base (activationQuantizer %s) in bands of one row: the WASI module (both verifiers) writes the bytes of the unbanded fit', async (activationQuantizer) => {
    // @ts-expect-error: plain JavaScript module without types
    const { mcuData, mcuFinetune, mcuModel, ARENA_BUDGET } = await import('../examples/mcu/finetune-lib.mjs');
    const dir = join(work, `mcu-${activationQuantizer}`);
    mkdirSync(dir, { recursive: true });
    const bytes = (await mcuModel({ activationQuantizer })).toBytes();
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    const plan = compileTrainPlan(await loadModel(bytes), { batch: 16, microBatch: 1, budget: ARENA_BUDGET, bandRows: 1 });
    expect(plan.banding!.layers).toEqual(['base_conv_1', 'base_pool_1', 'base_conv_2', 'base_pool_2']);
    expect(plan.banding!.bands).toBe(7);
    expect(verifyPlan(plan)).toEqual([]);
    writeFileSync(join(dir, 'model.plan'), planToFileBytes(plan, { stepBatch: 16 }));
    const { train } = mcuData();
    await packDataFile(join(dir, 'train.etd'), { x: train.x, xFloats: 784, labels: train.y, labelWords: 1 });
    const r = await mcuFinetune({ epochs: 1, activationQuantizer });
    expect(r.plan.banding).toBeNull();
    // Weight-only: the activations more than halve; absmax's bands keep its quantized patch rows in
    // scratch too (62,720 -> 32,544 bytes).
    expect(plan.breakdown.activations).toBeLessThan(r.plan.breakdown.activations / (activationQuantizer === null ? 2 : 1.9));
    for (const wasm of ['edgetune-wasi.wasm', 'edgetune-wasi-nosimd.wasm']) {
      writeFileSync(join(dir, 'model.safetensors'), bytes);
      const out = await runToEnd('node', join(ROOT, 'test/wasi/run-wasi.mjs'), [join(ROOT, 'build', wasm), JSON.stringify({ '/m': dir }),
        'train', '--plan', '/m/model.plan', '--weights', '/m/model.safetensors', '--data', '/m/train.etd', '--epochs', '1'], work, 120_000);
      expect(out, wasm).toMatch(/^wrote model\.safetensors after 16 steps$/m);
      expect(Buffer.compare(readFileSync(join(dir, 'model.safetensors')), Buffer.from(r.model.toBytes())), wasm).toBe(0);
    }
  }, 240_000);
});
