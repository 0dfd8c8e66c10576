// The ONNX importer's graph handling: constant folding of shape arithmetic and deduplicated
// weights, the import options (outputs / inputs cuts, inputShape for a dynamic H/W, strict names),
// several inputs and outputs, and the refusals (data-dependent ops, dynamic shapes, external data,
// malformed attributes), each naming file, node and op. References: onnxruntime-web on the same file.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module without types
import { node, onnxModel, tensor, valueInfo } from '../scripts/onnx-writer.mjs';
import { importOnnx, InvalidArgumentError, ModelFormatError, tensor as etTensor, UnsupportedOpError } from '../dist/node.js';
import { randomArray } from './support/harness';
import { ortRun, toNhwc } from './ort';

const i64 = (v: number[]) => BigInt64Array.from(v.map(BigInt));
const conv = (inits: unknown[], name: string, cin: number, cout: number, seed: number) => {
  inits.push(tensor(`${name}.w`, [cout, cin, 3, 3], randomArray(cout * cin * 9, seed, -0.4, 0.4)), tensor(`${name}.b`, [cout], randomArray(cout, seed + 1, -0.1, 0.1)));
};

// Conv whose weight is an Identity of an initializer (PyTorch's deduplication), then a Reshape whose
// target is computed from Shape -> Gather -> Unsqueeze -> Concat (torch.flatten's old export) with
// Casts and int64 arithmetic on the way (Div truncates, as exporters' shape arithmetic relies on); a second output taps the convolution; `H` and `W` are symbolic.
function foldingGraph(hw: (number | string)[] = [6, 6]): Uint8Array {
  const inits: unknown[] = [];
  conv(inits, 'c', 3, 4, 5);
  inits.push(tensor('zero', [1], i64([0])), tensor('eight', [1], i64([8])), tensor('one', [1], i64([1])), tensor('two1', [1], i64([2])), tensor('two', [], i64([2])));
  inits.push(tensor('fc.w', [5, 4 * 36], randomArray(5 * 144, 9, -0.2, 0.2)), tensor('fc.b', [5], randomArray(5, 10, -0.1, 0.1)));
  const nodes = [
    node('Identity', ['c.w'], ['c.w.dup'], {}, '/Identity'),
    node('Conv', ['x', 'c.w.dup', 'c.b'], ['conv'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, '/c/Conv'),
    node('Relu', ['conv'], ['r'], {}, '/Relu'),
    node('Shape', ['r'], ['shape'], {}, '/Shape'),
    node('Gather', ['shape', 'two'], ['h'], { axis: 0 }, '/Gather'),
    node('Cast', ['h'], ['hf'], { to: 1 }, '/Cast'),
    node('Cast', ['hf'], ['hi'], { to: 7 }, '/Cast_1'),
    node('Mul', ['hi', 'hi'], ['hh'], {}, '/Mul'),
    node('Unsqueeze', ['hh', 'zero'], ['hh1'], {}, '/Unsqueeze'),
    node('Mul', ['hh1', 'eight'], ['twice'], {}, '/Mul_1'),
    node('Add', ['twice', 'one'], ['odd'], {}, '/Add'),
    node('Div', ['odd', 'two1'], ['features'], {}, '/Div'), // int64: (2 * 144 + 1) / 2 = 144
    node('Concat', ['zero', 'features'], ['target'], { axis: 0 }, '/Concat'),
    node('Reshape', ['r', 'target'], ['flat'], {}, '/Reshape'),
    node('Gemm', ['flat', 'fc.w', 'fc.b'], ['y'], { transB: 1 }, '/fc/Gemm'),
  ];
  return onnxModel({ name: 'folding', nodes, initializers: inits, inputs: [valueInfo('x', ['N', 3, ...hw])], outputs: [valueInfo('y', ['N', 5]), valueInfo('r', ['N', 4, ...hw])] });
}

function refusal(f: () => unknown, type: typeof ModelFormatError, ...parts: (string | RegExp)[]): void {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(type);
  for (const p of parts) expect((err as Error).message).toMatch(p);
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

describe('constant folding and import options', () => {
  it('folds Shape/Gather/Cast/Unsqueeze/Concat into a Reshape target and an Identity of a weight; outputs picks one output', async () => {
    const bytes = foldingGraph();
    const m = importOnnx(bytes, 'fold.onnx', { outputs: ['y'] });
    expect(m.layers.map((l) => l.kind)).toEqual(['conv2d', 'activation', 'flatten', 'dense']);
    const x = randomArray(2 * 3 * 36, 3, -1, 1);
    const ref = await ortRun(bytes, x, [2, 3, 6, 6]);
    const ours = m.predict(etTensor(toNhwc(x, 2, 3, 6, 6), [2, 6, 6, 3]));
    expect(maxDiff(ours.data, ref.data)).toBeLessThan(1e-5);
  });
  it('outputs cuts the graph at any tensor: a feature map comes back NCHW as in the file (onnxruntime\'s values), or NHWC with outputLayout', async () => {
    const bytes = foldingGraph();
    const m = importOnnx(bytes, 'fold.onnx', { outputs: ['r'] });
    expect(m.outputShape).toEqual([4, 6, 6]);
    expect(m.layers.map((l) => l.kind)).toEqual(['conv2d', 'activation', 'reshape', 'permute', 'reshape']); // [36, 4] -> [4, 36]
    const x = randomArray(2 * 3 * 36, 5, -1, 1);
    const ref = await ortRun(bytes, x, [2, 3, 6, 6], 'r');
    const nchw = m.predict(etTensor(toNhwc(x, 2, 3, 6, 6), [2, 6, 6, 3]));
    expect(nchw.shape).toEqual([2, 4, 6, 6]);
    expect(maxDiff(nchw.data, ref.data)).toBeLessThan(1e-5);
    const nhwc = importOnnx(bytes, 'fold.onnx', { outputs: ['r'], outputLayout: 'nhwc' });
    expect(nhwc.outputShape).toEqual([6, 6, 4]);
    expect(nhwc.layers.map((l) => l.kind)).toEqual(['conv2d', 'activation']);
    expect(maxDiff(nhwc.predict(etTensor(toNhwc(x, 2, 3, 6, 6), [2, 6, 6, 3])).data, toNhwc(ref.data, 2, 4, 6, 6))).toBeLessThan(1e-5);
    refusal(() => importOnnx(bytes, 'fold.onnx', { outputLayout: 'NHWC' as never }), InvalidArgumentError, 'fold.onnx', "outputLayout must be 'nchw' or 'nhwc'");
  });
  it('inputs starts the graph at an inner tensor', () => {
    const m = importOnnx(foldingGraph(), 'fold.onnx', { inputs: ['r'], outputs: ['y'], inputShape: [4, 6, 6] });
    expect(m.inputShape).toEqual([6, 6, 4]);
    expect(m.layers.map((l) => l.kind)).toEqual(['flatten', 'dense']);
  });
  it('a dynamic H/W takes its size from inputShape, and is refused without it', async () => {
    const bytes = foldingGraph(['H', 'W']);
    refusal(() => importOnnx(bytes, 'dyn.onnx', { outputs: ['y'] }), ModelFormatError, 'dyn.onnx', "input 'x'", "'H'", 'inputShape');
    const m = importOnnx(bytes, 'dyn.onnx', { outputs: ['y'], inputShape: [3, 6, 6] });
    const x = randomArray(3 * 36, 4, -1, 1);
    const ref = await ortRun(bytes, x, [1, 3, 6, 6]);
    expect(maxDiff(m.predict(etTensor(toNhwc(x, 1, 3, 6, 6), [1, 6, 6, 3])).data, ref.data)).toBeLessThan(1e-5);
    refusal(() => importOnnx(bytes, 'dyn.onnx', { outputs: ['y'], inputShape: [3, 6, 7] }), ModelFormatError, 'dyn.onnx', "node '/Reshape'", 'cannot reshape [N, 4,6,7]');
  });
  it('options are strict: unknown keys with a suggestion, unknown tensor names listed', () => {
    refusal(() => importOnnx(foldingGraph(), 'fold.onnx', { output: ['y'] } as never), InvalidArgumentError, "unknown option 'output'", "did you mean 'outputs'");
    refusal(() => importOnnx(foldingGraph(), 'fold.onnx', { outputs: ['logits'] }), InvalidArgumentError, "no tensor 'logits'", 'outputs: y, r');
    refusal(() => importOnnx(foldingGraph(), 'fold.onnx', { outputs: ['y'], inputShape: { img: [3, 6, 6] } }), InvalidArgumentError, "'img', which is not an input");
  });
});

describe('refusals name the file, the node and the op', () => {
  const withOp = (op: string, attrs: Record<string, unknown> = {}, extraInputs: string[] = []) => onnxModel({
    name: 'bad', initializers: [tensor('k', [1], i64([2]))],
    nodes: [node('Relu', ['x'], ['r'], {}, '/Relu'), node(op, ['r', ...extraInputs], ['y', 'i'].slice(0, op === 'TopK' ? 2 : 1), attrs, '/head/Op')],
    inputs: [valueInfo('x', ['N', 6])], outputs: [valueInfo('y', ['N', 2])],
  });
  it('data-dependent ops suggest the outputs cut before them', () => {
    refusal(() => importOnnx(withOp('TopK', { axis: 1 }, ['k']), 'det.onnx'), UnsupportedOpError, 'det.onnx', "node '/head/Op'", "'TopK'", "outputs: ['r']");
    refusal(() => importOnnx(withOp('NonZero'), 'det.onnx'), UnsupportedOpError, "'NonZero'", "outputs: ['r']");
    // the suggested cut works
    expect(importOnnx(withOp('TopK', { axis: 1 }, ['k']), 'det.onnx', { outputs: ['r'] }).outputShape).toEqual([6]);
  });
  it('an op with no mapping lists the supported ones', () => {
    refusal(() => importOnnx(withOp('LpNormalization'), 'x.onnx'), UnsupportedOpError, "'LpNormalization'", 'supported: ', 'Conv');
  });
  it('a malformed attribute', () => {
    refusal(() => importOnnx(withOp('Softmax', { axis: 'last' }), 'attr.onnx'), ModelFormatError, 'attr.onnx', "node '/head/Op' (Softmax)", "attribute 'axis'");
  });
  it('a tensor stored as external data (PyTorch export saved with save_as_external_data)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-ext-'));
    try {
      execFileSync('/usr/bin/python3', ['-c', [
        'import sys, torch, onnx', 'p = sys.argv[1]',
        "torch.onnx.export(torch.nn.Linear(4, 3), torch.randn(1, 4), p + '/m.onnx', opset_version=13)",
        "m = onnx.load(p + '/m.onnx'); onnx.save(m, p + '/ext.onnx', save_as_external_data=True, all_tensors_to_one_file=True, location='w.bin', size_threshold=0)",
      ].join('\n'), dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      refusal(() => importOnnx(readFileSync(join(dir, 'ext.onnx')), 'ext.onnx'), ModelFormatError, 'ext.onnx', 'external file', 'save_as_external_data=False');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the CLI passes the import options', () => {
  const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  it('inspect --outputs lists the cut output (NCHW, or NHWC with --output-layout); convert refuses a data-dependent op, writing nothing, and converts with the cut', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-cli-'));
    try {
      writeFileSync(join(dir, 'fold.onnx'), foldingGraph(['H', 'W']));
      const r = cli('inspect', join(dir, 'fold.onnx'), '--outputs', 'r', '--input-shape', '3,6,6');
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('input [batch, 6, 6, 3], output [batch, 4, 6, 6]');
      const nhwc = cli('inspect', join(dir, 'fold.onnx'), '--outputs', 'r', '--input-shape', '3,6,6', '--output-layout', 'nhwc');
      expect(nhwc.stderr).toBe('');
      expect(nhwc.stdout).toContain('input [batch, 6, 6, 3], output [batch, 6, 6, 4]');
      const det = onnxModel({
        name: 'det', initializers: [tensor('k', [1], i64([2]))],
        nodes: [node('Relu', ['x'], ['r'], {}, '/Relu'), node('TopK', ['r', 'k'], ['y', 'i'], { axis: 1 }, '/TopK')],
        inputs: [valueInfo('x', ['N', 6])], outputs: [valueInfo('y', ['N', 2])],
      });
      writeFileSync(join(dir, 'det.onnx'), det);
      const bad = cli('convert', join(dir, 'det.onnx'), join(dir, 'det.safetensors'));
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain("node '/TopK' uses op 'TopK'");
      expect(readdirSync(dir).sort()).toEqual(['det.onnx', 'fold.onnx']);
      const ok = cli('convert', join(dir, 'det.onnx'), join(dir, 'det.safetensors'), '--outputs', 'r');
      expect(ok.stderr).toBe('');
      expect(readdirSync(dir).sort()).toEqual(['det.onnx', 'det.safetensors', 'fold.onnx']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
