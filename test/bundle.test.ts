// The shipped bundle: the core entry reaches no platform module (it must load in browsers and
// edge functions), the opcode tables of the kernels and the host agree, and the kernel module
// imports nothing but its memory.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OP_SPECS } from '../dist/node.js';

function importGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    const text = readFileSync(new URL(`../dist/${file}`, import.meta.url), 'utf8');
    // Static imports and re-exports start a line (and may span several); dynamic imports anywhere.
    const specs = [
      ...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["'];/gm),
      ...text.matchAll(/^import\s*["']([^"']+)["'];/gm),
      ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ].map((m) => m[1]);
    graph.set(file, specs);
    for (const s of specs) if (s.startsWith('./')) visit(s.slice(2));
  };
  visit(entry);
  return graph;
}

describe('bundle', () => {
  it('the core entry (dist/index.js) imports no node: module, directly or through a chunk', () => {
    const graph = importGraph('index.js');
    const external = [...graph.values()].flat().filter((s) => !s.startsWith('./'));
    expect(external).toEqual([]);
    // the Node entry does use them, so the scan does find node: imports where they are
    const nodeExternal = [...importGraph('node.js').values()].flat().filter((s) => s.startsWith('node:'));
    expect(nodeExternal.length).toBeGreaterThan(0);
  });

  it('the MNIST demos are not library API: only the non-public dist/examples.js entry has them', async () => {
    const demos = ['loadMnist', 'selectDigits', 'runDemo', 'trainBase', 'baseModel', 'cnnBaseModel', 'BASE_MODEL_PATH', 'CNN_BASE_MODEL_PATH', 'mnistCnn', 'trainMnistCnn', 'mnistData'];
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, Record<string, string>> };
    const publicFiles = new Set(Object.values(pkg.exports).flatMap((e) => Object.values(e)).filter((f) => f.endsWith('.js')));
    expect([...publicFiles].sort()).toEqual(['./dist/index.js', './dist/node.js']);
    expect(publicFiles.has('./dist/examples.js')).toBe(false);
    for (const file of publicFiles) {
      const entry = (await import(new URL(file, new URL('../', import.meta.url)).href)) as Record<string, unknown>;
      expect(demos.filter((name) => name in entry), file).toEqual([]);
    }
    const examples = (await import('../dist/examples.js')) as Record<string, unknown>;
    expect(demos.filter((name) => typeof examples[name] === 'undefined')).toEqual([]);
  });

  it('host/compile/ops.ts and assembly/interp/opcodes.ts agree on every opcode', () => {
    const text = readFileSync(new URL('../assembly/interp/opcodes.ts', import.meta.url), 'utf8');
    const asc = new Map([...text.matchAll(/export const OP_([A-Z0-9_]+): i32 = (\d+);/g)].map((m) => [m[1].toLowerCase(), Number(m[2])]));
    const host = new Map(Object.entries(OP_SPECS).map(([name, spec]) => [name, spec.code]));
    expect(asc).toEqual(host);
  });

  it('the kernel module imports only env.memory and exports the interpreter', () => {
    const module = new WebAssembly.Module(readFileSync(new URL('../build/edgetune.wasm', import.meta.url)));
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const exports = WebAssembly.Module.exports(module).map((e) => e.name);
    for (const name of ['run', 'gemm_f32', 'adam_update', 'heap_base']) expect(exports).toContain(name);
  });
});
