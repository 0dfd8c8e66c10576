// Initial weights drawn by the kernels (assembly/kernels/init.ts) are bit-for-bit the values of the
// JavaScript generator they replace on the cold-start path (host/core/random.ts mulberry32,
// host/layers/initializers.ts draws): called directly in chunks, and through the public API for
// every initializer.
import { describe, expect, it, vi } from 'vitest';
import * as et from '../dist/index.js';
import { Random } from '../host/core/random';
import { initialize, type InitializerName, normalizeInitializer } from '../host/layers/initializers';
import { kernelModuleIfLoadable } from '../host/runtime/kernel-source';
import { harness, randomArray } from './support/harness';

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const SEEDS = [0, 1, 1234, 0x7fffffff, 0xfffffffe];

describe('weight initialisation kernels', () => {
  it('host sources here draw in JavaScript (no .wasm beside host/runtime), so they are the reference', () => {
    expect(kernelModuleIfLoadable()).toBeNull();
  });

  it('init_uniform: the bits of Random.fillUniform, and the state continues the stream across chunks', () => {
    const h = harness(64);
    for (const seed of SEEDS) {
      for (const [n, limit] of [[1, 1], [7, 0.05], [1000, Math.sqrt(6 / 1234)], [4099, 3]] as const) {
        const js = new Float32Array(n);
        new Random(seed).fillUniform(js, limit);
        const y = h.alloc(n);
        // two chunks: the second starts from the state the first returned
        const cut = n >> 1;
        const state = h.k.init_uniform(y, cut, seed, limit) >>> 0;
        h.k.init_uniform(y + 4 * cut, n - cut, state, limit);
        expect(bits(h.read(y, n)), `seed ${seed}, n ${n}`).toEqual(bits(js));
        expect(h.brokenGuards()).toEqual([]);
        h.reset();
      }
    }
  });

  it('init_uniform_packed: the panels gemm_pack_b makes of init_uniform draws, bit for bit (tails, several column blocks and k slices, strides)', () => {
    const h = harness(128);
    // (n, k, rsb, csb): panel tails (n % 8), NC = 128 column blocks, KC = 256 k slices (prime k), a transposed b
    const cases = [[1, 1, 1, 1], [7, 3, 7, 1], [8, 8, 8, 1], [9, 17, 9, 1], [130, 300, 130, 1], [256, 784, 256, 1], [33, 521, 33, 1], [20, 37, 1, 37]];
    for (const seed of SEEDS) {
      for (const [n, k, rsb, csb] of cases) {
        const floats = k * Math.ceil(n / 8) * 8;
        const b = h.alloc(n * k), want = h.alloc(floats), got = h.alloc(floats);
        h.k.init_uniform(b, n * k, seed, 0.3);
        h.k.gemm_pack_b(want, b, n, k, rsb, csb);
        h.k.init_uniform_packed(got, n, k, rsb, csb, seed, 0.3);
        const g = bits(h.read(got, floats)), w = bits(h.read(want, floats));
        expect(g.findIndex((v, i) => v !== w[i]), `seed ${seed}, n ${n}, k ${k}, strides ${rsb} ${csb}: first differing float`).toBe(-1);
        expect(h.brokenGuards()).toEqual([]);
        h.reset();
      }
    }
  });

  it('init_truncated_normal: the bits of the JavaScript polar method with its exact logarithm', () => {
    const h = harness(64);
    for (const seed of SEEDS) {
      const n = 2000;
      const stddev = 1 / 0.87962566103423978; // heNormal over fanIn 2: sqrt(2 / 2) / 0.8796...
      const js = initialize({ className: 'heNormal', seed }, [2, n / 2], 0);
      const y = h.alloc(n);
      const state = h.k.init_truncated_normal(y, 999, seed, stddev) >>> 0;
      h.k.init_truncated_normal(y + 4 * 999, n - 999, state, stddev);
      expect(bits(h.read(y, n)), `seed ${seed}`).toEqual(bits(js));
      expect(Math.max(...js.map(Math.abs))).toBeLessThanOrEqual(2 * stddev * (1 + 1e-6));
      h.reset();
    }
  });

  it('every initializer through the public API gives the JavaScript values, seeded or from setSeed, and the kernels drew them', () => {
    // The kernels draw through one scratch instance over a 2-page memory: count its creation.
    const Original = WebAssembly.Instance;
    let scratchInstances = 0;
    WebAssembly.Instance = function (module: WebAssembly.Module, imports?: { env?: { memory?: WebAssembly.Memory } }) {
      if (imports?.env?.memory?.buffer.byteLength === 2 * 65536) scratchInstances++;
      return new Original(module, imports as WebAssembly.Imports);
    } as unknown as typeof WebAssembly.Instance;
    try {
      const names: InitializerName[] = ['glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'lecunUniform', 'lecunNormal', 'zeros', 'ones', 'constant'];
      for (const className of names) {
        // 400 x 330 = 132000 floats, more than one chunk of the scratch memory, for the first two
        const shape = className.startsWith('glorot') ? [400, 330] : [37, 29];
        const spec = { className, seed: 77, ...(className === 'constant' ? { value: 0.25 } : {}) };
        const layer = et.layers.dense(shape[1], { kernelInitializer: spec, inputShape: [shape[0]] });
        et.sequential([layer]);
        expect(bits(layer.getWeights()[0]), className).toEqual(bits(initialize(normalizeInitializer(spec), shape, 0)));
      }
      et.setSeed(99);
      const layer = et.layers.dense(29, { kernelInitializer: 'heUniform', inputShape: [37] });
      et.sequential([layer]);
      const seed = new Random(99).nextU32();
      expect(bits(layer.getWeights()[0])).toEqual(bits(initialize({ className: 'heUniform' }, [37, 29], seed)));
    } finally {
      WebAssembly.Instance = Original;
    }
    expect(scratchInstances).toBe(1);
  });

  it("weights planned before they are read are drawn in place in the model's arena: the same bits, no scratch instance", async () => {
    const { spawnSync } = await import('node:child_process');
    const { createHash } = await import('node:crypto');
    // a fresh process: this one's scratch instance exists already
    const script = `
      const Original = WebAssembly.Instance;
      let scratch = 0;
      WebAssembly.Instance = function (module, imports) {
        if (imports?.env?.memory?.buffer.byteLength === 2 * 65536) scratch++;
        return new Original(module, imports);
      };
      const et = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const names = ['glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'lecunUniform', 'lecunNormal', 'zeros', 'ones', 'constant'];
      const layers = names.map((className, i) => et.layers.dense(i % 2 ? 29 : 330, { kernelInitializer: { className, seed: 77 + i, value: 0.25 }, inputShape: [i % 2 ? 37 : 400] }));
      layers.forEach((l, i) => et.sequential([l]).predict(et.tensor(new Float32Array(i % 2 ? 37 : 400), [1, i % 2 ? 37 : 400])));
      const { createHash } = await import('node:crypto');
      const weights = layers.map((l) => { const w = l.getWeights()[0]; return createHash('sha256').update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)).digest('hex'); });
      console.log(JSON.stringify({ scratch, weights }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const { scratch, weights } = JSON.parse(r.stdout) as { scratch: number; weights: string[] };
    expect(scratch).toBe(0);
    const names: InitializerName[] = ['glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'lecunUniform', 'lecunNormal', 'zeros', 'ones', 'constant'];
    names.forEach((className, i) => {
      const shape = i % 2 ? [37, 29] : [400, 330];
      const js = initialize(normalizeInitializer({ className, seed: 77 + i, value: 0.25 }), shape, 0);
      expect(weights[i], className).toBe(createHash('sha256').update(new Uint8Array(js.buffer, js.byteOffset, js.byteLength)).digest('hex'));
    });
  });
  it('an inference plan draws pending uniform kernels straight into their packed copies: no weight written, no pack run, the same bits', () => {
    type Exec = { plan: { params: { layer: string; weight: string; region: number }[] }; view(r: number): Float32Array; run(p: string): unknown };
    const make = () => {
      et.setSeed(21);
      return et.sequential([
        et.layers.dense(140, { activation: 'relu', inputShape: [300] }), // two column blocks, two k slices
        et.layers.dense(9, { kernelInitializer: 'heUniform' }),
        et.layers.dense(3, { kernelInitializer: 'lecunUniform', activation: 'softmax' }),
      ]);
    };
    const x = () => et.tensor(randomArray(2 * 300, 3), [2, 300]);
    const m = make();
    const y = m.predict(x()).data;
    const exec = (m as unknown as { arena: { executor: Exec } }).arena.executor;
    const kernels = exec.plan.params.filter((b) => b.weight === 'kernel');
    // the kernels' regions are as the memory began: the packed copies alone were drawn
    for (const b of kernels) expect(exec.view(b.region).every((v) => v === 0), b.layer).toBe(true);
    // the reference: the same model with its weights read before it plans (drawn, then packed by prepare)
    const ref = make();
    const refWeights = ref.layers.map((l) => l.getWeights());
    expect(bits(y)).toEqual(bits(ref.predict(x()).data));
    // read now, they are drawn in the arena with the reference's bits
    m.layers.forEach((l, i) => l.getWeights().forEach((w, j) => expect(bits(w), `${l.name} ${j}`).toEqual(bits(refWeights[i][j]))));
    expect(bits(exec.view(kernels[0].region))).toEqual(bits(refWeights[0][0]));
    // new weights reach the plan (prepare packs them), as in the reference
    const run = vi.spyOn(exec, 'run');
    const w1 = refWeights[1].map((w) => w.map((v) => 2 * v));
    m.layers[1].setWeights(w1);
    ref.layers[1].setWeights(w1);
    const after = m.predict(x()).data;
    expect(run.mock.calls.map((c) => c[0])).toEqual(['prepare', 'forward']);
    expect(bits(after)).toEqual(bits(ref.predict(x()).data));
    expect(bits(after)).not.toEqual(bits(y));
    // set before any weight was read: prepare packs it, and the others drawn in the arena first
    const m2 = make();
    m2.predict(x());
    m2.layers[1].setWeights(w1);
    expect(bits(m2.predict(x()).data)).toEqual(bits(after));
    m2.layers.forEach((l, i) => l.getWeights().forEach((w, j) => expect(bits(w), `${l.name} ${j}`).toEqual(bits(i === 1 ? w1[j] : refWeights[i][j]))));
  });
});
