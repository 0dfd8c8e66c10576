// Inference plans that pay nothing per call for constant weights (issue 12): the kernels of
// convolutions and dense layers are packed into GEMM panels, and a batch norm after a convolution
// folded into a copy of its kernel and bias, by the plan's `prepare` program, which runs when the
// weights change (setWeights, a load), not at every predict. The packed and folded copies are
// regions of the arena, counted in the plan's breakdown.
import { describe, expect, it, vi } from 'vitest';
import { compilePlan, layers, sequential, setSeed, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';

// conv 3x3 (im2col) -> BN -> ReLU6 -> 1x1 conv (pointwise) -> BN -> GAP -> dense (ReLU) -> dense.
function build() {
  setSeed(11);
  const m = sequential([
    layers.conv2d({ filters: 12, kernelSize: 3, padding: 'same', inputShape: [9, 7, 6] }), layers.batchNormalization(), layers.activation('relu6'),
    layers.conv2d({ filters: 10, kernelSize: 1, useBias: false }), layers.batchNormalization(),
    layers.globalAveragePooling2d(), layers.dense({ units: 13, activation: 'relu' }), layers.dense({ units: 5 }),
  ]);
  // Moving statistics away from (0, 1), so that folding them changes the kernel.
  for (const l of m.layers) {
    if (l.kind !== 'batchNormalization') continue;
    const [gamma, beta, mean, variance] = l.getWeights();
    l.setWeights([gamma.map((_, i) => 0.5 + 0.1 * i), beta.map((_, i) => 0.2 * Math.sin(i)), mean.map((_, i) => 0.3 * Math.cos(i)), variance.map((_, i) => 0.5 + 0.05 * i)]);
  }
  return m;
}

const x = randomArray(3 * 9 * 7 * 6, 5, -2, 2);
const input = () => tensor(x, [3, 9, 7, 6]);

describe('prepare: weights packed and batch norms folded once per plan', () => {
  it('moves the folds and packing out of the forward program, and the activations into the GEMM epilogues', () => {
    const plan = build().planInference(3);
    const forward = plan.programs.forward!.ops.map((o) => o.op);
    expect(forward).toEqual(['conv2d_forward_packed', 'conv2d_forward_packed', 'gap_forward', 'gemm_packed', 'gemm_packed']);
    expect(plan.programs.prepare!.ops.map((o) => o.op)).toEqual(['bn_fold', 'pack_b', 'bn_fold', 'pack_b', 'pack_b', 'pack_b']);
    // The copies are regions of their own, counted in the breakdown (kernels 3*3*6 x 12, 10 x 10,
    // 10 x 13, 13 x 5 packed to panels 8 wide; folded kernels and biases).
    const derived = plan.regions.filter((r) => r.kind === 'derived');
    expect(plan.breakdown.derivedWeights).toBe(derived.reduce((n, r) => n + r.bytes, 0));
    const packed = (k: number, n: number) => Math.ceil(k * Math.ceil(n / 8) * 8 * 4 / 16) * 16;
    expect(derived.filter((r) => r.name.includes('packed')).map((r) => r.bytes)).toEqual([packed(54, 12), packed(12, 10), packed(10, 13), packed(13, 5)]);
    // Nothing in the forward program writes a weight or a derived copy.
    for (const op of plan.programs.forward!.ops) {
      for (const [arg, r] of Object.entries(op.uses)) if (['y', 'c'].includes(arg)) expect(plan.regions[r].kind).toBe('activation');
    }
  });

  it('predicts the same bits as a training plan, which folds in every run and packs per call', () => {
    const m = build();
    const got = m.predict(input(), { batchSize: 3 }).data;
    // The same model with a training plan (sgd, never stepped): folds in every run, packs per call.
    const t = build();
    t.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 3 });
    expect(t.plan.programs.forward!.ops.map((o) => o.op)).toContain('bn_fold');
    const want = t.predict(input(), { batchSize: 3 }).data;
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(Math.max(...got.map(Math.abs))).toBeGreaterThan(0.01);
  });

  it('runs prepare once, and again only after the weights change', () => {
    const m = build();
    m.predict(input(), { batchSize: 3 });
    const exec = m.arena.executor!;
    const run = vi.spyOn(exec, 'run');
    const first = m.predict(input(), { batchSize: 3 }).data;
    m.predict(input(), { batchSize: 3 });
    expect(run.mock.calls.map((c) => c[0])).toEqual(['forward', 'forward']);
    // New weights: the next predict re-packs and re-folds, and uses them.
    const conv = m.layers[0];
    conv.setWeights(conv.getWeights().map((w) => w.map((v) => 2 * v)));
    run.mockClear();
    const after = m.predict(input(), { batchSize: 3 }).data;
    expect(run.mock.calls.map((c) => c[0])).toEqual(['prepare', 'forward']);
    expect(Array.from(after)).not.toEqual(Array.from(first));
    const fresh = build();
    fresh.layers[0].setWeights(conv.getWeights());
    expect(Array.from(fresh.predict(input(), { batchSize: 3 }).data)).toEqual(Array.from(after));
    // The layers' own weights were never overwritten by a fold.
    expect(Array.from(conv.getWeights()[0])).toEqual(Array.from(fresh.layers[0].getWeights()[0]));
  });

  it('drops the packed copies when the memory budget cannot afford them', () => {
    setSeed(3);
    const m = sequential([layers.dense({ units: 512, activation: 'relu', inputShape: [64] }), layers.dense({ units: 512 })]);
    const full = m.planInference(4);
    expect(full.breakdown.derivedWeights).toBe((64 * 512 + 512 * 512) * 4);
    const lean = compilePlan(m.graph, { batchSize: 4, mode: 'inference', prepareWeights: false });
    expect(lean.pages).toBeLessThan(full.pages);
    const fitted = m.planInference(4, lean.pages * 65536);
    expect(fitted.breakdown.derivedWeights).toBe(0);
    expect(fitted.programs.prepare).toBeUndefined();
    expect(fitted.programs.forward!.ops.map((o) => o.op)).toEqual(['bias_fill', 'gemm', 'relu_forward', 'bias_fill', 'gemm']);
  });
});
