// Winograd F(2x2, 3x3) in inference plans (issue 12; host/compile/conv-lowering.ts usesWinograd,
// assembly/kernels/winograd.ts): which layers take it, the transformed kernels `prepare` writes
// (regions of the arena, in the plan's breakdown), predictions against a training plan of the same
// model (which keeps im2col + GEMM), and the same bits on 1, 2 and 3 threads.
import { describe, expect, it } from 'vitest';
import { layers, sequential, setSeed, tensor, threadsReady } from '../dist/node.js';
import { randomArray } from './support/harness';
import { closeness, describeCloseness } from './support/close';
import { lastJob } from './support/threads';

// 3x3 'same' 16 -> 24 + BN + ReLU (folded, clamp in the epilogue); a ZeroPadding2D folded into a
// 3x3 'valid' 24 -> 12 with ReLU6 (explicit asymmetric padding); then 3x3 convolutions that keep
// the GEMM: stride 2, dilation 2, 6 filters (< 8); a dense head.
function build() {
  setSeed(17);
  const m = sequential([
    layers.conv2d({ filters: 24, kernelSize: 3, padding: 'same', inputShape: [11, 9, 16] }), layers.batchNormalization(), layers.activation('relu'),
    layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), layers.conv2d({ filters: 12, kernelSize: 3, activation: 'relu6' }),
    layers.conv2d({ filters: 10, kernelSize: 3, strides: 2, padding: 'same' }),
    layers.conv2d({ filters: 9, kernelSize: 3, dilationRate: 2, padding: 'same' }),
    layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }),
    layers.flatten(), layers.dense({ units: 5 }),
  ]);
  for (const l of m.layers) {
    if (l.kind !== 'batchNormalization') continue;
    const [gamma, beta, mean, variance] = l.getWeights();
    l.setWeights([gamma.map((_, i) => 0.5 + 0.1 * i), beta.map((_, i) => 0.2 * Math.sin(i)), mean.map((_, i) => 0.3 * Math.cos(i)), variance.map((_, i) => 0.5 + 0.05 * i)]);
  }
  return m;
}

const input = (batch: number) => tensor(randomArray(batch * 11 * 9 * 16, 3 + batch, -2, 2), [batch, 11, 9, 16]);
const bits = (f: Float32Array) => new Uint32Array(Float32Array.from(f).buffer);

describe('Winograd F(2x2, 3x3) in inference plans', () => {
  it('runs the 3x3 stride-1 undilated convolutions with at least 8 channels and filters as conv2d_winograd, their kernels transformed by prepare', () => {
    const plan = build().planInference(2);
    expect(plan.programs.forward!.ops.map((o) => o.op)).toEqual([
      'conv2d_winograd', 'conv2d_winograd', 'conv2d_forward_packed', 'conv2d_forward_packed', 'conv2d_forward_packed', 'gemm_packed',
    ]);
    expect(plan.programs.prepare!.ops.map((o) => o.op)).toEqual(['bn_fold', 'winograd_pack', 'winograd_pack', 'pack_b', 'pack_b', 'pack_b', 'pack_b']);
    // The pad fold: explicit padding top 1, left 0 on the 12 x 12 image the pad would have made.
    const second = plan.programs.forward!.ops[1].args as Record<string, number>;
    expect([second.pt, second.pl, second.oh, second.ow, second.h, second.w_]).toEqual([1, 0, 12, 8, 11, 9]);
    // The transformed kernels: 16 matrices (c, f) in panels 8 wide, counted in the breakdown.
    const derived = plan.regions.filter((r) => r.kind === 'derived');
    expect(plan.breakdown.derivedWeights).toBe(derived.reduce((n, r) => n + r.bytes, 0));
    const panels = (c: number, f: number) => 16 * c * Math.ceil(f / 8) * 8 * 4;
    expect(derived.filter((r) => r.name.includes('winograd')).map((r) => r.bytes)).toEqual([panels(16, 24), panels(24, 12)]);
  });

  it('predicts within the rounding of a training plan (im2col + GEMM) at batch 1 and 8', () => {
    for (const batch of [1, 8]) {
      const m = build();
      const got = m.predict(input(batch), { batchSize: batch }).data;
      expect(m.plan.programs.forward!.ops.filter((o) => o.op === 'conv2d_winograd')).toHaveLength(2);
      const t = build();
      t.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: batch });
      expect(t.plan.programs.forward!.ops.some((o) => o.op === 'conv2d_winograd')).toBe(false);
      const want = t.predict(input(batch), { batchSize: batch }).data;
      // Both differ from the exact sums by a few units of f32 rounding per layer (the kernel's
      // bound, test/winograd.test.ts, is about (C + 10) u times the sums of magnitudes); 1e-4 of
      // the output scale covers five layers of that with room.
      const scale = Math.max(...want.map(Math.abs));
      expect(scale).toBeGreaterThan(0.1);
      const close = closeness(got, want, 0, 1e-4 * scale);
      expect(close.ratio, describeCloseness(`batch ${batch}`, close)).toBeLessThanOrEqual(1);
    }
  });

  it('gives the same bits on 1, 2 and 3 threads, split by blocks of tiles that the workers run', async () => {
    // 128 -> 128 at 14x14, batch 1: 49 tiles in blocks of 16 on one thread, of 8 a thread on 2 and
    // 4 on 3 (their shares of the scratch for 16); the last block, tile 48, takes the GEMMs' 1-row path.
    // No job tile holds fewer tiles than a block: 6 job tiles of 8 (the last 9) on 2 threads, where
    // tiles of 4 would read U twice as often; 12 of 4 on 3.
    setSeed(5);
    const m = sequential([layers.conv2d(128, { kernelSize: 3, padding: 'same', inputShape: [14, 14, 128], activation: 'relu' })]);
    const x = tensor(randomArray(14 * 14 * 128, 9), [1, 14, 14, 128]);
    m.planInference(1, undefined, 1);
    const one = m.predict(x).data.slice();
    expect(m.plan.programs.forward!.ops.map((o) => o.op)).toEqual(['conv2d_winograd']);
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
      // One job a layer, each thread running whole blocks (tap tables, transforms, the 16 GEMMs)
      // in its share of the scratch; no GEMM split again inside it.
      expect(jobs?.['conv2d winograd'], 'the layer split by tile blocks, once a run').toBe(runs);
      expect(jobs?.['gemm packed'], 'no nested split').toBe(0);
      expect(lastJob(m).tiles, `job tiles on ${threads} threads`).toBe(threads === 2 ? 6 : 12);
    }
  });
});
