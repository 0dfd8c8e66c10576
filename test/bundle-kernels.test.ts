// An app's own kernel build (`edgetune kernels`, host/cli/kernels.ts): the lite kernels with only the ops an
// app's plans use, listed by edgetune/lite's usedOps(), and loaded with ready(url). An MLP trained
// and run on it gives the full build's bits, with and without SIMD; a plan needing an op it lacks is
// refused before it runs, naming op, layer and file; its interpreter has no case for other ops.
// And edgetune/lite's models (LiteModel): what they leave out is refused by name, while the core
// entry's Model keeps all of it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_SPECS } from '../dist/index.js';
import { buildKernels, OPS_SECTION, withCustomSection } from '../host/cli/kernels';
import { runZeroedOp } from './support/kernel-ops';

const dist = (file: string) => new URL(`../dist/${file}`, import.meta.url).href;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function node(script: string, env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  expect(r.stderr).toBe('');
  return r.stdout.trim().split('\n').at(-1)!;
}

// An MLP (ReLU, softmax, L2, SGD with momentum) trained for 3 epochs and run; then a model whose
// sigmoid layer needs an op the app's kernels lack.
function trainAndRun(entry: string, kernels: string | null, simd = ''): { compiled: number[]; weights: string; predictions: number[]; refused: { name: string; code: string; message: string } | null; ops: string[] } {
  return JSON.parse(node(`
    const compiled = [];
    const Module = WebAssembly.Module;
    WebAssembly.Module = function (bytes) { compiled.push(bytes.byteLength); return new Module(bytes); };
    WebAssembly.Module.prototype = Module.prototype;
    const et = await import(${JSON.stringify(dist(entry))});
    await et.ready(${kernels ? JSON.stringify(kernels) : ''});
    et.setSeed(7);
    const m = et.sequential([
      et.layers.dense(16, { activation: 'relu', inputShape: [6], kernelRegularizer: et.regularizers.l2(0.01) }),
      et.layers.dense(4, { activation: 'softmax' }),
    ]);
    m.compile({ optimizer: et.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = new Float32Array(48 * 6).map((_, i) => Math.cos(i * 0.37));
    const y = new Int32Array(48).map((_, i) => i % 4);
    await m.fit(et.tensor(x, [48, 6]), et.tensor(y, [48]), { epochs: 3, batchSize: 16, verbose: 0 });
    const predictions = Array.from(m.predict(et.tensor(x.subarray(0, 12), [2, 6])).data);
    const weights = m.layers.flatMap((l) => l.getWeights()).map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')).join('/');
    const ops = et.usedOps ? et.usedOps() : [];
    let refused = null;
    try {
      et.sequential([et.layers.dense(2, { activation: 'sigmoid', inputShape: [3], name: 'gate' })]).compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    } catch (e) { refused = { name: e.name, code: e.code, message: e.message }; }
    console.log(JSON.stringify({ compiled, weights, predictions, refused, ops }));`, { EDGETUNE_SIMD: simd }));
}

let dir = '';
let simdFile = '';
let scalarFile = '';
let ops: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-kernels-'));
  simdFile = join(dir, 'app.wasm');
  scalarFile = join(dir, 'app-nosimd.wasm');
  // the app's ops: its models run once on the lite kernels, then usedOps()
  ops = trainAndRun('lite.js', null).ops;
  // The SIMD module as a user builds it: the CLI of the package npm would install (npm pack,
  // unpacked outside the repository, with only AssemblyScript beside it), the ops as usedOps()
  // gives them in a JSON file; the scalar one through the API.
  const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
  expect(pack.status, pack.stderr).toBe(0);
  mkdirSync(join(dir, 'installed', 'node_modules'), { recursive: true });
  const untar = spawnSync('tar', ['-xzf', join(dir, pack.stdout.trim().split('\n').at(-1)!), '-C', join(dir, 'installed')], { encoding: 'utf8' });
  expect(untar.status, untar.stderr).toBe(0);
  symlinkSync(join(ROOT, 'node_modules', 'assemblyscript'), join(dir, 'installed', 'node_modules', 'assemblyscript'));
  writeFileSync(join(dir, 'ops.json'), JSON.stringify(ops));
  const cli = spawnSync(process.execPath, [join(dir, 'installed', 'package', 'dist', 'cli.js'), 'kernels', '--ops-file', join(dir, 'ops.json'), '--out', simdFile], { cwd: dir, encoding: 'utf8' });
  expect(cli.stderr).toBe('');
  expect(cli.stdout).toContain(`${simdFile}: ${ops.length} ops`);
  await buildKernels(ops, scalarFile, { simd: false });
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("an app's own kernel build", () => {
  it('trains and runs the MLP bit for bit as the full build, with and without SIMD, and refuses an op it lacks by name', () => {
    expect(ops).toEqual(expect.arrayContaining(['gemm', 'bias_fill', 'relu_forward', 'softmax_forward', 'xent_logits_sparse', 'apply_gradients', 'reg_penalty']));
    expect(ops).not.toContain('act_forward');
    const full = trainAndRun('index.js', null);
    expect(full.refused).toBeNull(); // the full kernels run the sigmoid layer
    for (const [file, simd] of [[simdFile, ''], [scalarFile, '0']]) {
      const app = trainAndRun('lite.js', pathToFileURL(file).href, simd);
      expect(app.compiled).toEqual([statSync(file).size]); // only the app's module is compiled
      expect(app.predictions).toHaveLength(8);
      expect(app.weights.split('/')).toHaveLength(4);
      expect(app.weights).toBe(full.weights);
      expect(app.predictions).toEqual(full.predictions);
      expect(app.refused?.name).toBe('EdgetuneError');
      expect(app.refused?.code).toBe('KernelBuild');
      expect(app.refused?.message).toBe(`layer 'gate' needs the op 'act_forward' (forward program), which the kernel build ${pathToFileURL(file).href} does not have: build one with it (npx edgetune kernels --ops, the ops of usedOps()) or load the full kernels`);
    }
  }, 120_000);

  it('lists its ops in its edgetune.ops section, exports what the lite build does, has no case for other ops, and is half the lite build', () => {
    const module = new WebAssembly.Module(readFileSync(simdFile));
    const [section] = WebAssembly.Module.customSections(module, OPS_SECTION);
    // name:opcode pairs, the opcodes of this op table
    expect(new TextDecoder().decode(section)).toBe([...ops].sort().map((op) => `${op}:${OP_SPECS[op as keyof typeof OP_SPECS].code}`).join(','));
    const lite = new WebAssembly.Module(readFileSync(new URL('../dist/edgetune-lite.wasm', import.meta.url)));
    expect(WebAssembly.Module.exports(module)).toEqual(WebAssembly.Module.exports(lite));
    // the lite build's section is host/runtime/lite-ops.ts's list
    expect(new TextDecoder().decode(WebAssembly.Module.customSections(lite, OPS_SECTION)[0]).split(',')).toContain(`act_forward:${OP_SPECS.act_forward.code}`);
    // fill(y, n = 0, value) writes nothing; act_forward with sizes 0 would not either, had it a case
    for (const [name, kept] of [['fill', true], ['act_forward', false], ['bn_forward_infer', false]] as const) {
      expect(runZeroedOp(module, name), name).toBe(kept ? 0 : -1);
      expect(ops.includes(name), name).toBe(kept);
    }
    expect(statSync(simdFile).size).toBeLessThan(0.5 * statSync(new URL('../dist/edgetune-lite.wasm', import.meta.url)).size);
  });

  it('a kernel build compiled from another version of the op table (other opcodes) is refused before it runs', () => {
    // the full module with a section whose gemm has another opcode, as a build from an older table would
    const stale = join(dir, 'stale.wasm');
    writeFileSync(stale, withCustomSection(readFileSync(new URL('../dist/edgetune.wasm', import.meta.url)), OPS_SECTION, `bias_fill:${OP_SPECS.bias_fill.code},gemm:${OP_SPECS.gemm.code + 1000}`));
    const out = node(`
      const et = await import(${JSON.stringify(dist('lite.js'))});
      await et.ready(${JSON.stringify(pathToFileURL(stale).href)});
      try { et.sequential([et.layers.dense(2, { inputShape: [3] })]).predict(et.tensor(new Float32Array(3), [1, 3])); console.log('ran'); } catch (e) { console.log(e.code + ': ' + e.message); }`);
    expect(out).toBe(`KernelBuild: the kernel build ${pathToFileURL(stale).href} was compiled from another version of the op table (its op 'gemm' is opcode ${OP_SPECS.gemm.code + 1000}, here ${OP_SPECS.gemm.code}): rebuild it (npx edgetune kernels) with this version`);
  });

  it('edgetune kernels refuses an op name the op table does not have, and says what is wrong with its arguments; nothing is written', async () => {
    await expect(buildKernels(['gemm', 'conv9d_forward'], join(dir, 'x.wasm'))).rejects.toThrow("kernels: no op 'conv9d_forward' in edgetune's op table");
    writeFileSync(join(dir, 'not-ops.json'), '{"ops": ["gemm"]}');
    const cli = (...args: string[]) => spawnSync(process.execPath, [fileURLToPath(new URL('../dist/cli.js', import.meta.url)), 'kernels', ...args], { cwd: dir, encoding: 'utf8' });
    for (const [args, message] of [
      [['--ops', 'gemm'], 'edgetune: kernels: --out FILE is required (the .wasm to write)'],
      [['--out', 'x.wasm'], 'edgetune: kernels: give the ops either as --ops a,b,... or as --ops-file FILE'],
      [['--ops', 'gemm', '--ops-file', 'ops.json', '--out', 'x.wasm'], 'edgetune: kernels: give the ops either as --ops a,b,... or as --ops-file FILE'],
      [['--ops-file', 'not-ops.json', '--out', 'x.wasm'], 'edgetune: kernels: --ops-file not-ops.json must hold a JSON array of op names'],
      [['--ops', 'gemm,relu_fwd', '--out', 'x.wasm'], "edgetune: kernels: no op 'relu_fwd' in edgetune's op table"],
      [['--ops', 'gemm', '--out', 'x.wasm', '--simd'], 'edgetune: kernels: unknown option --simd'],
    ] as const) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
    expect(existsSync(join(dir, 'x.wasm'))).toBe(false);
  });
});

describe('edgetune/lite models', () => {
  it("lite's types show an editor only what it has (TypeScript on an app importing host/lite.ts)", () => {
    const lite = fileURLToPath(new URL('../host/lite', import.meta.url));
    const app = join(dir, 'lite-app.ts');
    writeFileSync(app, [
      `import { sequential, model, input, layers, tensor, type Model, type FitOptions } from '${lite}';`,
      "const m: Model = sequential([layers.dense(3, { activation: 'softmax', inputShape: [2] })]);",
      "m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });",
      'const x = tensor(new Float32Array(8), [4, 2]), y = tensor(new Int32Array(4), [4]);',
      'export const done = m.fit(x, y, { epochs: 1, microBatch: 2 }).then(() => m.predict(x).data);',
      'export const chained: Model = m.freeze(m.layers[0].name);',
      'const i = input({ shape: [2] });',
      'const two = model({ inputs: i, outputs: [layers.dense(1).apply(i), layers.dense(2).apply(i)] }).predict(x);',
      'export const count = Array.isArray(two) ? two.length : 1;',
      'export const one: Float32Array = model({ inputs: i, outputs: layers.dense(1).apply(i) }).predict(x).data;',
      'export const opts: FitOptions = { validationData: [x, y] };',
      '// @ts-expect-error: no save in edgetune/lite',
      "m.save('m.safetensors');",
      '// @ts-expect-error: no toBytes',
      'm.toBytes();',
      '// @ts-expect-error: no summary',
      'm.summary();',
      "// @ts-expect-error: no quantize",
      "m.quantize('int8');",
      '// @ts-expect-error: no sample weights',
      'm.fit(x, y, { sampleWeight: new Float32Array(4) });',
      '// @ts-expect-error: no class weights',
      'm.trainOnBatch(x, y, { classWeight: { 0: 2 } });',
      '// @ts-expect-error: no sample weights',
      'm.evaluate(x, y, { sampleWeight: new Float32Array(4) });',
      '',
    ].join('\n'));
    const { config } = ts.readConfigFile(fileURLToPath(new URL('../tsconfig.json', import.meta.url)), ts.sys.readFile);
    const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, fileURLToPath(new URL('..', import.meta.url)));
    const program = ts.createProgram([app], { ...options, noEmit: true, declaration: false, declarationDir: undefined, emitDeclarationOnly: false, rootDir: undefined });
    const errors = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName === app ? `line ${d.file.getLineAndCharacterOfPosition(d.start!).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
    expect(errors).toEqual([]);
  }, 60_000);

  it('have no quantize, toBytes, save or summary and refuse sample and class weights by name; the core entry keeps them', () => {
    const probe = (entry: string) => JSON.parse(node(`
      const et = await import(${JSON.stringify(dist(entry))});
      const m = et.sequential([et.layers.dense(3, { activation: 'softmax', inputShape: [2] })]);
      m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
      const x = et.tensor(new Float32Array(8), [4, 2]), y = et.tensor(new Int32Array(4), [4]);
      const refusal = (f) => { try { f(); return null; } catch (e) { return e.name + ': ' + e.message; } };
      const refusalAsync = async (f) => { try { await f(); return null; } catch (e) { return e.name + ': ' + e.message; } };
      console.log(JSON.stringify({
        methods: ['quantize', 'toBytes', 'save', 'summary', 'fit', 'predict', 'evaluate', 'trainOnBatch', 'freeze', 'countParams', 'getLayer'].filter((k) => typeof m[k] === 'function'),
        isModel: m instanceof et.Model,
        fit: await refusalAsync(() => m.fit(x, y, { sampleWeight: new Float32Array(4), verbose: 0 })),
        evaluate: refusal(() => m.evaluate(x, y, { sampleWeight: new Float32Array(4) })),
        trainOnBatch: refusal(() => m.trainOnBatch(x, y, { classWeight: { 0: 2 } })),
        validation: await refusalAsync(() => m.fit(x, y, { validationData: [x, y, new Float32Array(4)], verbose: 0 })),
        checkpoint: await refusalAsync(() => m.fit(x, y, { verbose: 0, callbacks: [et.callbacks.modelCheckpoint({ filepath: '/tmp/never-written-{epoch}.safetensors' })] })),
        plain: m.trainOnBatch(x, y).loss > 0,
      }));`));
    const lite = probe('lite.js');
    expect(lite.methods).toEqual(['fit', 'predict', 'evaluate', 'trainOnBatch', 'freeze', 'countParams', 'getLayer']);
    expect(lite.isModel).toBe(true);
    expect(lite.fit).toBe("InvalidArgumentError: fit: sampleWeight is not in edgetune/lite (its models have no sample or class weights): import from 'edgetune'");
    expect(lite.evaluate).toBe("InvalidArgumentError: evaluate: sampleWeight is not in edgetune/lite (its models have no sample or class weights): import from 'edgetune'");
    expect(lite.trainOnBatch).toBe("InvalidArgumentError: trainOnBatch: classWeight is not in edgetune/lite (its models have no sample or class weights): import from 'edgetune'");
    expect(lite.validation).toMatch(/^InvalidArgumentError: evaluate: sampleWeight is not in edgetune\/lite/);
    expect(lite.checkpoint).toBe("InvalidArgumentError: modelCheckpoint: this model has no save(): edgetune/lite models are not saved; import from 'edgetune'");
    expect(lite.plain).toBe(true);
    const full = probe('index.js');
    expect(full.methods).toEqual(['quantize', 'toBytes', 'save', 'summary', 'fit', 'predict', 'evaluate', 'trainOnBatch', 'freeze', 'countParams', 'getLayer']);
    expect(full.isModel).toBe(true);
    for (const k of ['fit', 'evaluate', 'trainOnBatch', 'validation']) expect(full[k], k).toBeNull();
    // the core entry's checkpoint gets as far as the file system, which dist/index.js has none of
    expect(full.checkpoint).toMatch(/^EdgetuneError: modelCheckpoint needs a file system/);
  }, 60_000);
});
