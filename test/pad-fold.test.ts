// ZeroPadding2D folded into the convolutions that read it (host/compile/pad-fold.ts): torchvision's
// ONNX exports pad explicitly before 'valid' convolutions; the plan drops the pad's copy and the
// kernels pad instead. Outputs against the naive convolutions of test/reference/conv.ts on the
// input padded here, and the plan's ops.
import { describe, expect, it } from 'vitest';
import { input, layers, model, optimizers, tensor, verifyPlan } from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose } from './support/close';
import { conv2dRef, depthwiseRef } from './reference/conv';

const H = 9, W = 8, C = 4;
const PAD: [[number, number], [number, number]] = [[1, 2], [2, 0]];

// One asymmetric pad read by a strided depthwise convolution, a 'same' convolution and a
// convolution with explicit padding of its own (all fold: each pads by the sum).
function padded() {
  const x = input({ shape: [H, W, C] });
  const p = layers.zeroPadding2d({ padding: PAD }).apply(x);
  const dw = layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid' }).apply(p);
  const same = layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same' }).apply(p);
  const own = layers.conv2d({ filters: 3, kernelSize: [3, 2], strides: [2, 1], padding: [[1, 0], [0, 1]] }).apply(p);
  return model({ inputs: [x], outputs: [dw, same, own] });
}

describe('a zero pad read only by convolutions runs in their kernels', () => {
  it('depthwise / same / explicit readers: the naive convolutions of the padded input, and no pad op', () => {
    const m = padded();
    const batch = 2;
    const xv = randomArray(batch * H * W * C, 3, -1, 1);
    const got = m.predict(tensor(xv, [batch, H, W, C]), { batchSize: batch }) as { data: Float32Array; shape: number[] }[];
    const [[t, b], [l, r]] = PAD;
    const ph = H + t + b, pw = W + l + r;
    const xp = new Float64Array(batch * ph * pw * C);
    for (let n = 0; n < batch; n++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) {
      xp[((n * ph + i + t) * pw + j + l) * C + c] = xv[((n * H + i) * W + j) * C + c];
    }
    const geo = (kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, out: number[]) =>
      ({ B: batch, H: ph, W: pw, C, KH: kh, KW: kw, SH: sh, SW: sw, DH: 1, DW: 1, PT: pt, PL: pl, OH: out[1], OW: out[2] });
    const w = (k: number) => m.layers[k].getWeights(); // layers[0] is the pad
    expectClose(got[0].data, depthwiseRef(geo(3, 3, 2, 2, 0, 0, got[0].shape), 1, xp, w(1)[0], w(1)[1]), 1e-5, 1e-6, 'depthwise');
    expectClose(got[1].data, conv2dRef(geo(3, 3, 1, 1, 1, 1, got[1].shape), 5, xp, w(2)[0], w(2)[1]), 1e-5, 1e-6, 'same');
    expectClose(got[2].data, conv2dRef(geo(3, 2, 2, 1, 1, 0, got[2].shape), 3, xp, w(3)[0], w(3)[1]), 1e-5, 1e-6, 'explicit');
    expect(got.map((g) => g.shape)).toEqual([[batch, 5, 4, C], [batch, ph, pw, 5], [batch, 6, 10, 3]]);

    const plan = m.planInference(batch);
    expect(verifyPlan(plan)).toEqual([]);
    const ops = plan.programs.forward!.ops;
    expect(ops.map((o) => o.op)).not.toContain('zero_pad2d_forward');
    const dwOp = ops.find((o) => o.op === 'depthwise_forward')!;
    expect([dwOp.args.h, dwOp.args.w_, dwOp.args.pt, dwOp.args.pl, dwOp.args.oh, dwOp.args.ow]).toEqual([H, W, t, l, 5, 4]);
  });

  it('int8 readers (depthwise op 246, packed conv2d) fold it too: the bits of the same int8 layers padding by themselves', () => {
    const C8 = 8;
    const build = (pad: boolean) => {
      const x = input({ shape: [H, W, C8] });
      const p = pad ? layers.zeroPadding2d({ padding: PAD }).apply(x) : x;
      const own = pad ? 'valid' : PAD;
      const dw = layers.depthwiseConv2d({ kernelSize: 3, padding: own, name: 'dw' }).apply(p);
      const conv = layers.conv2d({ filters: 16, kernelSize: 3, strides: [2, 1], padding: own, name: 'conv' }).apply(p);
      return model({ inputs: [x], outputs: [dw, conv] });
    };
    const folded = build(true), own = build(false);
    for (const name of ['dw', 'conv']) own.getLayer(name).setWeights(folded.getLayer(name).getWeights());
    for (const m of [folded, own]) { for (const l of m.layers) l.trainable = false; m.quantize('int8', { activationQuantizer: null }); }
    const batch = 2;
    const x = tensor(randomArray(batch * H * W * C8, 9, -1, 1), [batch, H, W, C8]);
    const got = folded.predict(x, { batchSize: batch }) as { data: Float32Array }[];
    const want = own.predict(x, { batchSize: batch }) as { data: Float32Array }[];
    expect(got.map((g) => Array.from(g.data))).toEqual(want.map((g) => Array.from(g.data)));
    const ops = folded.planInference(batch).programs.forward!.ops.map((o) => o.op);
    expect(ops).toEqual(['depthwise_forward_i8_wide', 'conv2d_forward_i8_packed']);
  });

  it('a gradient through the pad keeps its copy (training), and the step trains', () => {
    const m = padded();
    m.compile({ optimizer: optimizers.sgd(0.05), loss: 'meanSquaredError' });
    const x = tensor(randomArray(2 * H * W * C, 5, -1, 1), [2, H, W, C]);
    const ys = [[2, 5, 4, C], [2, 12, 10, 5], [2, 6, 10, 3]].map((s, i) => tensor(randomArray(s.reduce((a, d) => a * d, 1), 6 + i, -1, 1), s));
    const before = m.evaluate(x, ys).loss;
    for (let i = 0; i < 3; i++) m.trainOnBatch(x, ys);
    expect(m.evaluate(x, ys).loss).toBeLessThan(before);
    expect(m.plan.programs.train!.ops.map((o) => o.op)).toContain('zero_pad2d_forward');
    expect(verifyPlan(m.plan)).toEqual([]);
  });
});
