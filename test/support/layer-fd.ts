// The finite-difference harness of the layer tests: a small model around the layers under test
// (a softmax readout unless told otherwise), and fdCheck, which compares computeGradients()'s
// gradients of the input and every trainable weight with central differences of its loss.
import { expect } from 'vitest';
import { input, layers, model, optimizers, setSeed, tensor, type Model, type SymbolicTensor } from '../../dist/node.js';
import { randomArray } from './harness';
import { centralDifference } from './finite-diff';
import { randomizeWeights } from '../tfjs-layers';

export const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export interface Problem {
  model: Model;
  x: Float32Array;
  xShape: number[];
  labels: Int32Array;
}

export function problem(shape: number[], batch: number, under: (t: SymbolicTensor) => SymbolicTensor,
  o: { seed?: number; classes?: number; lo?: number; hi?: number; x?: Float32Array; readout?: boolean } = {}): Problem {
  const seed = o.seed ?? 3;
  setSeed(seed);
  const inp = input({ shape });
  const h = under(inp);
  let out = h;
  if (o.readout !== false) {
    const flat = h.shape.length > 1 ? layers.flatten().apply(h) : h;
    out = layers.dense(o.classes ?? 3, { activation: 'softmax' }).apply(flat);
  }
  const m = model({ inputs: inp, outputs: out });
  randomizeWeights(m, seed);
  m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', batchSize: batch });
  const x = o.x ?? randomArray(batch * sizeOf(shape), seed * 17 + 1, o.lo ?? -1, o.hi ?? 1);
  const k = m.outputShape[m.outputShape.length - 1];
  return { model: m, x, xShape: [batch, ...shape], labels: new Int32Array(batch).map((_, i) => (i + seed) % k) };
}

// Evenly spread indices, at most `max` of them.
export function sample(n: number, max: number): number[] {
  const step = Math.max(1, Math.ceil(n / max));
  const out: number[] = [];
  for (let i = Math.floor(step / 2) % n; i < n; i += step) out.push(i);
  return out;
}

export interface FdOptions {
  h?: number;
  rtol?: number;
  maxPerTensor?: number;
  skipInput?: boolean;
}

// Central differences of computeGradients().loss against computeGradients()'s own gradients, for the
// input and every trainable weight. Returns the analytic gradients.
export function fdCheck(p: Problem, o: FdOptions = {}): ReturnType<Model['computeGradients']> {
  const h = o.h ?? 1e-2;
  const rtol = o.rtol ?? 2e-2;
  const max = o.maxPerTensor ?? 24;
  const y = tensor(p.labels, [p.labels.length]);
  const g = p.model.computeGradients(tensor(p.x, p.xShape), y);
  const lossAt = (x: Float32Array) => p.model.computeGradients(tensor(x, p.xShape), y).loss;
  const noise = 2e-6 / h; // a few f32 ulps of a loss of order 1, over the step
  const check = (what: string, analytic: Float32Array, idx: number[], numeric: (i: number) => number) => {
    const num = idx.map(numeric);
    const scale = Math.max(...idx.map((i) => Math.abs(analytic[i])), ...num.map(Math.abs));
    expect(scale, `${what}: all checked gradients are zero`).toBeGreaterThan(0);
    idx.forEach((i, j) => {
      const err = Math.abs(analytic[i] - num[j]) / (rtol * Math.abs(num[j]) + 0.05 * rtol * scale + noise);
      expect(err, `${what}[${i}]: analytic ${analytic[i]}, finite difference ${num[j]}`).toBeLessThanOrEqual(1);
    });
  };
  if (!o.skipInput) {
    const x = Float32Array.from(p.x);
    check('input', g.input, sample(x.length, max), (i) => centralDifference(() => lossAt(x), () => x[i], (v) => { x[i] = v; }, h));
  }
  const xt = tensor(p.x, p.xShape);
  for (const [key, analytic] of g.weights) {
    const [layerName, weightName] = key.split('/');
    const layer = p.model.getLayer(layerName);
    const j = layer.weightSpecs.findIndex((s) => s.name === weightName);
    check(key, analytic, sample(analytic.length, max), (i) => centralDifference(
      () => p.model.computeGradients(xt, y).loss,
      () => layer.getWeights()[j][i],
      (v) => {
        const ws = layer.getWeights();
        ws[j][i] = v;
        layer.setWeights(ws);
      },
      h,
    ));
  }
  return g;
}
