// Issue 11 item 4: imported models train through the new ops. Three torchvision CNNs (random weights,
// BatchNorm statistics that are not the identity, 64x64, batch 2) are exported by PyTorch and imported
// with importOnnx; everything below their top blocks is frozen and ONE plain-SGD step (lr 0.1) of
// cross-entropy on the logits runs here and in PyTorch autograd (test/torch/zoo_train.py, float64).
// Trained BatchNorms use batch statistics, frozen ones their moving statistics (Keras, and PyTorch's
// eval() on the frozen modules). Dropout is off on both sides: PyTorch keeps the Dropout (and
// StochasticDepth) modules in eval mode, and the eval-mode export has no Dropout node.
// Compared: the imported weights (bit-identical: the mapping itself), the loss, every trained
// parameter's gradient and updated value, the BatchNorm moving statistics, and the frozen layers
// (unchanged), within 1e-5 relative to the largest magnitude of each tensor, except where PyTorch's
// own float32 run of the same step is further than that from float64: then within 4 times PyTorch's
// float32 error (see expectClose). PyTorch moves running_var by the unbiased batch variance, ONNX
// and Keras by the biased one: ours is compared with PyTorch's update with Bessel's factor undone
// (docs/importers.md).
import { beforeAll, describe, expect, it } from 'vitest';
import { importOnnx, type Layer, type Model, optimizers, tensor } from '../dist/node.js';
import { toNhwc } from './ort';
import { closeness, describeCloseness } from './support/close';
import { type TorchFineTune, torchFineTune } from './support/torch';

// The modules fine-tuned, by PyTorch module name prefix, and the layer a user freezes up to: the last
// one of the block below them in model.layers (summary() lists them; a block's residual Add carries
// the block's name). Layers without weights may sit between it and the first trained one.
const MODELS: Record<string, { prefixes: string[]; freezeUntil: string }> = {
  mobilenet_v2: { prefixes: ['features.16', 'features.17', 'features.18', 'classifier'], freezeUntil: 'features_features.15' },
  efficientnet_b0: { prefixes: ['features.7', 'features.8', 'classifier'], freezeUntil: 'features_features.6_features.6.3' },
  // stage3's last unit ends in a concatenation; its channel shuffle is a reshape named after the next node.
  shufflenet_v2_x0_5: { prefixes: ['stage4', 'conv5', 'fc'], freezeUntil: 'stage3_stage3.7_2' },
};
const SIZE = 64;
const BATCH = 2;
const RTOL = 1e-5;

// The importer's layer name for a node of a PyTorch export ('/features/features.16/conv/conv.0/conv.0.0/Conv'
// -> 'features_features.16_conv_conv.0_conv.0.0'), as docs/importers.md describes it.
const layerNameOf = (node: string) => node.replace(/\/[A-Za-z]+(?:_\d+)?$/, '').replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '');

// A PyTorch tensor in our layout: convolution kernels OIHW -> HWIO (depthwise [C*M, 1, KH, KW] ->
// [KH, KW, C, M] is the same move), dense [out, in] -> [in, out], vectors as they are.
function ours(t: { shape: number[]; data: Float32Array }, shape: number[]): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== size) throw new Error(`PyTorch [${t.shape}] has ${t.data.length} values, our weight [${shape}] ${size}`);
  if (t.shape.length === 1) return t.data;
  const y = new Float32Array(size);
  if (t.shape.length === 2) {
    const [o, i] = t.shape;
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) y[b * o + a] = t.data[a * i + b];
    return y;
  }
  const [o, i, kh, kw] = t.shape;
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let h = 0; h < kh; h++) for (let w = 0; w < kw; w++) {
    y[((h * kw + w) * i + b) * o + a] = t.data[((a * i + b) * kh + h) * kw + w];
  }
  return y;
}

// Every trained weight: our layer and weight index, PyTorch's name for it.
interface Pair { layer: Layer; index: number; torch: string; state: boolean }
function pairs(m: Model, ref: TorchFineTune): Pair[] {
  return ref.nodes.flatMap(({ node, inputs }) => {
    const layer = m.getLayer(layerNameOf(node));
    expect(layer.weightSpecs.length, `${layer.name}: weights ${layer.weightSpecs.map((s) => s.name)} for ${inputs}`).toBe(inputs.length);
    return inputs.map((torch, index) => ({ layer, index, torch, state: !layer.weightSpecs[index].trainable }));
  });
}

// |actual - expected| <= atol everywhere, with expected computed in float64. atol is RTOL of the
// tensor's largest magnitude, or, for a gradient, F32_SLACK times PyTorch's own float32 error on that
// tensor if that is larger: in these stacks of training-mode BatchNorms over 8 values per channel
// (batch 2 at 2x2) float32 rounding alone moves gradients by up to ~1e-4 of their scale, in PyTorch
// as here, and a gradient that is exactly 0 (a bias whose output only feeds training-mode
// BatchNorms through linear ops) is all rounding. Measured: ours is at most 2.5 times PyTorch's float32
// error; a wrong backward pass is off by far more (gamma left out of BatchNorm's dx: > 2000x the tolerance).
const F32_SLACK = 4;
function maxAbs(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - (b ? b[i] : 0)));
  return m;
}
// Bit-identical (vitest's toEqual walks a million-element array far too slowly).
function expectSame(actual: Float32Array, expected: Float32Array, what: string): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const at = a.length === e.length ? a.findIndex((v, i) => v !== e[i]) : 0;
  expect(at, `${what}: element ${at} is ${actual[at]}, expected ${expected[at]} (lengths ${a.length}, ${e.length})`).toBe(-1);
}
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, f32Error = 0): void {
  const scale = maxAbs(expected);
  const c = closeness(actual, expected, 0, Math.max(RTOL * scale, F32_SLACK * f32Error));
  expect(c.ratio, describeCloseness(`${what} (largest magnitude ${scale.toPrecision(3)}, PyTorch float32 off by ${f32Error.toPrecision(3)})`, c)).toBeLessThanOrEqual(1);
}

describe('imported torchvision CNNs fine-tune their top blocks as PyTorch does (one SGD step)', () => {
  let refs: Map<string, TorchFineTune>;
  beforeAll(() => {
    refs = torchFineTune(Object.entries(MODELS).map(([name, { prefixes }]) => `${name}=${prefixes.join(',')}`));
  }, 300_000);

  it.each(Object.keys(MODELS))('%s: freeze() below the top blocks, then loss, gradients, updated weights and moving statistics', (name) => {
    const ref = refs.get(name)!;
    const m = importOnnx(ref.onnx, `${name}.onnx`);
    const trained = pairs(m, ref);
    const trainedLayers = new Set(trained.map((p) => p.layer));
    const weighted = m.layers.filter((l) => l.weightSpecs.length > 0);
    const torchOf = (p: Pair, what: string) => ours(ref.tensors[`${p.torch}:${what}`], p.layer.weightSpecs[p.index].shape);
    const keyOf = (p: Pair) => `${p.layer.name}/${p.layer.weightSpecs[p.index].name}`;

    // The imported weights are PyTorch's, moved to our layout: the mapping the comparisons rely on.
    for (const p of trained) expectSame(p.layer.getWeights()[p.index], torchOf(p, 'before'), `${keyOf(p)} as imported (${p.torch})`);

    // Per-layer trainable, then freeze(): both leave exactly the top blocks' layers trainable.
    for (const l of m.layers) l.trainable = trainedLayers.has(l);
    expect(m.countParams().trainable).toBe(ref.trainableParams);
    const first = m.layers.findIndex((l) => trainedLayers.has(l));
    const cut = m.layers.findIndex((l) => l.name === MODELS[name].freezeUntil);
    expect(cut).toBeGreaterThanOrEqual(0);
    expect(m.layers.slice(cut + 1, first).filter((l) => l.weightSpecs.length > 0).map((l) => l.name)).toEqual([]);
    for (const l of m.layers) l.trainable = true;
    m.freeze(MODELS[name].freezeUntil);
    expect(weighted.filter((l) => l.trainable).map((l) => l.name)).toEqual(weighted.filter((l) => trainedLayers.has(l)).map((l) => l.name));
    expect(m.countParams().trainable).toBe(ref.trainableParams);

    m.compile({ optimizer: optimizers.sgd({ learningRate: ref.lr }), loss: { className: 'sparseCategoricalCrossentropy', fromLogits: true }, batchSize: BATCH });
    const x = tensor(toNhwc(ref.tensors.x.data, BATCH, 3, SIZE, SIZE), [BATCH, SIZE, SIZE, 3]);
    const y = tensor(Int32Array.from(ref.labels), [BATCH]);
    const frozenBefore = weighted.filter((l) => !l.trainable).map((l) => l.getWeights());
    const stateBefore = [...trainedLayers].map((l) => l.getWeights());
    // Moving statistics after the step: PyTorch's running_mean, and its running_var with the unbiased
    // batch variance made biased again (what ONNX and Keras use; the script writes both).
    const torchAfter = (p: Pair) => torchOf({ ...p, torch: p.torch.replace(/running_var$/, 'running_var_biased') }, 'after');

    const g = m.computeGradients(x, y);
    expect(Math.abs(g.loss / ref.loss - 1), `loss ${g.loss}, PyTorch ${ref.loss}`).toBeLessThan(RTOL);
    const params = trained.filter((p) => !p.state);
    expect([...g.weights.keys()].sort()).toEqual(params.map(keyOf).sort());
    for (const p of params) {
      const grad = torchOf(p, 'grad');
      expectClose(g.weights.get(keyOf(p))!, grad, `gradient of ${keyOf(p)} (${p.torch})`, maxAbs(torchOf(p, 'grad32'), grad));
    }
    // computeGradients is a training-mode pass: it moves the trained BatchNorms' statistics (as a
    // Keras training-mode call does) and nothing else. Put them back before the step.
    for (const p of trained) if (p.state) expectClose(p.layer.getWeights()[p.index], torchAfter(p), `${keyOf(p)} after computeGradients`);
    [...trainedLayers].forEach((l, i) => l.setWeights(stateBefore[i]));

    const { loss } = m.trainOnBatch(x, y);
    expect(Math.abs(loss / ref.loss - 1), `loss ${loss}, PyTorch ${ref.loss}`).toBeLessThan(RTOL);
    for (const p of trained) {
      const after = p.layer.getWeights()[p.index];
      if (p.state) expectClose(after, torchAfter(p), `${keyOf(p)} after the step (${p.torch})`);
      else expectClose(after, torchOf(p, 'after'), `${keyOf(p)} after the step (${p.torch})`, ref.lr * maxAbs(torchOf(p, 'grad32'), torchOf(p, 'grad')));
    }
    // The frozen layers (BatchNorm moving statistics included) are as imported.
    weighted.filter((l) => !l.trainable).forEach((l, i) => {
      l.getWeights().forEach((w, j) => expectSame(w, frozenBefore[i][j], `${l.name}/${l.weightSpecs[j].name} is frozen`));
    });
  }, 120_000);
});
