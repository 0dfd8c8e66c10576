// The pointwise, prelu and resize layers against PyTorch autograd (Debian's python3-torch, run as
// /usr/bin/python3) and TF.js gradients: one layer, then flatten, mean squared error against a
// random target; the output, the loss, and its gradients with respect to the input and PReLU's
// alpha. Forward within 1e-6 and gradients within 1e-5 relative to the tensor's largest element.
// TF.js's resize ops are compared on their outputs only (their gradients are wrong, see below).
// Inputs stay 1e-3 away from kinks (hard sigmoid's +-3, clip bounds), since the frameworks'
// one-sided derivatives there differ by convention.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { input, layers, model, optimizers, tensor, type Layer } from '../dist/node.js';
import { expectClose, maxAbsDiff } from './support/close';
import { randomArray } from './support/harness';
import { tf } from './tfjs';

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

interface Result { y: ArrayLike<number>; loss: number; dx: ArrayLike<number>; dalpha?: ArrayLike<number> | null }
interface Case { id: string; make: () => Layer; shape: number[]; x: Float32Array; t: Float32Array; alpha?: Float32Array; torch?: Record<string, unknown> }

// edgetune: input -> layer -> flatten, mse.
function edgetune(c: Case): Result {
  const inp = input({ shape: c.shape.slice(1) });
  const layer = c.make();
  const out = layers.flatten().apply(layer.apply(inp));
  const m = model({ inputs: inp, outputs: out });
  if (c.alpha) layer.setWeights([c.alpha]);
  m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'mse', batchSize: c.shape[0] });
  const x = tensor(c.x, c.shape);
  const g = m.computeGradients(x, tensor(c.t, [c.shape[0], c.t.length / c.shape[0]]));
  return { y: m.predict(x).data, loss: g.loss, dx: g.input, dalpha: c.alpha ? g.weights.get(`${layer.name}/alpha`) : undefined };
}

function expectSame(what: string, got: Result, want: Result): void {
  const near = (name: string, a: ArrayLike<number>, b: ArrayLike<number>, rtol: number) => {
    expect(a.length, `${what} ${name} length`).toBe(b.length);
    expectClose(a, b, rtol, rtol * maxAbsDiff(b, new Float32Array(b.length)) + 1e-12, `${what} ${name}`);
  };
  near('output', got.y, want.y, 1e-6);
  expect(Math.abs(got.loss - want.loss), `${what} loss ${got.loss} vs ${want.loss}`).toBeLessThanOrEqual(1e-5 * Math.abs(want.loss) + 1e-9);
  near('input gradient', got.dx, want.dx, 1e-5);
  if (want.dalpha) near('alpha gradient', got.dalpha!, want.dalpha, 1e-5);
}

const TORCH = String.raw`
import json, sys, torch, torch.nn.functional as F
cases = json.load(sys.stdin)
nchw = lambda t: t.permute(0, 3, 1, 2)
nhwc = lambda t: t.permute(0, 2, 3, 1)
UNARY = {
  'abs': torch.abs, 'neg': torch.neg, 'square': torch.square, 'sqrt': torch.sqrt, 'rsqrt': torch.rsqrt, 'exp': torch.exp,
  'log': torch.log, 'reciprocal': torch.reciprocal, 'floor': torch.floor, 'ceil': torch.ceil, 'round': torch.round,
  'sign': torch.sign, 'sin': torch.sin, 'cos': torch.cos, 'softplus': F.softplus, 'softsign': F.softsign, 'erf': torch.erf,
  'hardswish': F.hardswish, 'hardsigmoid': F.hardsigmoid, 'relu6': F.relu6,
}
out = {}
for c in cases:
    x = torch.tensor(c['x'], dtype=torch.float32).reshape(c['shape']).requires_grad_(True)
    p = c['torch']
    op = p['op']
    alpha = None
    if op in UNARY: y = UNARY[op](x)
    elif op == 'clamp': y = torch.clamp(x, p['min'], p['max'])
    elif op == 'onnx_hardsigmoid': y = torch.clamp(p['alpha'] * x + p['beta'], 0, 1)
    elif op == 'prelu':
        alpha = torch.tensor(c['alpha'], dtype=torch.float32).requires_grad_(True)
        y = nhwc(F.prelu(nchw(x), alpha))
    elif op == 'interpolate':
        kw = {k: p[k] for k in ('size', 'scale_factor', 'align_corners') if k in p}
        y = nhwc(F.interpolate(nchw(x), mode=p['mode'], **kw))
    t = torch.tensor(c['t'], dtype=torch.float32).reshape(y.shape)
    loss = ((y - t) ** 2).mean()
    loss.backward()
    out[c['id']] = {'y': y.detach().reshape(-1).tolist(), 'loss': loss.item(), 'dx': x.grad.reshape(-1).tolist(),
                    'dalpha': alpha.grad.reshape(-1).tolist() if alpha is not None else None}
print(json.dumps(out))
`;

function torchResults(cases: Case[]): Record<string, Result> {
  const payload = cases.map((c) => ({ id: c.id, shape: c.shape, x: Array.from(c.x), t: Array.from(c.t), alpha: c.alpha ? Array.from(c.alpha) : null, torch: c.torch }));
  const r = spawnSync('/usr/bin/python3', ['-c', TORCH], { input: JSON.stringify(payload), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`PyTorch reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// Values at least `gap` away from every kink, in [lo, hi).
function away(n: number, seed: number, lo: number, hi: number, kinks: number[], gap = 1e-3): Float32Array {
  return Float32Array.from(randomArray(n, seed, lo, hi), (v) => (kinks.some((k) => Math.abs(v - k) < gap) ? v + 3 * gap : v));
}

let seed = 100;
function pointwiseCase(id: string, make: () => Layer, torch: Record<string, unknown>, lo = -4, hi = 4, kinks: number[] = []): Case {
  const shape = [2, 3, 4, 5];
  const x = away(sizeOf(shape), seed++, lo, hi, kinks);
  if (id === 'round') x.set([0.5, 1.5, 2.5, -0.5, -1.5, -2.5]); // halves go to even in both
  return { id, make, shape, x, t: randomArray(sizeOf(shape), seed++), torch };
}

const UNARY_OPS = ['abs', 'neg', 'square', 'sqrt', 'rsqrt', 'exp', 'log', 'reciprocal', 'floor', 'ceil', 'round', 'sign', 'sin', 'cos', 'softplus', 'softsign', 'erf'] as const;
const POSITIVE = new Set(['sqrt', 'rsqrt', 'log']);

function resizeCase(id: string, make: () => Layer, shape: number[], torch: Record<string, unknown>, outCount: number): Case {
  return { id, make, shape, x: randomArray(sizeOf(shape), seed++), t: randomArray(outCount, seed++), torch: { op: 'interpolate', ...torch } };
}

const CASES: Case[] = [
  ...UNARY_OPS.map((op) => pointwiseCase(op, () => layers.unary(op), { op }, POSITIVE.has(op) ? 0.05 : -4, 4, op === 'reciprocal' ? [0] : [], )),
  pointwiseCase('hardswish', () => layers.activation('hardSwish'), { op: 'hardswish' }, -5, 5, [-3, 3]),
  pointwiseCase('hardsigmoid', () => layers.activation('hardSigmoid'), { op: 'hardsigmoid' }, -5, 5, [-3, 3]),
  pointwiseCase('relu6', () => layers.activation('relu6'), { op: 'relu6' }, -2, 8, [0, 6]),
  pointwiseCase('clip', () => layers.clip({ min: -0.5, max: 0.7 }), { op: 'clamp', min: -0.5, max: 0.7 }, -2, 2, [-0.5, 0.7]),
  pointwiseCase('clip relu6', () => layers.clip({ min: 0, max: 6 }), { op: 'clamp', min: 0, max: 6 }, -2, 8, [0, 6]),
  pointwiseCase('onnx hardSigmoid', () => layers.unary({ op: 'hardSigmoid', alpha: 0.2, beta: 0.5 }), { op: 'onnx_hardsigmoid', alpha: 0.2, beta: 0.5 }, -4, 4, [-2.5, 2.5]),
  {
    ...pointwiseCase('prelu', () => layers.prelu({ sharedAxes: [1, 2] }), { op: 'prelu' }, -2, 2, [0]),
    alpha: randomArray(5, 7, -0.5, 0.8),
  },
  // F.interpolate: nearest is ONNX asymmetric + floor; bilinear align_corners=False is half-pixel
  // (pytorch_half_pixel when torch.onnx.export writes it), True is align_corners.
  ...([[5, 7, 8, 4], [3, 4, 6, 8], [6, 5, 4, 9], [4, 4, 1, 3]] as const).flatMap(([h, w, oh, ow]) => {
    const shape = [2, h, w, 3];
    const outCount = 2 * oh * ow * 3;
    const size = { height: oh, width: ow };
    return [
      resizeCase(`nearest ${h}x${w}->${oh}x${ow}`, () => layers.resizing({ ...size, interpolation: 'nearest', coordinateTransform: 'asymmetric', nearestMode: 'floor' }), shape, { mode: 'nearest', size: [oh, ow] }, outCount),
      resizeCase(`nearest-exact ${h}x${w}->${oh}x${ow}`, () => layers.resizing({ ...size, interpolation: 'nearest', coordinateTransform: 'half_pixel', nearestMode: 'round_prefer_ceil' }), shape, { mode: 'nearest-exact', size: [oh, ow] }, outCount),
      resizeCase(`bilinear ${h}x${w}->${oh}x${ow}`, () => layers.resizing({ ...size, coordinateTransform: oh > 1 && ow > 1 ? 'pytorch_half_pixel' : 'half_pixel' }), shape, { mode: 'bilinear', size: [oh, ow], align_corners: false }, outCount),
      resizeCase(`bilinear align_corners ${h}x${w}->${oh}x${ow}`, () => layers.resizing({ ...size, coordinateTransform: 'align_corners' }), shape, { mode: 'bilinear', size: [oh, ow], align_corners: true }, outCount),
    ];
  }),
  resizeCase('upSampling2d nearest x2', () => layers.upSampling2d(2), [2, 3, 4, 3], { mode: 'nearest', scale_factor: 2 }, 2 * 6 * 8 * 3),
  resizeCase('upSampling2d bilinear x2', () => layers.upSampling2d({ size: 2, interpolation: 'bilinear' }), [2, 3, 4, 3], { mode: 'bilinear', scale_factor: 2, align_corners: false }, 2 * 6 * 8 * 3),
];

describe('parity with PyTorch autograd', () => {
  const want = torchResults(CASES);
  it.each(CASES.map((c) => [c.id, c] as const))('%s', (_id, c) => expectSame(c.id, edgetune(c), want[c.id]));
});

// TF.js: the same layer as tf ops, its loss gradient by tf.grads.
function tfjsRun(c: Case, f: (x: tf.Tensor, alpha?: tf.Tensor) => tf.Tensor): Result {
  return tf.tidy(() => {
    const x = tf.tensor(c.x, c.shape);
    const lossOf = (xx: tf.Tensor, aa?: tf.Tensor) => tf.mean(tf.square(tf.sub(tf.reshape(f(xx, aa), [-1]), tf.tensor1d(c.t))));
    const y = f(x, c.alpha ? tf.tensor1d(c.alpha) : undefined);
    if (c.alpha) {
      const [dx, da] = tf.grads((xx: tf.Tensor, aa: tf.Tensor) => lossOf(xx, aa))([x, tf.tensor1d(c.alpha)]);
      return { y: y.dataSync(), loss: lossOf(x, tf.tensor1d(c.alpha)).dataSync()[0], dx: dx.dataSync(), dalpha: da.dataSync() };
    }
    return { y: y.dataSync(), loss: lossOf(x).dataSync()[0], dx: tf.grad((xx: tf.Tensor) => lossOf(xx))(x).dataSync() };
  });
}

describe('parity with TF.js gradients', () => {
  const tfUnary: Record<string, (x: tf.Tensor) => tf.Tensor> = {
    abs: tf.abs, neg: tf.neg, square: tf.square, sqrt: tf.sqrt, rsqrt: tf.rsqrt, exp: tf.exp, log: tf.log, reciprocal: tf.reciprocal,
    floor: tf.floor, ceil: tf.ceil, round: tf.round, sign: tf.sign, sin: tf.sin, cos: tf.cos, softplus: tf.softplus, erf: tf.erf,
    softsign: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
  };
  it.each(Object.keys(tfUnary))('tf.%s', (op) => {
    const c = CASES.find((k) => k.id === op)!;
    expectSame(`tf.${op}`, edgetune(c), tfjsRun(c, tfUnary[op]));
  });
  it('tf.clipByValue', () => {
    const c = CASES.find((k) => k.id === 'clip')!;
    expectSame('tf.clipByValue', edgetune(c), tfjsRun(c, (x) => tf.clipByValue(x, -0.5, 0.7)));
  });
  it('tf.prelu with a per-channel alpha', () => {
    const c = CASES.find((k) => k.id === 'prelu')!;
    expectSame('tf.prelu', edgetune(c), tfjsRun(c, (x, a) => tf.prelu(x, a!)));
  });
  // TF's attribute pairs map onto coordinate transforms and nearest modes (host/layers/resizing.ts).
  // Outputs only: TF.js's resize gradients ignore halfPixelCenters and swap height and width for
  // a non-square input (tfjs-backend-cpu 4.22), so the resize gradients are checked against
  // PyTorch above, finite differences and the naive twin.
  const forwardOnly = (c: Case, f: (x: tf.Tensor) => tf.Tensor) => {
    const want = tf.tidy(() => f(tf.tensor(c.x, c.shape)).dataSync());
    const got = edgetune(c).y;
    expectClose(got, want, 1e-6, 1e-6 * maxAbsDiff(want, new Float32Array(want.length)), 'output');
  };
  const TF_MODES = [
    [false, false, 'asymmetric', 'floor'], [true, false, 'align_corners', 'round_prefer_ceil'], [false, true, 'half_pixel', 'round_prefer_ceil'],
  ] as const;
  const sizes = [[5, 7, 8, 4], [3, 4, 6, 8], [6, 5, 4, 9], [4, 6, 8, 12], [7, 7, 3, 3]] as const;
  for (const [alignCorners, halfPixelCenters, coordinateTransform, nearestMode] of TF_MODES) {
    it.each(sizes.map((s) => [s.join(',')] as const))(`resizeBilinear alignCorners ${alignCorners} halfPixelCenters ${halfPixelCenters} (%s)`, (s) => {
      const [h, w, oh, ow] = s.split(',').map(Number);
      const c = resizeCase('tf', () => layers.resizing({ height: oh, width: ow, coordinateTransform }), [2, h, w, 3], {}, 2 * oh * ow * 3);
      forwardOnly(c, (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [oh, ow], alignCorners, halfPixelCenters));
    });
    it.each(sizes.map((s) => [s.join(',')] as const))(`resizeNearestNeighbor alignCorners ${alignCorners} halfPixelCenters ${halfPixelCenters} (%s)`, (s) => {
      const [h, w, oh, ow] = s.split(',').map(Number);
      const c = resizeCase('tf', () => layers.resizing({ height: oh, width: ow, interpolation: 'nearest', coordinateTransform, nearestMode }), [2, h, w, 3], {}, 2 * oh * ow * 3);
      forwardOnly(c, (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [oh, ow], alignCorners, halfPixelCenters));
    });
  }
});
