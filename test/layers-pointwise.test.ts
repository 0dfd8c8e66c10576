// The unary, clip, prelu, resizing and upSampling2d layers through the public API: finite
// differences of the training loss for every op and resize mode, zero gradients where the
// derivative is 0 almost everywhere, PReLU's trainable alpha, Keras JSON round trips (Keras classes
// where Keras has them, 'edgetune>...' otherwise), TF.js layers export (written where TF.js
// computes the same, refused where it would not), strict options and typed errors.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, input, layers, loadModel, model, sequential, tensor, type SymbolicTensor } from '../dist/node.js';
import { toTfjsLayersModel } from '../host/formats/export-tfjs';
import { expectClose } from './support/close';
import { fdCheck, problem } from './support/layer-fd';
import { randomArray } from './support/harness';
import { tf, tfl } from './tfjs';

const tanhConv = (t: SymbolicTensor) => layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(t);

describe('finite differences: unary ops and clip', () => {
  // Inputs at least 0.3 from 0 (abs's kink, reciprocal's pole), positive for the ops defined there.
  const awayFromZero = (n: number, positive: boolean) => Float32Array.from(randomArray(n, 21, -1.2, 1.2), (v) => (positive ? Math.abs(v) + 0.3 : v + Math.sign(v) * 0.3));
  it.each(['abs', 'reciprocal', 'sqrt', 'rsqrt', 'log'] as const)('%s on the input, under a conv (input and weights)', (op) => {
    const x = awayFromZero(2 * 40, op !== 'abs' && op !== 'reciprocal');
    fdCheck(problem([4, 5, 2], 2, (t) => tanhConv(layers.unary(op).apply(t)), { x }));
  });
  const smooth = ['neg', 'square', 'exp', 'sin', 'cos', 'softplus', 'softsign', 'erf'] as const;
  it.each(smooth)('%s between a conv and the readout (input and weights)', (op) => {
    fdCheck(problem([4, 5, 2], 2, (t) => layers.unary(op).apply(tanhConv(t))));
  });
  it('hardSigmoid with ONNX alpha and beta (inputs inside and outside the ramp)', () => {
    fdCheck(problem([4, 5, 2], 2, (t) => layers.unary({ op: 'hardSigmoid', alpha: 0.7, beta: 0.45 }).apply(tanhConv(t)), { lo: -2, hi: 2 }));
  });
  it('clip -0.3..0.4 on the input (no input within 0.05 of a bound), under a conv', () => {
    const x = Float32Array.from(randomArray(80, 22, -1, 1), (v) => (Math.abs(v + 0.3) < 0.05 || Math.abs(v - 0.4) < 0.05 ? v + 0.1 : v));
    const g = fdCheck(problem([4, 5, 2], 2, (t) => tanhConv(layers.clip({ min: -0.3, max: 0.4 }).apply(t)), { x }));
    x.forEach((v, i) => { if (v < -0.3 || v > 0.4) expect(Math.abs(g.input[i])).toBe(0); });
  });
  it.each(['floor', 'ceil', 'round', 'sign'] as const)('%s: zero input gradient, weights above it still trained', (op) => {
    const p = problem([4, 5, 2], 2, (t) => tanhConv(layers.unary(op).apply(t)), { lo: -2.4, hi: 2.4 });
    const g = fdCheck(p, { skipInput: true });
    expect(g.input.every((v: number) => v === 0)).toBe(true);
  });
});

describe('finite differences: prelu', () => {
  it.each([
    ['per channel (sharedAxes [1, 2])', [1, 2]],
    ['full alpha', null],
    ['shared over height only', [1]],
    ['shared over channels (-1)', [-1]],
  ] as [string, number[] | null][])('%s: input and alpha', (_what, sharedAxes) => {
    // Inputs at least 0.1 away from the kink at 0 (the step is 1e-2).
    const x = Float32Array.from(randomArray(2 * 60, 11, -2, 2), (v) => v + Math.sign(v) * 0.1);
    const p = problem([4, 5, 3], 2, (t) => layers.prelu({ sharedAxes, alphaInitializer: { className: 'constant', value: 0.25 } }).apply(t), { x });
    const prelu = p.model.layers.find((l) => l.kind === 'prelu')!;
    prelu.setWeights([randomArray(prelu.getWeights()[0].length, 3, -0.5, 0.8)]);
    const g = fdCheck(p);
    expect([...g.weights.keys()]).toContain(`${prelu.name}/alpha`);
  });
  it('alpha shape: per-sample shape with the shared axes set to 1', () => {
    const inp = input({ shape: [4, 5, 3] });
    const l = layers.prelu({ sharedAxes: [1, 2] });
    model({ inputs: inp, outputs: l.apply(inp) });
    expect(l.weightSpecs[0].shape).toEqual([1, 1, 3]);
    expect(l.weightSpecs[0].name).toBe('alpha');
    expect(Array.from(l.getWeights()[0])).toEqual([0, 0, 0]); // Keras's default alpha_initializer: zeros
  });
  it('a frozen prelu passes the input gradient and trains no alpha', () => {
    const p = problem([3, 3, 2], 2, (t) => layers.prelu({ sharedAxes: [1, 2], trainable: false }).apply(tanhConv(t)));
    const g = fdCheck(p);
    expect([...g.weights.keys()].some((k: string) => k.endsWith('/alpha'))).toBe(false);
  });
});

describe('finite differences: resizing and upSampling2d', () => {
  const modes = [
    ['bilinear', 'half_pixel', undefined], ['bilinear', 'align_corners', undefined], ['bilinear', 'asymmetric', undefined],
    ['bilinear', 'pytorch_half_pixel', undefined], ['nearest', 'half_pixel', 'round_prefer_ceil'], ['nearest', 'asymmetric', 'floor'],
    ['nearest', 'align_corners', 'round_prefer_floor'], ['nearest', 'pytorch_half_pixel', 'ceil'],
  ] as const;
  it.each(modes)('resizing 5x7 -> 8x4, %s %s %s, between two convs', (interpolation, coordinateTransform, nearestMode) => {
    fdCheck(problem([5, 7, 2], 2, (t) => tanhConv(layers.resizing({ height: 8, width: 4, interpolation, coordinateTransform, nearestMode }).apply(tanhConv(t)))));
  });
  it.each(['nearest', 'bilinear'] as const)('upSampling2d [2, 3] %s, directly on the input and after a conv', (interpolation) => {
    fdCheck(problem([3, 4, 2], 2, (t) => tanhConv(layers.upSampling2d({ size: [2, 3], interpolation }).apply(t))));
    fdCheck(problem([3, 4, 2], 2, (t) => layers.upSampling2d({ size: 2, interpolation }).apply(tanhConv(t))));
  });
  it('upSampling2d nearest repeats each pixel size times', () => {
    const m = sequential([layers.upSampling2d(2, { inputShape: [2, 2, 1] })]);
    expect(Array.from(m.predict(tensor([1, 2, 3, 4], [1, 2, 2, 1])).data)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });
});

describe('Keras JSON round trip', () => {
  async function roundTrip(under: (t: SymbolicTensor) => SymbolicTensor, shape: number[]) {
    const inp = input({ shape });
    const m = model({ inputs: inp, outputs: under(inp) });
    const x = tensor(randomArray(2 * shape.reduce((a, b) => a * b, 1), 5, 0.1, 2), [2, ...shape]);
    for (const l of m.layers) if (l.weightSpecs.length) l.setWeights(l.getWeights().map((w) => randomArray(w.length, 9, -0.5, 0.5)));
    const bytes = m.toBytes();
    const back = await loadModel(bytes);
    expect(back.layers.map((l) => [l.kind, l.config])).toEqual(m.layers.map((l) => [l.kind, l.config]));
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(m.predict(x).data));
    return new TextDecoder().decode(bytes);
  }
  it('unary and clip as edgetune>Unary and edgetune>Clip', async () => {
    const text = await roundTrip((t) => layers.clip({ max: 1.5 }).apply(layers.unary({ op: 'hardSigmoid', alpha: 0.3, beta: 0.1 }).apply(layers.unary('rsqrt').apply(t))), [3, 2]);
    expect(text).toContain('edgetune>Unary');
    expect(text).toContain('hard_sigmoid');
    expect(text).toContain('edgetune>Clip');
  });
  it('prelu as Keras PReLU with shared_axes', async () => {
    const text = await roundTrip((t) => layers.prelu({ sharedAxes: [1, 2] }).apply(layers.rescaling({ scale: 1, offset: -1 }).apply(t)), [3, 4, 2]);
    expect(text).toMatch(/\\"class_name\\":\\"PReLU\\"/);
    expect(text).toMatch(/shared_axes\\":\[1,2\]/);
  });
  it('resizing and upSampling2d: Keras classes for Keras behaviour, edgetune> classes otherwise', async () => {
    const text = await roundTrip((t) => layers.upSampling2d({ size: [2, 1], interpolation: 'bilinear', coordinateTransform: 'align_corners' }).apply(
      layers.resizing({ height: 5, width: 3, interpolation: 'nearest', coordinateTransform: 'asymmetric', nearestMode: 'floor' }).apply(
        layers.upSampling2d(2).apply(layers.resizing(4, 4, { interpolation: 'nearest' }).apply(t)))), [3, 3, 1]);
    expect(text).toMatch(/\\"class_name\\":\\"Resizing\\"/);
    expect(text).toMatch(/\\"class_name\\":\\"UpSampling2D\\"/);
    expect(text).toContain('edgetune>Resizing');
    expect(text).toContain('edgetune>UpSampling2D');
    expect(text).toContain('align_corners');
  });
});

describe('options and errors', () => {
  it('unknown options and ops are refused, naming the option', () => {
    expect(() => layers.unary({ op: 'abs', bogus: 1 } as never)).toThrow(/bogus/);
    expect(() => layers.unary('tan' as never)).toThrow(InvalidArgumentError);
    expect(() => layers.unary('clip' as never)).toThrow(/layers\.clip/);
    expect(() => layers.unary({ op: 'abs', alpha: 2 })).toThrow(/alpha and beta belong to op 'hardSigmoid'/);
    expect(() => layers.unary({ op: 'hardSigmoid', alpha: NaN })).toThrow(/alpha must be a finite number/);
    expect(() => layers.clip({ min: 2, max: 1 })).toThrow(/min 2 is above max 1/);
    expect(() => layers.clip({ min: 'a' as never })).toThrow(InvalidArgumentError);
    expect(() => layers.prelu({ sharedAxes: [0] })).toThrow(/0, the batch/);
    expect(() => layers.prelu({ shared_axes: [1] } as never)).toThrow(/shared_axes/);
    expect(() => layers.resizing({ height: 2, width: 2, interpolation: 'bicubic' as never })).toThrow(/interpolation must be one of 'nearest', 'bilinear'/);
    expect(() => layers.resizing({ height: 2, width: 2, coordinateTransform: 'tf_crop_and_resize' as never })).toThrow(/coordinateTransform/);
    expect(() => layers.resizing({ height: 2, width: 2, nearestMode: 'floor' })).toThrow(/nearestMode applies to interpolation 'nearest' only/);
    expect(() => layers.upSampling2d({ size: 0 })).toThrow(/size must be positive integers/);
  });
  it('shape errors name the layer: prelu axis beyond the rank, resize of a non-image input', () => {
    const inp = input({ shape: [4, 3] });
    expect(() => layers.prelu({ sharedAxes: [3], name: 'pr' }).apply(inp)).toThrow(/pr: shared axis 3 is outside the 2 axes/);
    expect(() => layers.upSampling2d({ name: 'up' }).apply(inp)).toThrow(/up.*\(height, width, channels\)/);
    expect(() => layers.prelu({ sharedAxes: [2, 4] }).apply(input({ shape: [2, 3, 4, 5, 6] }))).toThrow(/alternate more than 4 times/);
  });
});

describe('TF.js layers export', () => {
  async function inTfjs(m: ReturnType<typeof model>) {
    const art = toTfjsLayersModel(m);
    const manifest = (art.modelJson.weightsManifest as { weights: tfl.io.WeightsManifestEntry[] }[])[0];
    const data = new Uint8Array(art.shards.reduce((n, s) => n + s.bytes.length, 0));
    let at = 0;
    for (const s of art.shards) { data.set(s.bytes, at); at += s.bytes.length; }
    return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: art.modelJson.modelTopology as object, weightSpecs: manifest.weights, weightData: data.buffer }));
  }

  it('nearest upSampling2d and per-channel prelu (with its alpha) compute the same in TF.js', async () => {
    const inp = input({ shape: [3, 5, 2] });
    const pr = layers.prelu({ sharedAxes: [1, 2] });
    const out = pr.apply(layers.upSampling2d([2, 3]).apply(inp));
    const m = model({ inputs: inp, outputs: out });
    pr.setWeights([Float32Array.from([0.3, -0.2])]);
    const x = randomArray(2 * 30, 4);
    const want = m.predict(tensor(x, [2, 3, 5, 2])).data;
    const t = await inTfjs(m);
    const got = (t.predict(tf.tensor(x, [2, 3, 5, 2])) as tf.Tensor).dataSync();
    expectClose(got, want, 1e-6, 1e-6, 'TF.js vs edgetune');
  });

  it('refuses what TF.js would compute differently (bilinear UpSampling2D), fail on (Resizing) or cannot load (unary, clip)', () => {
    const one = (l: () => ReturnType<typeof layers.unary>) => {
      const inp = input({ shape: [4, 4, 1] });
      return model({ inputs: inp, outputs: l().apply(inp) });
    };
    expect(() => toTfjsLayersModel(one(() => layers.resizing(8, 8, { name: 'rs' })))).toThrow(/layer 'rs' \(Resizing\) cannot be exported to TF.js layers/);
    // Why: TF.js's own Resizing layer fails inside a model.
    const tfResizing = tfl.sequential({ layers: [tfl.layers.resizing({ height: 4, width: 4, inputShape: [2, 2, 1] })] });
    expect(() => tfResizing.predict(tf.ones([1, 2, 2, 1]))).toThrow(/resizeBilinear/);
    expect(() => toTfjsLayersModel(one(() => layers.upSampling2d({ interpolation: 'bilinear' })))).toThrow(/TF.js's UpSampling2D computes asymmetric/);
    expect(() => toTfjsLayersModel(one(() => layers.unary('abs')))).toThrow(/edgetune>Unary\) has no TF.js layers class/);
    expect(() => toTfjsLayersModel(one(() => layers.clip({ max: 6 })))).toThrow(/edgetune>Clip\) has no TF.js layers class/);
  });
});
