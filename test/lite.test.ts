// edgetune/lite: the core entry on the lite kernel build (dist/edgetune-lite.wasm, dense networks
// only). In a fresh process each (one kernel set per process), an MLP trained and run on it gives
// the bits of the full build; a plan with an op the lite build lacks is refused before it runs,
// naming the op and the layer; the lite interpreter has no case for those ops at all.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { OP_SPECS } from '../dist/index.js';
import { LITE_OPS } from '../host/runtime/lite-ops';
import { runZeroedOp } from './support/kernel-ops';

const dist = (file: string) => new URL(`../dist/${file}`, import.meta.url);

interface Run { compiled: number[]; weights: string; predictions: number[]; conv: { name: string; code: string; message: string } | null; convThreads: string | null }

function trainAndRun(entry: 'index.js' | 'lite.js', simd = ''): Run {
  const script = `
    const compiled = [];
    const Module = WebAssembly.Module;
    WebAssembly.Module = function (bytes) { compiled.push(bytes.byteLength); return new Module(bytes); };
    WebAssembly.Module.prototype = Module.prototype;
    const et = await import(${JSON.stringify(dist(entry).href)});
    await et.ready();
    et.setThreads(1);
    et.setSeed(11);
    const m = et.sequential([
      et.layers.dense(24, { activation: 'tanh', inputShape: [5] }), et.layers.batchNormalization(), et.layers.dropout(0.2),
      et.layers.dense(3, { activation: 'softmax', kernelRegularizer: et.regularizers.l2(0.01) }),
    ]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const x = new Float32Array(40 * 5).map((_, i) => Math.sin(i * 0.7));
    const y = new Int32Array(40).map((_, i) => i % 3);
    await m.fit(et.tensor(x, [40, 5]), et.tensor(y, [40]), { epochs: 3, batchSize: 8, verbose: 0 });
    const predictions = Array.from(m.predict(et.tensor(x.subarray(0, 10), [2, 5])).data);
    const weights = m.layers.flatMap((l) => l.getWeights()).map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')).join('/');
    let conv = null;
    try {
      et.sequential([et.layers.conv2d(2, { kernelSize: 3, inputShape: [6, 6, 1], name: 'edge_conv' })]).predict(et.tensor(new Float32Array(36), [1, 6, 6, 1]));
    } catch (e) { conv = { name: e.name, code: e.code, message: e.message }; }
    // on two threads a convolution this size runs on the threads build: lite refuses it all the same
    et.setThreads(2);
    let convThreads = null;
    try {
      et.sequential([et.layers.conv2d(32, { kernelSize: 3, inputShape: [32, 32, 16], name: 'wide_conv' })]).predict(et.tensor(new Float32Array(32 * 32 * 16), [1, 32, 32, 16]), { batchSize: 1 });
    } catch (e) { convThreads = e.code; }
    console.log(JSON.stringify({ compiled, weights, predictions, conv, convThreads }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, EDGETUNE_SIMD: simd } });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Run;
}

describe('edgetune/lite', () => {
  it('trains and runs an MLP (batch norm, dropout, a regularizer, Adam) on the lite kernels, with and without SIMD, bit for bit as the full build', () => {
    const full = trainAndRun('index.js');
    const lite = trainAndRun('lite.js');
    expect(full.compiled[0]).toBe(statSync(dist('edgetune.wasm')).size);
    expect(lite.compiled).toEqual([statSync(dist('edgetune-lite.wasm')).size]); // never the full or threads build
    expect(lite.predictions).toHaveLength(6);
    expect(lite.predictions[0] + lite.predictions[1] + lite.predictions[2]).toBeCloseTo(1, 5);
    expect(lite.weights.split('/')).toHaveLength(8); // two dense kernels and biases, batch norm's four
    expect(lite.weights).toBe(full.weights);
    expect(lite.predictions).toEqual(full.predictions);
    // the lite build without SIMD (EDGETUNE_SIMD=0), for engines that reject it: the same bits
    const scalar = trainAndRun('lite.js', '0');
    expect(scalar.compiled).toEqual([statSync(dist('edgetune-lite-nosimd.wasm')).size]);
    expect(scalar.weights).toBe(full.weights);
    expect(scalar.conv?.code).toBe('KernelBuild');
    // a convolution: the full build runs it; the lite one refuses the plan, naming op and layer
    expect(full.conv).toBeNull();
    expect(full.convThreads).toBeNull();
    expect(lite.convThreads).toBe('KernelBuild');
    expect(lite.conv?.name).toBe('EdgetuneError');
    expect(lite.conv?.code).toBe('KernelBuild');
    expect(lite.conv?.message).toMatch(/^layer 'edge_conv' needs the op 'conv2d_\w+' \(forward program\), which the lite kernels \(edgetune\/lite: dense networks\) do not have/);
  }, 60_000);

  it('the lite module exports only what the host calls, answers an op it lacks as unknown, and is smaller', async () => {
    const bytes = readFileSync(dist('edgetune-lite.wasm'));
    const module = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.exports(module).map((e) => e.name).sort()).toEqual(['gemm_set_a_broadcast', 'heap_base', 'init_truncated_normal', 'init_uniform', 'init_uniform_packed', 'run']);
    for (const [name, lite] of [['fill', true], ['conv2d_forward', false], ['maxpool_forward', false], ['gemm_i8', false]] as const) {
      // fill(y, n, value): n = 0 writes nothing; the others would read sizes of 0
      expect(runZeroedOp(module, name), name).toBe(lite ? 0 : -1);
      expect(LITE_OPS.includes(name), name).toBe(lite);
    }
    const gz = (file: string) => gzipSync(readFileSync(dist(file)), { level: 9 }).length;
    expect(gz('edgetune-lite.wasm')).toBeLessThan(0.75 * gz('edgetune.wasm'));
  });

  it('every lite op is an op of the table', () => {
    expect(LITE_OPS.filter((name) => !(name in OP_SPECS))).toEqual([]);
    expect(new Set(LITE_OPS).size).toBe(LITE_OPS.length);
  });
});
