// The shipped bundle: the core entry reaches no platform module (it must load in browsers and
// edge functions), the opcode tables of the kernels and the host agree, and the kernel module
// imports nothing but its memory.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
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
    for (const s of specs) if (s.startsWith('./') || s.startsWith('../')) visit(new URL(s, new URL(file, 'file:///')).pathname.slice(1));
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
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, unknown> };
    // conditions nest ({ node: { types, default } }): every file they name
    const targets = (e: unknown): string[] => (typeof e === 'string' ? [e] : Object.values(e as object).flatMap(targets));
    const publicFiles = new Set(targets(pkg.exports).filter((f) => f.endsWith('.js')));
    expect([...publicFiles].sort()).toEqual(['./dist/import/keras.js', './dist/index.js', './dist/node.js']);
    expect(publicFiles.has('./dist/examples.js')).toBe(false);
    for (const file of publicFiles) {
      const entry = (await import(new URL(file, new URL('../', import.meta.url)).href)) as Record<string, unknown>;
      expect(demos.filter((name) => name in entry), file).toEqual([]);
    }
    const examples = (await import('../dist/examples.js')) as Record<string, unknown>;
    expect(demos.filter((name) => typeof examples[name] === 'undefined')).toEqual([]);
  });

  it('h5wasm: one copy, reached only from the edgetune/import/keras entry, never bundled with the core', async () => {
    const h5Chunks = readdirSync(new URL('../dist/', import.meta.url)).filter((f) => f.endsWith('.js') && readFileSync(new URL(`../dist/${f}`, import.meta.url), 'latin1').includes('h5wasm'));
    expect(h5Chunks).toHaveLength(1);
    const reaches = (entry: string) => [...importGraph(entry).values()].flat().some((s) => s.includes(h5Chunks[0]));
    expect(reaches('index.js')).toBe(false);
    expect(reaches('node.js')).toBe(false);
    expect(reaches('import/keras.js')).toBe(true);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies?: Record<string, string> };
    expect(pkg.dependencies?.h5wasm).toBeUndefined();
    // an app importing { sequential } from the core entry bundles no h5wasm, even without --splitting
    const dist = fileURLToPath(new URL('../dist/', import.meta.url));
    const bundle = async (code: string) => (await build({
      stdin: { contents: code, resolveDir: dist, loader: 'js' }, bundle: true, write: false, format: 'esm', platform: 'browser', logLevel: 'silent',
    })).outputFiles[0].text;
    const core = await bundle("import { sequential, layers } from './index.js'; console.log(sequential([layers.dense(1, { inputShape: [1] })]));");
    expect(core).not.toContain('h5wasm');
    expect(core.length).toBeLessThan(1_000_000);
    const keras = await bundle("import { importKeras } from './import/keras.js'; console.log(importKeras);");
    expect(keras).toContain('h5wasm');
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
