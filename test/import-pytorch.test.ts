// PyTorch state dicts (safetensors) into a user-built edgetune model, checked against a naive
// PyTorch-semantics forward in NCHW written here from the nn.Conv2d / nn.BatchNorm2d / nn.Linear
// definitions (no PyTorch on this machine): OIHW kernels, groups, (C, H, W) flattening, x W^T + b.
import { describe, expect, it } from 'vitest';
import { importPytorchSafetensors, input, layers, model, ModelFormatError, sequential, tensor, writeSafetensors } from '../dist/node.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';

const H = 7, W = 6, CI = 3, CO = 4, M = 2, OUT = 5;
const OH = H - 2, OW = W - 2; // 3x3 valid
function stateDict(prefixes = ['features.0', 'features.1', 'features.3', 'classifier']) {
  const [conv, bn, dw, fc] = prefixes;
  const t = (name: string, shape: number[], seed: number, f = (x: number) => x * 0.5) =>
    ({ name, dtype: 'F32' as const, shape, data: Float32Array.from(randomArray(shape.reduce((a, b) => a * b, 1), seed), f) });
  return [
    t(`${conv}.weight`, [CO, CI, 3, 3], 1), t(`${conv}.bias`, [CO], 2),
    t(`${bn}.weight`, [CO], 3, (x) => 1 + 0.3 * x), t(`${bn}.bias`, [CO], 4), t(`${bn}.running_mean`, [CO], 5), t(`${bn}.running_var`, [CO], 6, (x) => 0.5 + Math.abs(x)),
    { name: `${bn}.num_batches_tracked`, dtype: 'I64' as const, shape: [], data: new Uint8Array(8) },
    t(`${dw}.weight`, [CO * M, 1, 3, 3], 7), t(`${dw}.bias`, [CO * M], 8),
    t(`${fc}.weight`, [OUT, CO * M * (OH - 2) * (OW - 2)], 9, (x) => x * 0.2), t(`${fc}.bias`, [OUT], 10),
  ];
}

// PyTorch semantics, NCHW, naive.
function torchForward(sd: ReturnType<typeof stateDict>, x: Float32Array, n: number): Float32Array {
  const g = (i: number) => sd[i].data as Float32Array;
  const conv = (inp: Float32Array, c: number, h: number, w: number, wt: Float32Array, b: Float32Array, o: number, groups: number) => {
    const oh = h - 2, ow = w - 2, cpg = c / groups, opg = o / groups;
    const out = new Float32Array(n * o * oh * ow);
    for (let s = 0; s < n; s++) for (let oc = 0; oc < o; oc++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
      let acc = b[oc];
      const gi = Math.floor(oc / opg);
      for (let ic = 0; ic < cpg; ic++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
        acc += wt[((oc * cpg + ic) * 3 + ky) * 3 + kx] * inp[((s * c + gi * cpg + ic) * h + y + ky) * w + xx + kx];
      }
      out[((s * o + oc) * oh + y) * ow + xx] = acc;
    }
    return out;
  };
  let a = conv(x, CI, H, W, g(0), g(1), CO, 1);
  a = a.map((v, i) => {
    const c = Math.floor(i / (OH * OW)) % CO;
    const z = (v - g(4)[c]) / Math.sqrt(g(5)[c] + 1e-5) * g(2)[c] + g(3)[c];
    return Math.max(z, 0);
  });
  a = conv(a, CO, OH, OW, g(7), g(8), CO * M, CO);
  const k = CO * M * (OH - 2) * (OW - 2);
  const out = new Float32Array(n * OUT);
  for (let s = 0; s < n; s++) for (let j = 0; j < OUT; j++) {
    let acc = g(10)[j];
    for (let i = 0; i < k; i++) acc += a[s * k + i] * g(9)[j * k + i];
    out[s * OUT + j] = acc;
  }
  return out;
}

function edgetuneNet(names = ['conv', 'bn', 'dw', 'fc']) {
  return sequential([
    layers.conv2d({ name: names[0], filters: CO, kernelSize: 3, inputShape: [H, W, CI] }),
    layers.batchNormalization({ name: names[1], epsilon: 1e-5 }),
    layers.relu(),
    layers.depthwiseConv2d({ name: names[2], kernelSize: 3, depthMultiplier: M }),
    layers.flatten(),
    layers.dense(OUT, { name: names[3] }),
  ]);
}

const nchwToNhwc = (x: Float32Array, n: number) => {
  const out = new Float32Array(x.length);
  for (let s = 0; s < n; s++) for (let c = 0; c < CI; c++) for (let y = 0; y < H; y++) for (let w = 0; w < W; w++) out[((s * H + y) * W + w) * CI + c] = x[((s * CI + c) * H + y) * W + w];
  return out;
};

describe('PyTorch safetensors import', () => {
  const MAPPING = { conv: 'features.0', bn: 'features.1', dw: 'features.3', fc: 'classifier' };
  it.each([1, 8])('matches a PyTorch-semantics forward at batch %i (OIHW, groups, CHW flatten, BN running stats)', (n) => {
    const sd = stateDict();
    const m = importPytorchSafetensors(writeSafetensors(sd), edgetuneNet(), { mapping: MAPPING }, 'net.safetensors');
    const x = Float32Array.from(randomArray(n * CI * H * W, 20 + n));
    const ours = m.predict(tensor(nchwToNhwc(x, n), [n, H, W, CI])).data;
    const ref = torchForward(sd, x, n);
    expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4);
  });

  it('maps by layer name and by explicit mapping, in functional models too', () => {
    const x = Float32Array.from(randomArray(2 * CI * H * W, 3));
    const ref = torchForward(stateDict(), x, 2);
    const byName = importPytorchSafetensors(writeSafetensors(stateDict(['c1', 'b1', 'd1', 'f1'])), edgetuneNet(['c1', 'b1', 'd1', 'f1']), {}, 'a.safetensors');
    const inp = input({ shape: [H, W, CI] });
    const net = edgetuneNet(['k1', 'k2', 'k3', 'k4']);
    let t = inp;
    for (const l of net.layers) t = l.apply(t);
    const fn = model({ inputs: inp, outputs: t });
    importPytorchSafetensors(writeSafetensors(stateDict()), fn, { mapping: { k1: 'features.0', k2: 'features.1', k3: 'features.3', 'k4/kernel': 'classifier.weight', 'k4/bias': 'classifier.bias' } }, 'b.safetensors');
    for (const m of [byName, fn]) {
      const ours = m.predict(tensor(nchwToNhwc(x, 2), [2, H, W, CI])).data;
      expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4);
    }
  });

  it('a shape mismatch names both tensors and writes nothing', () => {
    const sd = stateDict();
    sd[9] = { ...sd[9], shape: [OUT + 1, sd[9].shape[1]], data: new Float32Array((OUT + 1) * sd[9].shape[1]) };
    const m = edgetuneNet();
    const before = m.layers.map((l) => l.getWeights());
    const err = (() => { try { importPytorchSafetensors(writeSafetensors(sd), m, { mapping: MAPPING }, 'bad.safetensors'); } catch (e) { return e as ModelFormatError; } })();
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err!.message).toMatch(/^bad\.safetensors: tensor 'classifier\.weight' has shape \[6,48\], but 'fc\/kernel' \[48,5\] needs \[5,48\] from PyTorch/);
    expect(err!.tensor).toBe('classifier.weight');
    expect(m.layers.map((l) => l.getWeights())).toEqual(before);
    expect(() => importPytorchSafetensors(writeSafetensors(stateDict()), edgetuneNet(), {}, 'unnamed.safetensors')).toThrow(/unnamed\.safetensors: the state dict's modules \(.*features\.0.*\) and the layers .* share no name/);
    expect(() => importPytorchSafetensors(writeSafetensors(stateDict()), edgetuneNet(), { mapping: { conv: 'features.0', bn: 'features.1', dw: 'features.3' } }, 'x.safetensors')).toThrow(/tensor 'fc\.weight' for 'fc\/kernel'/);
    const extra = [...stateDict(), { name: 'aux.weight', dtype: 'F32' as const, shape: [2], data: new Float32Array(2) }];
    expect(() => importPytorchSafetensors(writeSafetensors(extra), edgetuneNet(), { mapping: MAPPING }, 'x.safetensors')).toThrow(/x\.safetensors: tensors aux\.weight match no weight of model/);
    expect(() => importPytorchSafetensors(writeSafetensors(extra), edgetuneNet(), { mapping: MAPPING, strict: false }, 'x.safetensors')).not.toThrow();
    expect(() => importPytorchSafetensors(writeSafetensors(stateDict().filter((t) => t.name !== 'features.3.bias')), edgetuneNet(), { mapping: MAPPING }, 'nobias.safetensors')).toThrow(/nobias\.safetensors: tensor 'features\.3\.bias' for 'dw\/bias' \[8\] is not in the state dict/);
  });
});
