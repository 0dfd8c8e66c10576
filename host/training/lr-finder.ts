// The learning-rate finder (Smith; Géron ch. 11): train for a few hundred steps while the rate grows
// exponentially from minLr to maxLr, record the loss of every step, then put the weights and the
// optimizer back exactly as they were. The loss falls, flattens, then turns up; a good rate is a
// little below where it turns up: we suggest the rate at the minimum of the smoothed curve / 10.
import { InvalidArgumentError, NonFiniteError } from '../core/errors';
import { checkOptions, optionNames } from '../core/options';
import { sizeOf } from '../compile/graph';
import { requireFileSystem } from '../core/io';
import type { Model } from './model';
import { Random, nextSeed } from '../core/random';
import type { Tensor } from '../core/tensor';
import { axes, labelBeside, svgPage } from './svg';

export interface LrFinderOptions {
  minLr?: number; // first rate (default 1e-4)
  maxLr?: number; // last rate (default 1)
  steps?: number; // optimizer steps (default 200)
  batchSize?: number; // default: the compiled batch size
  seed?: number; // batch order
  stopFactor?: number; // stop once the smoothed loss exceeds stopFactor x its minimum (default 4)
  svgPath?: string; // also write the curve as an SVG plot (needs a file system)
}

export interface LrFinderResult {
  lrs: number[];
  losses: number[];
  smoothed: number[]; // exponential moving average (0.98), bias-corrected
  minLossLr: number; // rate at the smoothed minimum
  suggestion: number; // minLossLr / 10, not below minLr
  stoppedEarly: boolean; // the loss diverged (or went non-finite) before maxLr
  svg: string;
}

const LR_FINDER_OPTIONS = optionNames<LrFinderOptions>()(['minLr', 'maxLr', 'steps', 'batchSize', 'seed', 'stopFactor', 'svgPath']);

export async function findLearningRate(model: Model, x: Tensor, y: Tensor, options: LrFinderOptions = {}): Promise<LrFinderResult> {
  checkOptions('findLearningRate', options, LR_FINDER_OPTIONS);
  const minLr = options.minLr ?? 1e-4;
  const maxLr = options.maxLr ?? 1;
  const steps = options.steps ?? 200;
  const stopFactor = options.stopFactor ?? 4;
  if (!(minLr > 0 && Number.isFinite(minLr))) throw new InvalidArgumentError(`findLearningRate: minLr must be a positive number, got ${minLr}`);
  if (!(maxLr > minLr && Number.isFinite(maxLr))) throw new InvalidArgumentError(`findLearningRate: maxLr must be a finite number above minLr (${minLr}), got ${maxLr}`);
  if (!Number.isInteger(steps) || steps < 5) throw new InvalidArgumentError(`findLearningRate: steps must be an integer >= 5, got ${steps}`);
  if (!(stopFactor > 1)) throw new InvalidArgumentError(`findLearningRate: stopFactor must be > 1, got ${stopFactor}`);
  const batchSize = options.batchSize ?? model.compileConfig?.batchSize ?? 32;
  const n = x.shape[0];
  if (y.shape[0] !== n) throw new InvalidArgumentError(`findLearningRate: x has ${n} samples, y has ${y.shape[0]}`);
  if (n < batchSize) throw new InvalidArgumentError(`findLearningRate: need at least one full batch (${batchSize} samples), got ${n}`);

  model.trainingExecutor(batchSize); // planned now, before the snapshot
  const weights = model.layers.map((l) => l.getWeights().map((w) => w.slice()));
  const optimizer = model.optimizerSnapshot();
  const perX = sizeOf(x.shape.slice(1));
  const perY = sizeOf(y.shape.slice(1));
  const rng = new Random(options.seed ?? nextSeed());
  let order = rng.permutation(n);
  let cursor = 0;
  const xb = new Float32Array(batchSize * perX);
  const yb = new Float32Array(batchSize * perY);
  const factor = Math.pow(maxLr / minLr, 1 / (steps - 1));
  const lrs: number[] = [];
  const losses: number[] = [];
  const smoothed: number[] = [];
  let avg = 0;
  let best = Infinity;
  let stoppedEarly = false;
  try {
    for (let i = 0; i < steps; i++) {
      if (cursor + batchSize > n) { order = rng.permutation(n); cursor = 0; }
      for (let j = 0; j < batchSize; j++) {
        const r = order[cursor + j];
        xb.set((x.data as Float32Array).subarray(r * perX, (r + 1) * perX), j * perX);
        yb.set((y.data as Float32Array | Int32Array).subarray(r * perY, (r + 1) * perY), j * perY);
      }
      cursor += batchSize;
      const lr = minLr * Math.pow(factor, i);
      model.trainingExecutor(batchSize).learningRateOverride = lr;
      let loss: number;
      try {
        loss = model.trainOnBatch({ data: xb, shape: [batchSize, ...x.shape.slice(1)] }, { data: yb, shape: [batchSize, ...y.shape.slice(1)] }).loss;
      } catch (e) {
        if (e instanceof NonFiniteError) { stoppedEarly = true; break; }
        throw e;
      }
      lrs.push(lr);
      losses.push(loss);
      avg = 0.98 * avg + 0.02 * loss;
      const s = avg / (1 - Math.pow(0.98, i + 1));
      smoothed.push(s);
      best = Math.min(best, s);
      if (!Number.isFinite(s) || (i > 5 && s > stopFactor * best)) { stoppedEarly = true; break; }
    }
  } finally {
    // Exactly as before: weights (and BN statistics), optimizer slots, iteration count, rate.
    const exec = model.trainingExecutor(batchSize);
    exec.learningRateOverride = 0;
    model.layers.forEach((l, i) => { if (l.weightSpecs.length) l.setWeights(weights[i]); });
    model.restoreOptimizer(optimizer);
  }
  if (lrs.length === 0) throw new NonFiniteError('loss', 0, 0, model.iterations + 1);
  let at = 0;
  for (let i = 1; i < smoothed.length; i++) if (smoothed[i] < smoothed[at]) at = i;
  const minLossLr = lrs[at];
  const suggestion = Math.max(minLr, minLossLr / 10);
  const result: LrFinderResult = { lrs, losses, smoothed, minLossLr, suggestion, stoppedEarly, svg: '' };
  result.svg = lrFinderSvg(result);
  if (options.svgPath) await requireFileSystem('findLearningRate({ svgPath })').writeFileAtomic(options.svgPath, new TextEncoder().encode(result.svg));
  return result;
}

// The curve as a standalone SVG: loss (raw, and smoothed) against the learning rate on a log axis,
// with the suggestion marked.
export function lrFinderSvg(r: Pick<LrFinderResult, 'lrs' | 'losses' | 'smoothed' | 'suggestion' | 'minLossLr'>): string {
  const W = 640, H = 400, L = 70, R = 20, T = 30, B = 50;
  const lx = r.lrs.map(Math.log10);
  const x0 = Math.floor(Math.min(...lx)), x1 = Math.ceil(Math.max(...lx));
  const finite = r.losses.filter(Number.isFinite);
  const lo = Math.min(...finite), first = r.smoothed[0];
  // Clip the y range at a few times the starting loss so the divergence does not flatten the curve.
  const hi = Math.min(Math.max(...finite), Math.max(first * 2, lo * 4));
  const px = (v: number) => L + ((Math.log10(v) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (v: number) => T + (1 - (Math.min(v, hi) - lo) / (hi - lo || 1)) * (H - T - B);
  const path = (ys: number[]) => ys.map((v, i) => `${i ? 'L' : 'M'}${px(r.lrs[i]).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
  const ticks: string[] = [];
  for (let e = x0; e <= x1; e++) {
    const X = px(10 ** e).toFixed(1);
    ticks.push(`<line x1="${X}" y1="${H - B}" x2="${X}" y2="${T}" stroke="#eee"/><text x="${X}" y="${H - B + 18}" text-anchor="middle">1e${e}</text>`);
  }
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    const Y = py(v).toFixed(1);
    ticks.push(`<line x1="${L}" y1="${Y}" x2="${W - R}" y2="${Y}" stroke="#eee"/><text x="${L - 8}" y="${Y}" text-anchor="end" dominant-baseline="middle">${v.toPrecision(3)}</text>`);
  }
  const area = { x: L, y: T, w: W - L - R, h: H - T - B };
  const sx = px(r.suggestion);
  return svgPage(W, H, 'Learning-rate finder: loss against learning rate', [
    ...ticks,
    axes(area, 'learning rate (log scale)', 'loss', 16),
    `<path d="${path(r.losses)}" fill="none" stroke="#9ecae1" stroke-width="1"/>`,
    `<path d="${path(r.smoothed)}" fill="none" stroke="#08519c" stroke-width="2"/>`,
    `<line x1="${sx.toFixed(1)}" y1="${T}" x2="${sx.toFixed(1)}" y2="${H - B}" stroke="#d62728" stroke-dasharray="4 3"/>`,
    labelBeside(area, sx, T + 14, `suggested ${r.suggestion.toExponential(2)}`, '#d62728'),
  ]);
}
