// Threads at batch 1 (docs/threads.md, issue 13): the ops that ran whole on the driver and now
// split (a direct convolution by output rows, a broadcast multiply by rows, copies, products of
// two tensors and e^x activations by element ranges, the activations' sized by their cost) give
// the same bits on 1, 2 and 3 threads.
import { describe, expect, it } from 'vitest';
import { input, layers, model, sequential, setSeed, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { bits, lastJob, sameBitsOnThreads } from './support/threads';

// A stem and a squeeze-and-excitation gate, as in efficientnet_b0: a 3x3 convolution of 8 filters
// over 3 channels (a direct convolution: K = 27), a 1x1 to 32 channels, the activation, the gate
// (global pooling, two dense layers) and its broadcast multiply over 48 x 48 positions.
function seStem(activation: string) {
  setSeed(7);
  const inp = input({ shape: [48, 48, 3] });
  const stem = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(inp);
  const x = layers.activation(activation).apply(layers.conv2d({ filters: 32, kernelSize: 1 }).apply(stem));
  const s = layers.dense(32, { activation: 'sigmoid' }).apply(layers.dense(8, { activation: 'relu' }).apply(layers.globalAveragePooling2d().apply(x)));
  return model({ inputs: inp, outputs: layers.multiply().apply([x, layers.reshape([1, 1, 32]).apply(s)]) });
}

describe('threads at batch 1: the ops that ran whole on the driver', () => {
  it('a direct convolution, a swish layer and a broadcast multiply split, with the same bits on 1, 2 and 3 threads', () => {
    const m = seStem('swish');
    const x = tensor(randomArray(48 * 48 * 3, 5), [1, 48, 48, 3]);
    m.planInference(1, undefined, 1);
    m.predict(x);
    expect(m.plan.programs.forward!.ops.map((o) => o.op)).toEqual(expect.arrayContaining(['conv2d_direct', 'act_forward', 'broadcast']));
    sameBitsOnThreads(m, x, (jobs, threads) => {
      expect(jobs['conv2d direct'], `conv2d direct on ${threads} threads`).toBe(1);
      // swish over 73728 elements (8 times ReLU's cost an element).
      expect(jobs.elementwise, `swish on ${threads} threads`).toBe(1);
      expect(jobs.broadcast, `broadcast on ${threads} threads`).toBe(1);
      // The multiply is the model's last op: 2304 rows of 32 points, 2 tiles of 32K points.
      expect(lastJob(m).tiles).toBe(2);
    });
    // With the workers running tiles (a loaded machine may leave the driver every tile at first).
    const three = bits((m.predict(x) as { data: Float32Array }).data);
    m.planInference(1, undefined, 1);
    const reference = bits((m.predict(x) as { data: Float32Array }).data);
    m.planInference(1, undefined, 2);
    for (let i = 0; i < 20 && m.threads.workerTiles === 0; i++) expect(bits((m.predict(x) as { data: Float32Array }).data)).toEqual(reference);
    expect(m.threads.workerTiles).toBeGreaterThan(0);
    expect(three).toEqual(reference);
  });

  it('max pooling at batch 1 splits by output rows: the naive maxima, the same bits on 1, 2 and 3 threads', () => {
    // resnet18's stem pooling shape, narrower: 3x3, stride 2, TF 'same' (pads 0 top-left, 1
    // bottom-right) over 56 x 56 x 64. 28 x 28 x 64 windows of 9 taps: 3 tiles of 128K taps, 2 on 2
    // threads. Whole on the driver at batch 1 it read the half of its input the other core wrote.
    // A 1x1 convolution in front (a plan of pooling alone takes no threads), its kernel the
    // identity: its output is x exactly (x * 1 plus zeros).
    const m = sequential([
      layers.conv2d(64, { kernelSize: 1, inputShape: [56, 56, 64] }),
      layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
    ]);
    const eye = new Float32Array(64 * 64);
    for (let c = 0; c < 64; c++) eye[c * 64 + c] = 1;
    m.setWeights([eye, new Float32Array(64)]);
    const xs = randomArray(56 * 56 * 64, 8);
    const x = tensor(xs, [1, 56, 56, 64]);
    m.planInference(1, undefined, 1);
    const y = (m.predict(x) as { data: Float32Array }).data;
    expect(m.plan.programs.forward!.ops.map((o) => o.op)).toEqual(['conv2d_forward_packed', 'maxpool_forward']);
    const want = new Float32Array(28 * 28 * 64).fill(-Infinity);
    for (let oh = 0; oh < 28; oh++) for (let ow = 0; ow < 28; ow++) for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) {
      const ih = 2 * oh + kh, iw = 2 * ow + kw;
      if (ih >= 56 || iw >= 56) continue;
      for (let c = 0; c < 64; c++) want[(oh * 28 + ow) * 64 + c] = Math.max(want[(oh * 28 + ow) * 64 + c], xs[(ih * 56 + iw) * 64 + c]);
    }
    expect(bits(y)).toEqual(bits(want));
    sameBitsOnThreads(m, x, (jobs, threads) => {
      expect(jobs['maxpool forward'], `max pooling on ${threads} threads`).toBe(1);
      expect(lastJob(m).tiles, `its tiles on ${threads} threads`).toBe(threads === 2 ? 2 : 3);
    });
  });

  it('a multiply of two tensors splits by element ranges: their products, the same bits on 1, 2 and 3 threads', () => {
    // mobilenet_v3's hard-swish products as PyTorch exports them (x * hardsigmoid(x)): 73728
    // elements, 2 tiles of at least 32K.
    setSeed(7);
    const inp = input({ shape: [48, 48, 3] });
    const stem = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(inp);
    const a = layers.conv2d({ filters: 32, kernelSize: 1 }).apply(stem);
    const b = layers.conv2d({ filters: 32, kernelSize: 1 }).apply(stem);
    const m = model({ inputs: inp, outputs: layers.multiply().apply([a, b]) });
    const x = tensor(randomArray(48 * 48 * 3, 8), [1, 48, 48, 3]);
    m.planInference(1, undefined, 1);
    const got = (m.predict(x) as { data: Float32Array }).data.slice();
    expect(m.plan.programs.forward!.ops.at(-1)!.op).toBe('mul');
    const [av, bv] = (model({ inputs: inp, outputs: [a, b] }).predict(x) as { data: Float32Array }[]).map((t) => t.data);
    expect(bits(got)).toEqual(bits(Float32Array.from(av, (v, i) => Math.fround(v * bv[i]))));
    sameBitsOnThreads(m, x, (jobs, threads) => {
      expect(jobs.elementwise, `the multiply on ${threads} threads`).toBe(1);
      expect(lastJob(m).tiles, `its tiles on ${threads} threads`).toBe(2);
    });
  });

  it('a residual sum (a copy, an adding copy) and the activation after it split by element ranges, the activation in tiles sized by its cost', () => {
    // 73728 elements: 2 tiles of at least 32K for the copies and a ReLU-cheap hard_swish; swish
    // (an e^x kind) counts 8 times as much: 18 tiles' worth, up to 8 tiles a thread (16 on 2
    // threads, 18 on 3).
    for (const [activation, tiles] of [['swish', [16, 18]], ['hard_swish', [2, 2]]] as const) {
      setSeed(7);
      const inp = input({ shape: [48, 48, 3] });
      const stem = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(inp);
      const a = layers.conv2d({ filters: 32, kernelSize: 1 }).apply(stem);
      const b = layers.conv2d({ filters: 32, kernelSize: 1 }).apply(stem);
      const m = model({ inputs: inp, outputs: layers.activation(activation).apply(layers.add().apply([a, b])) });
      const x = tensor(randomArray(48 * 48 * 3, 6), [1, 48, 48, 3]);
      m.planInference(1, undefined, 1);
      m.predict(x);
      expect(m.plan.programs.forward!.ops.slice(-3).map((o) => o.op)).toEqual(['copy', 'copy', 'act_forward']);
      sameBitsOnThreads(m, x, (jobs, threads) => {
        expect(jobs.elementwise, `${activation}: the two copies and the activation on ${threads} threads`).toBe(3);
        expect(lastJob(m).tiles, `${activation}'s tiles on ${threads} threads`).toBe(tiles[threads - 2]);
      });
    }
  });
});
