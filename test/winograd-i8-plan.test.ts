// Winograd F(2x2, 3x3) on int8 kernels in inference plans (issue 14; host/compile/conv-lowering.ts
// usesWinogradI8, assembly/kernels/winograd-i8.ts): which layers take it, that their kernels stay
// int8 (no packed or transformed copy in the arena), predictions against a training plan of the
// same int8 model (im2col + the int8 GEMM per call), and the same bits on 1, 2 and 3 threads.
import { describe, expect, it } from 'vitest';
import { layers, sequential, setSeed, tensor, threadsReady, verifyPlan } from '../dist/node.js';
import { randomArray } from './support/harness';
import { closeness, describeCloseness } from './support/close';

// A 3x3 'same' 16 -> 24 with ReLU (its clamp in the output transform); a ZeroPadding2D folded into
// a 3x3 'valid' 24 -> 12 with ReLU6 (explicit asymmetric padding); then 3x3 convolutions that keep
// the int8 im2col GEMM: stride 2, dilation 2, 6 filters (< 8); a trainable dense head (float).
function build() {
  setSeed(23);
  const m = sequential([
    layers.conv2d({ filters: 24, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [11, 9, 16], name: 'c1' }),
    layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), layers.conv2d({ filters: 12, kernelSize: 3, activation: 'relu6', name: 'c2' }),
    layers.conv2d({ filters: 10, kernelSize: 3, strides: 2, padding: 'same', name: 'c3' }),
    layers.conv2d({ filters: 9, kernelSize: 3, dilationRate: 2, padding: 'same', name: 'c4' }),
    layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'c5' }),
    layers.flatten(), layers.dense({ units: 5, name: 'head' }),
  ]);
  for (const name of ['c1', 'c2', 'c3', 'c4', 'c5']) m.getLayer(name).trainable = false;
  return m.quantize('int8', { activationQuantizer: null });
}

const input = (batch: number) => tensor(randomArray(batch * 11 * 9 * 16, 3 + batch, -2, 2), [batch, 11, 9, 16]);
const bits = (f: Float32Array) => new Uint32Array(Float32Array.from(f).buffer);

describe('Winograd F(2x2, 3x3) on int8 kernels in inference plans', () => {
  it('runs the int8 3x3 stride-1 undilated convolutions with at least 8 channels and filters as conv2d_winograd_i8 on q itself', () => {
    const m = build();
    m.predict(input(2), { batchSize: 2 });
    const plan = m.plan;
    expect(plan.programs.forward!.ops.map((o) => [o.op, o.layer])).toEqual([
      ['conv2d_winograd_i8', 'c1'], ['conv2d_winograd_i8', 'c2'], ['conv2d_forward_i8_packed', 'c3'], ['conv2d_forward_i8_packed', 'c4'],
      ['conv2d_forward_i8_packed', 'c5'], ['gemm_packed', 'head'],
    ]);
    // The Winograd layers read their int8 kernel region: no packed or transformed copy of it.
    const ops = plan.programs.forward!.ops;
    const kernel = (name: string) => plan.regions.findIndex((r) => r.name === `${name}/kernel`);
    for (const [i, name] of [[0, 'c1'], [1, 'c2']] as const) {
      expect(plan.regions[kernel(name)].kind).toBe('param');
      expect(plan.regions[kernel(name)].bytes).toBe(Math.ceil((9 * [16, 24][i] * [24, 12][i]) / 16) * 16); // a byte a weight
      expect((ops[i].args as Record<string, number>).q).toBe(plan.regions[kernel(name)].offset);
    }
    expect(plan.regions.filter((r) => r.kind === 'derived' && /^c[12] /.test(r.name))).toEqual([]);
    expect(plan.programs.prepare!.ops.map((o) => [o.op, o.layer])).toEqual([['pack_b_i8', 'c3'], ['pack_b_i8', 'c4'], ['pack_b_i8', 'c5'], ['pack_b', 'head']]);
    // The pad fold: explicit padding top 1, left 0 on the 12 x 12 image the pad would have made.
    const second = ops[1].args as Record<string, number>;
    expect([second.pt, second.pl, second.oh, second.ow, second.h, second.w_]).toEqual([1, 0, 12, 8, 11, 9]);
    // ReLU and ReLU6 in the output transform; one block of channels and filters (q transformed once a call).
    expect([ops[0].args.lo, ops[0].args.hi, ops[1].args.lo, ops[1].args.hi]).toEqual([0, Infinity, 0, 6]);
    expect([ops[0].args.fb, ops[0].args.cb, ops[1].args.fb, ops[1].args.cb]).toEqual([24, 16, 12, 24]);
    expect(verifyPlan(plan)).toEqual([]);
  });

  it('predicts within the rounding of a training plan of the same int8 model (im2col + the int8 GEMM per call) at batch 1 and 8', () => {
    for (const batch of [1, 8]) {
      const m = build();
      const got = m.predict(input(batch), { batchSize: batch }).data;
      expect(m.plan.programs.forward!.ops.filter((o) => o.op === 'conv2d_winograd_i8')).toHaveLength(2);
      const t = build();
      t.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: batch });
      expect(t.plan.programs.forward!.ops.some((o) => o.op.startsWith('conv2d_winograd'))).toBe(false);
      const want = t.predict(input(batch), { batchSize: batch }).data;
      // Both differ from the exact sums of q / scale by a few units of f32 rounding per layer
      // (test/winograd-i8.test.ts's bound, about (C + 11) u times the sums of magnitudes); 1e-4 of
      // the output scale covers five layers of that with room.
      const scale = Math.max(...want.map(Math.abs));
      expect(scale).toBeGreaterThan(0.1);
      const close = closeness(got, want, 0, 1e-4 * scale);
      expect(close.ratio, describeCloseness(`batch ${batch}`, close)).toBeLessThanOrEqual(1);
    }
  });

  it('gives the same bits on 1, 2 and 3 threads, split by blocks of tiles that the workers run', async () => {
    // 128 -> 128 at 14x14, batch 1: 49 tiles in blocks of 32 (2 blocks of 64 channels, 2 of 64
    // filters) on one thread; on 2 and 3 threads shares of the scratch with fewer filters a block
    // and fewer tiles; the last tile takes the GEMMs' 1-row path.
    setSeed(5);
    const m = sequential([layers.conv2d(128, { kernelSize: 3, padding: 'same', inputShape: [14, 14, 128], activation: 'relu', name: 'c' })]);
    m.getLayer('c').trainable = false;
    m.quantize('int8', { activationQuantizer: null });
    const x = tensor(randomArray(14 * 14 * 128, 9), [1, 14, 14, 128]);
    m.planInference(1, undefined, 1);
    const one = m.predict(x).data.slice();
    expect(m.plan.programs.forward!.ops.map((o) => o.op)).toEqual(['conv2d_winograd_i8']);
    expect([m.plan.programs.forward!.ops[0].args.tiles, m.plan.programs.forward!.ops[0].args.fb, m.plan.programs.forward!.ops[0].args.cb]).toEqual([32, 64, 64]);
    for (const threads of [2, 3]) {
      m.planInference(1, undefined, threads);
      // The pool starts on the first run: wait for its workers, then run until they have taken
      // tiles (a loaded machine may not schedule them in time for one run), every run the same bits.
      let runs = 0;
      for (; runs < 40 && (runs < 2 || m.threads.workerTiles === 0); runs++) {
        if (runs === 1) await threadsReady();
        expect(bits(m.predict(x).data.slice()), `${threads} threads, run ${runs}`).toEqual(bits(one));
      }
      expect(m.threads.threads).toBe(threads);
      expect(m.threads.workerTiles, 'tiles the workers ran').toBeGreaterThan(0);
      const jobs = (m as unknown as { arena: { executor: { splitJobs: Record<string, number> | null } } }).arena.executor.splitJobs;
      // One job a layer, each thread running whole blocks in its share of the scratch; no GEMM split again inside it.
      expect(jobs?.['conv2d winograd i8'], 'the layer split by tile blocks, once a run').toBe(runs);
      expect(jobs?.['gemm packed'], 'no nested split').toBe(0);
    }
  });
});
