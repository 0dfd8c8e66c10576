// Channel re-layouts planned away (host/compile/channel-gather.ts): ShuffleNet's split -> concat ->
// channel shuffle (reshape / permute / reshape) -> split writes each half once, straight from the
// tensors it comes from, and the values are exactly the re-layouts' (checked against the shuffle's
// definition written here, element for element).
import { describe, expect, it } from 'vitest';
import { input, layers, model, optimizers, tensor, threadsReady, verifyPlan, type SymbolicTensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { sameBits } from './support/close';
import { splitJobs } from './support/threads';

const H = 3, W = 4, C = 8;
const P = H * W;

// PyTorch's channel_shuffle (view (g, C/g), transpose, flatten) of two groups, in NHWC: output
// channel 2i + k is input channel k * C/2 + i.
function shuffleRef(x: ArrayLike<number>, batch: number, c: number, p = P): number[] {
  const y = new Array<number>(x.length);
  for (let q = 0; q < batch * p; q++) for (let i = 0; i < c / 2; i++) for (let k = 0; k < 2; k++) y[q * c + 2 * i + k] = x[q * c + k * (c / 2) + i];
  return y;
}
const concatRef = (a: ArrayLike<number>, b: ArrayLike<number>, batch: number, ca: number, cb: number, p = P) =>
  Array.from({ length: batch * p * (ca + cb) }, (_, e) => {
    const q = Math.floor(e / (ca + cb)), j = e % (ca + cb);
    return j < ca ? a[q * ca + j] : b[q * cb + j - ca];
  });
const channelsRef = (x: ArrayLike<number>, batch: number, c: number, from: number, to: number) =>
  Array.from({ length: batch * P * (to - from) }, (_, e) => x[Math.floor(e / (to - from)) * c + from + (e % (to - from))]);

// The shuffle as torchvision's ONNX export leaves it: reshape (P, 2, c/2), permute, reshape back.
const shuffle = (t: SymbolicTensor, c: number, h = H, w = W) =>
  layers.reshape([h, w, c]).apply(layers.permute([1, 3, 2]).apply(layers.reshape([h * w, 2, c / 2]).apply(t)));
const half = (t: SymbolicTensor, c: number, second: boolean) =>
  layers.slice({ begin: [0, 0, second ? c / 2 : 0], end: [H, W, second ? c : c / 2] }).apply(t);

// Two ShuffleNet units' worth of re-layouts: a and b concatenated and shuffled, split; the second
// half concatenated with c and shuffled again, split.
function twoUnits() {
  const a = input({ shape: [H, W, C / 2] }), b = input({ shape: [H, W, C / 2] }), c = input({ shape: [H, W, C / 2] });
  const s = shuffle(layers.concatenate().apply([a, b]), C);
  const first = half(s, C, false), second = half(s, C, true);
  const t = shuffle(layers.concatenate().apply([second, c]), C);
  return { inputs: [a, b, c], outputs: [first, half(t, C, false), half(t, C, true)] };
}

describe('channel gathers: concatenate / shuffle / split written once from their sources', () => {
  it('two shuffle units: outputs equal to the definition, the plan interleaves instead of copying four times', () => {
    const { inputs, outputs } = twoUnits();
    const m = model({ inputs, outputs });
    const batch = 2;
    const xs = [1, 2, 3].map((seed) => randomArray(batch * P * (C / 2), seed, -1, 1));
    const got = m.predict(xs.map((v) => tensor(v, [batch, H, W, C / 2])), { batchSize: batch }) as { data: Float32Array }[];
    const s = shuffleRef(concatRef(xs[0], xs[1], batch, C / 2, C / 2), batch, C);
    const t = shuffleRef(concatRef(channelsRef(s, batch, C, C / 2, C), xs[2], batch, C / 2, C / 2), batch, C);
    expect(Array.from(got[0].data)).toEqual(channelsRef(s, batch, C, 0, C / 2));
    expect(Array.from(got[1].data)).toEqual(channelsRef(t, batch, C, 0, C / 2));
    expect(Array.from(got[2].data)).toEqual(channelsRef(t, batch, C, C / 2, C));

    const plan = m.planInference(batch);
    expect(verifyPlan(plan)).toEqual([]);
    const ops = plan.programs.forward!.ops.map((o) => o.op);
    // Each half is one interleave of its two sources (the second unit's first half is not read):
    // no concatenation, shuffle or slice copy is left.
    expect(ops.filter((o) => o === 'nd_copy' || o === 'copy_strided')).toEqual([]);
    expect(ops.filter((o) => o === 'interleave2').length).toBe(4);
  });

  it('reshapes read by a concatenation that is not per pixel stay free (no copy of the reshaped tensor)', () => {
    // Two detection heads' outputs as anchors x 4: reshaped, then joined along the anchors.
    const a = input({ shape: [2, 3, 4] }), b = input({ shape: [3, 3, 4] });
    const joined = layers.concatenate({ axis: 1 }).apply([layers.reshape([6, 4]).apply(a), layers.reshape([9, 4]).apply(b)]);
    const m = model({ inputs: [a, b], outputs: [joined] });
    const av = randomArray(2 * 24, 11, -1, 1), bv = randomArray(2 * 36, 12, -1, 1);
    const got = m.predict([tensor(av, [2, 2, 3, 4]), tensor(bv, [2, 3, 3, 4])], { batchSize: 2 }) as { data: Float32Array };
    expect(Array.from(got.data)).toEqual([0, 1].flatMap((n) => [...av.slice(n * 24, n * 24 + 24), ...bv.slice(n * 36, n * 36 + 36)]));
    const plan = m.planInference(2);
    expect(verifyPlan(plan)).toEqual([]);
    // One copy per input of the concatenation, nothing for the reshapes.
    expect(plan.programs.forward!.ops.map((o) => o.op)).toEqual(['nd_copy', 'nd_copy']);
  });

  it('on 2 and 3 threads a large interleave is split by rows: the values of the definition, the same bits as one thread', async () => {
    // shufflenet_v2_x0_5's first stage at 224x224 (28x28, two halves of 24 channels), 8 images. One
    // half comes through a 1x1 convolution holding the identity (x * 1 + the 0 * others: x, bit for
    // bit), as a unit's branch does: a plan with no op large enough to split runs on one thread.
    const h = 28, w = 28, c = 48, p = h * w, batch = 8;
    const a = input({ shape: [h, w, c / 2] }), b = input({ shape: [h, w, c / 2] });
    const id = layers.conv2d({ filters: c / 2, kernelSize: 1 });
    const s = shuffle(layers.concatenate().apply([id.apply(a) as SymbolicTensor, b]), c, h, w);
    const m = model({ inputs: [a, b], outputs: s });
    id.setWeights([Float32Array.from({ length: (c / 2) ** 2 }, (_, i) => (i % (c / 2 + 1) === 0 ? 1 : 0)), new Float32Array(c / 2)]);
    const av = randomArray(batch * p * (c / 2), 21, -1, 1), bv = randomArray(batch * p * (c / 2), 22, -1, 1);
    const xs = [tensor(av, [batch, h, w, c / 2]), tensor(bv, [batch, h, w, c / 2])];
    const want = Float32Array.from(shuffleRef(concatRef(av, bv, batch, c / 2, c / 2, p), batch, c, p));
    expect(m.planInference(batch, undefined, 1).programs.forward!.ops.map((o) => o.op)).toEqual(['conv2d_forward_packed', 'interleave2']);
    expect(sameBits((m.predict(xs, { batchSize: batch }) as { data: Float32Array }).data, want)).toBe(true);
    for (const threads of [2, 3]) {
      m.planInference(batch, undefined, threads);
      // Until the pool's workers have run tiles (they start with the first run).
      for (let runs = 0; runs < 40 && (runs < 2 || m.threads.workerTiles === 0); runs++) {
        if (runs === 1) await threadsReady();
        expect(sameBits((m.predict(xs, { batchSize: batch }) as { data: Float32Array }).data, want), `${threads} threads, run ${runs}`).toBe(true);
      }
      expect(m.threads.workerTiles, 'tiles the workers ran').toBeGreaterThan(0);
      expect(splitJobs(m)!.elementwise, 'interleaves split (JOB_ELEMENTWISE)').toBeGreaterThan(0);
    }
  });

  it('a gradient through the re-layouts keeps them as copies (training), and the step trains', () => {
    const x = input({ shape: [H, W, 2] });
    const conv = layers.conv2d({ filters: C, kernelSize: 1, activation: 'tanh' }).apply(x);
    const s = shuffle(conv, C);
    const y = layers.globalAveragePooling2d().apply(half(s, C, true));
    const m = model({ inputs: [x], outputs: [y] });
    m.compile({ optimizer: optimizers.sgd(0.1), loss: 'meanSquaredError' });
    const xb = tensor(randomArray(4 * P * 2, 7, -1, 1), [4, H, W, 2]);
    const yb = tensor(randomArray(4 * (C / 2), 8, -1, 1), [4, C / 2]);
    const before = m.evaluate(xb, yb).loss;
    for (let i = 0; i < 5; i++) m.trainOnBatch(xb, yb);
    expect(m.evaluate(xb, yb).loss).toBeLessThan(before);
    expect(verifyPlan(m.plan)).toEqual([]);
    expect(m.plan.programs.train!.ops.map((o) => o.op)).not.toContain('interleave2');
    // Inference of the same model plans the shuffle away.
    expect(m.planInference(4).programs.forward!.ops.map((o) => o.op)).toContain('interleave2');
  });
});
