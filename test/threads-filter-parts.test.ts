// A convolution's filter gradient as eight partial sums over fixed ranges of output positions in
// scratch the training plan gave them (op conv2d_backward_filter_parts, host/compile/conv-lowering.ts
// convFilterParts; docs/threads.md): the gradient against an f64 reference, the same bits on 1, 2
// and 3 threads, the parts really run as a thread job, and a layer too large for the room keeps
// the split by rows of dw.
import { describe, expect, it } from 'vitest';
import { layers, sequential, setSeed, tensor, threadsReady } from '../dist/node.js';
import { randomArray } from './support/harness';

type Jobs = Record<string, number>;
type Internals = { arena: { executor: { splitJobs: Jobs | null } }; plan: { programs: Record<string, { ops: { op: string; layer: string; args: Record<string, number> }[] }> } };
const internals = (m: unknown) => m as Internals;
const bits = (f: Float32Array) => new Uint32Array(Float32Array.from(f).buffer);

// 3x3 'same' over 14x14x32 into 64 filters (the bench CNN's second layer: dw 288 x 64), batch 8:
// 1568 positions, 196 a part. The loss is the mse of the convolution's output against y.
const B = 8, H = 14, W = 14, C = 32, F = 64;
const x = randomArray(B * H * W * C, 5, -1, 1);
const y = randomArray(B * H * W * F, 6, -1, 1);

function model(threads: number, filters = F) {
  setSeed(3);
  const m = sequential([layers.conv2d(filters, { kernelSize: 3, padding: 'same', useBias: true, inputShape: [H, W, C] })]);
  m.compile({ optimizer: 'sgd', loss: 'mse', batchSize: B, threads });
  return m;
}

// dw (3, 3, C, F) and db (F) of mean((conv(x, w) + b - y)^2) in f64.
function reference(w: Float32Array, b: Float32Array): { dw: Float64Array; db: Float64Array } {
  const dw = new Float64Array(9 * C * F), db = new Float64Array(F);
  const scale = 2 / (B * H * W * F);
  const out = new Float64Array(F);
  for (let n = 0; n < B; n++) for (let oh = 0; oh < H; oh++) for (let ow = 0; ow < W; ow++) {
    for (let f = 0; f < F; f++) out[f] = b[f];
    for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) {
      const ih = oh + kh - 1, iw = ow + kw - 1;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (let c = 0; c < C; c++) {
        const xv = x[((n * H + ih) * W + iw) * C + c];
        for (let f = 0; f < F; f++) out[f] += xv * w[((kh * 3 + kw) * C + c) * F + f];
      }
    }
    const at = ((n * H + oh) * W + ow) * F;
    for (let f = 0; f < F; f++) out[f] = scale * (out[f] - y[at + f]);
    for (let f = 0; f < F; f++) db[f] += out[f];
    for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) {
      const ih = oh + kh - 1, iw = ow + kw - 1;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (let c = 0; c < C; c++) {
        const xv = x[((n * H + ih) * W + iw) * C + c];
        const row = ((kh * 3 + kw) * C + c) * F;
        for (let f = 0; f < F; f++) dw[row + f] += xv * out[f];
      }
    }
  }
  return { dw, db };
}

describe('the filter gradient by parts in planned scratch', () => {
  it('a 288 x 64 dw: the f64 reference, the same bits on 1, 2 and 3 threads, run as a thread job of parts', async () => {
    const grads: Map<string, Float32Array>[] = [];
    for (const threads of [1, 2, 3]) {
      const m = model(threads);
      m.computeGradients(tensor(x, [B, H, W, C]), tensor(y, [B, H, W, F]));
      await threadsReady();
      const before = internals(m).arena.executor.splitJobs?.['conv2d backward filter parts'] ?? 0;
      const g = m.computeGradients(tensor(x, [B, H, W, C]), tensor(y, [B, H, W, F]));
      grads.push(g.weights);
      const ops = internals(m).plan.programs.train.ops.filter((o) => o.layer === m.layers[0].name).map((o) => o.op);
      expect(ops, 'the training plan').toContain('conv2d_backward_filter_parts');
      if (threads > 1) {
        expect(m.threads.threads).toBe(threads);
        expect(internals(m).arena.executor.splitJobs!['conv2d backward filter parts'] - before, 'parts job a gradients run').toBe(1);
        expect(internals(m).arena.executor.splitJobs!['conv2d backward filter'], 'no split by rows').toBe(0);
      }
      if (threads === 1) {
        const [w, b] = m.layers[0].getWeights();
        const want = reference(w, b);
        const dw = g.weights.get(`${m.layers[0].name}/kernel`)!, db = g.weights.get(`${m.layers[0].name}/bias`)!;
        let worst = 0;
        const big = want.dw.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
        want.dw.forEach((v, i) => { worst = Math.max(worst, Math.abs(dw[i] - v)); });
        expect(worst / big, 'dw against f64, relative to its largest').toBeLessThan(2e-6);
        want.db.forEach((v, i) => expect(db[i]).toBeCloseTo(v, 7));
      }
    }
    // Layer names differ between the models (conv2d, conv2d_1, ...): by order.
    const [one, ...many] = grads.map((g) => [...g.values()]);
    expect(one.length).toBe(2);
    for (const other of many) one.forEach((g, i) => expect(bits(other[i]), `weight ${i}`).toEqual(bits(g)));
  });

  it('a dw whose partial sums would take more than 4 column buffers keeps the split by rows', async () => {
    const m = model(2, 256); // 8 x 288 x 256 floats: 2.4 MB > 1 MB
    const ops = internals(m).plan.programs.train.ops.map((o) => o.op);
    expect(ops).toContain('conv2d_backward_filter');
    expect(ops).not.toContain('conv2d_backward_filter_parts');
  });
});
