// The cold-start path (import -> ready() -> build -> first prediction, a fresh Node process on
// dist/): the kernel module is compiled once, synchronously from the file it read, and
// instantiated once, for the model's executor, which checks its static data and draws the initial
// weights in place (host/runtime/init-fill.ts): no scratch instance when the model plans first.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const DIST = new URL('../dist/index.js', import.meta.url).href;

function coldStart(): { compiles: string[]; instances: number; out: number } {
  const script = `
    const calls = { compiles: [], instances: 0 };
    const W = WebAssembly, Module = W.Module, Instance = W.Instance, compile = W.compile, compileStreaming = W.compileStreaming;
    W.Module = function (bytes) { calls.compiles.push('Module ' + bytes.byteLength); return new Module(bytes); };
    W.Module.prototype = Module.prototype; W.Module.exports = Module.exports; W.Module.imports = Module.imports;
    W.compile = (bytes) => { calls.compiles.push('compile ' + bytes.byteLength); return compile(bytes); };
    W.compileStreaming = (r) => { calls.compiles.push('compileStreaming'); return compileStreaming(r); };
    W.Instance = function (module, imports) { calls.instances++; return new Instance(module, imports); };
    const et = await import(${JSON.stringify(DIST)});
    await et.ready();
    const m = et.sequential([et.layers.dense(16, { activation: 'relu', inputShape: [8] }), et.layers.dense(3, { activation: 'softmax' })]);
    const y = m.predict(et.tensor(new Float32Array(8).fill(0.5), [1, 8]), { batchSize: 1 }).data;
    console.log(JSON.stringify({ ...calls, out: y.reduce((a, b) => a + b, 0) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, EDGETUNE_SIMD: '' } });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

describe('cold start', () => {
  it('compiles the kernels once, synchronously from the file it read, and instantiates them once', () => {
    const { compiles, instances, out } = coldStart();
    const size = statSync(new URL('../dist/edgetune.wasm', import.meta.url)).size;
    expect({ compiles, instances }).toEqual({ compiles: [`Module ${size}`], instances: 1 });
    expect(out).toBeCloseTo(1, 5); // softmax: the prediction ran
  });

  it('the bench probe runs edgetune on one thread, as its peers (a convolution plan would otherwise start workers)', () => {
    const probe = new URL('../scripts/cold-start-peer.mjs', import.meta.url).pathname;
    for (const workload of ['mlp', 'emotion']) {
      const r = spawnSync(process.execPath, [probe, 'edgetune', workload], { encoding: 'utf8' });
      const result = JSON.parse(r.stdout) as { threads: string; totalMs: number };
      expect(result.threads, workload).toMatch(/^edgetune=1 /);
      expect(result.totalMs).toBeGreaterThan(0);
    }
  });

  it('scripts/bench-cold.mjs gives each phase its CPU time and page faults: the first predict faults in its arena, the second hardly', () => {
    const script = new URL('../scripts/bench-cold.mjs', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [script, '--runs', '1'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const line = r.stdout.trim().split('\n')[1];
    const phase = (name: string) => { const m = new RegExp(`${name} ([\\d.]+) / ([\\d.]+)`).exec(line)!; return [Number(m[1]), Number(m[2])]; };
    for (const name of ['import', 'ready', 'build', 'predict', 'predict2']) expect(phase(name)[0], name).toBeGreaterThan(0);
    // the MLP's arena is 34 pages of 64 KiB: over 500 pages of 4 KiB are first touched by its first predict
    expect(phase('predict')[1]).toBeGreaterThan(500);
    // the second touches few new pages; a young-generation collection (its fresh semi-space) may land
    // in it, and did under load (125-195 faults), so the bound is a fraction of the first predict's
    expect(phase('predict2')[1]).toBeLessThan(phase('predict')[1] / 3);
  });

  it('edgetune/import/tfjs loads the TF.js importers without the ONNX and PyTorch ones', () => {
    // every .js file node loads for `import 'edgetune/import/tfjs'`, and what they define
    const script = `
      import { readFileSync } from 'node:fs';
      const tfjs = await import(${JSON.stringify(new URL('../dist/import/tfjs.js', import.meta.url).href)});
      console.log(JSON.stringify(Object.keys(tfjs).sort()));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout)).toEqual(['UnsupportedOpError', 'importTfjsGraphModel', 'importTfjsLayersModel', 'shardPathProblem']);
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(new URL(file, DIST), 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["'];/gm)) visit(new URL(m[1], new URL(file, DIST)).href);
    };
    visit(new URL('../dist/import/tfjs.js', import.meta.url).href);
    const defined = (name: string) => [...seen].some((f) => readFileSync(new URL(f), 'utf8').includes(`function ${name}(`));
    expect(defined('importTfjsGraphModel')).toBe(true);
    expect(defined('importOnnx')).toBe(false);
    expect(defined('importPytorchSafetensors')).toBe(false);
  });
});
