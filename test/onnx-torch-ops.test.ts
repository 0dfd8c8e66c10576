// The ONNX importer op by op against PyTorch: small modules exported by PyTorch's own exporter
// (torch.onnx.export, dynamic batch) and their outputs from PyTorch itself, generated at test time
// by test/support/torch-onnx-ops.py with Debian's python3-torch (/usr/bin/python3). Each imports
// and matches within 1e-5 (relative to the output's largest magnitude, at least 1) at batch 1 and 2.
// A case whose layers this build lacks (issue 11 lands them from several branches) must be refused
// with a typed error naming the file; once the layer is present the case must match.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importOnnx, input, layers, model, ModelFormatError, tensor, type Tensor } from '../dist/node.js';

interface Case { file: string; needs: string[]; inputs: number[][]; outputs: number[][] }

const dir = mkdtempSync(join(tmpdir(), 'onnx-torch-'));
execFileSync('/usr/bin/python3', [new URL('./support/torch-onnx-ops.py', import.meta.url).pathname, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, Case>;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

// [n, C, H, W] -> [n, H, W, C] (inputs are NHWC; outputs come back in ONNX's order, NCHW)
function toNhwc(x: Float32Array, n: number, [c, h, w]: number[]): Float32Array {
  const y = new Float32Array(x.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) y[(b * h * w + i) * c + k] = x[(b * c + k) * h * w + i];
  return y;
}

// Whether this build has what a case needs (a layer kind or an issue-11 option of one).
const tryOr = (f: () => unknown) => { try { f(); return true; } catch { return false; } };
const has = (kind: string) => typeof (layers as Record<string, unknown>)[kind] === 'function';
const call = (kind: string, ...args: unknown[]) => ((layers as Record<string, unknown>)[kind] as (...a: unknown[]) => { apply(x: unknown): { shape: number[] } })(...args);
const PROBES: Record<string, () => boolean> = {
  'multiply-broadcast': () => tryOr(() => layers.multiply().apply([input({ shape: [2, 2, 3] }), input({ shape: [1, 1, 3] })])),
  'concatenate-axis': () => tryOr(() => layers.concatenate({ axis: 1 }).apply([input({ shape: [2, 2, 3] }), input({ shape: [1, 2, 3] })])),
  'softmax-axis': () => tryOr(() => call('softmax', { axis: 1 })),
  'conv2d-groups': () => tryOr(() => call('conv2d', { filters: 2, kernelSize: 1, groups: 2 }).apply(input({ shape: [2, 2, 2] }))),
  'pool-pads': () => tryOr(() => {
    const y = call('maxPooling2d', { poolSize: 2, padding: [[1, 1], [1, 1]], ceilMode: true }).apply(input({ shape: [3, 3, 1] }));
    if (y.shape[0] !== 2) throw new Error('pads ignored');
  }),
  resizing: () => tryOr(() => call('resizing', { height: 2, width: 2, interpolation: 'bilinear', coordinateTransform: 'align_corners' })),
  'multi-io': () => tryOr(() => {
    const [a, b] = [input({ shape: [2] }), input({ shape: [2] })];
    (model as (o: unknown) => unknown)({ inputs: [a, b], outputs: [layers.add().apply([a, b]), layers.dense(1).apply(a)] });
  }),
};
const available = (need: string) => (PROBES[need] ? PROBES[need]() : has(need));

function compare(name: string, c: Case): void {
  const m = importOnnx(readFileSync(join(dir, c.file)), c.file);
  for (const n of [1, 2]) {
    const xs = c.inputs.map((s, i) => {
      const x = f32(join(dir, `${name}.b${n}.in${i}.bin`));
      return s.length === 3 ? tensor(toNhwc(x, n, s), [n, s[1], s[2], s[0]]) : tensor(x, [n, ...s]);
    });
    const got = m.predict((xs.length === 1 ? xs[0] : xs) as Tensor);
    const outs = (Array.isArray(got) ? got : [got]) as Tensor[];
    expect(outs.length).toBe(c.outputs.length);
    c.outputs.forEach((s, i) => {
      const ref = f32(join(dir, `${name}.b${n}.out${i}.bin`));
      expect(outs[i].shape, `${name} output ${i} shape`).toEqual([n, ...s]);
      const ours = outs[i].data;
      expect(ours.length, `${name} output ${i} size`).toBe(ref.length);
      let worst = 0;
      let scale = 1;
      for (let k = 0; k < ref.length; k++) { worst = Math.max(worst, Math.abs(ours[k] - ref[k])); scale = Math.max(scale, Math.abs(ref[k])); }
      expect(worst / scale, `${name} output ${i} at batch ${n}`).toBeLessThan(1e-5);
    });
  }
}

describe('PyTorch exports import and match PyTorch, op by op', () => {
  for (const [name, c] of Object.entries(manifest)) {
    const missing = c.needs.filter((need) => !available(need));
    const title = missing.length ? `${name}: refused by name while this build lacks ${missing.join(', ')}` : `${name} (${c.inputs.map((s) => `[${s}]`).join(', ')})`;
    it(title, () => {
      if (!missing.length) return compare(name, c);
      let err: unknown;
      try { compare(name, c); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(ModelFormatError);
      expect((err as Error).message).toContain(c.file);
    });
  }
});
