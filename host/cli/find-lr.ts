// `edgetune find-lr`: the learning-rate finder on real MNIST digits, printing the curve's key
// points and writing it as an SVG plot.
import { baseModel } from './demo';
import { InvalidArgumentError } from '../core/errors';
import { loadModel } from '../index';
import '../import/public'; // loadModel then reads ONNX and TF.js models too
import { findLearningRate } from '../training/lr-finder';
import { loadMnist, selectDigits } from './mnist';
import type { Model } from '../training/model';
import { resolveOptimizer } from '../training/optimizers';
import { setSeed } from '../core/random';
import { tensor } from '../core/tensor';
import { parseCommandArgs } from './commands';

function parseDigits(s: string): number[] {
  const m = /^(\d)-(\d)$/.exec(s);
  const digits = m ? Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i) : s.split(',').map(Number);
  if (digits.length < 2 || digits.some((d) => !Number.isInteger(d) || d < 0 || d > 9)) throw new InvalidArgumentError(`--digits: expected a range like 5-9 or a list like 1,7; got '${s}'`);
  return digits;
}

export async function findLrCommand(args: string[]): Promise<number> {
  const { positional, flags: opts } = parseCommandArgs('find-lr', args);
  if (positional.length > 1) throw new InvalidArgumentError(`find-lr: unexpected argument '${positional[1]}'`);
  const modelPath = positional[0] ?? null;
  const num = (k: string, d: number) => {
    if (opts[k] === undefined) return d;
    const v = Number(opts[k]);
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`find-lr: --${k} must be a number, got '${opts[k]}'`);
    return v;
  };
  const digits = parseDigits(opts.digits ?? '0-4');
  setSeed(1);
  let model: Model;
  if (modelPath) model = await loadModel(modelPath);
  else model = baseModel();
  const batchSize = num('batch', 32);
  const optimizer = opts.optimizer ?? model.compileConfig?.optimizer ?? 'adam';
  model.compile({ optimizer: typeof optimizer === 'string' ? resolveOptimizer(optimizer) : optimizer, loss: 'sparseCategoricalCrossentropy', batchSize });
  const classes = model.outputShape[model.outputShape.length - 1];
  if (classes < digits.length) throw new InvalidArgumentError(`find-lr: the model has ${classes} outputs, fewer than the ${digits.length} digits asked for`);
  const mnist = loadMnist({ allowSubset: true });
  if (mnist.source === 'bundled') console.error('find-lr: the mnist package is not installed: using the bundled subset (50 training images per digit)');
  const data = selectDigits(mnist, digits, 'train', { relabel: true });
  const n = Math.min(num('count', 3000), data.n);
  const x = tensor(data.x.subarray(0, n * 784), [n, ...model.inputShape]);
  const y = tensor(Float32Array.from(data.y.subarray(0, n)), [n]);
  const svgPath = opts.svg ?? 'lr-finder.svg';
  const r = await findLearningRate(model, x, y, { minLr: num('min', 1e-4), maxLr: num('max', 1), steps: num('steps', 200), batchSize, seed: 1, svgPath });
  if ('json' in opts) {
    process.stdout.write(JSON.stringify({ lrs: r.lrs, losses: r.losses, smoothed: r.smoothed, minLossLr: r.minLossLr, suggestion: r.suggestion, stoppedEarly: r.stoppedEarly }) + '\n');
    return 0;
  }
  const at = r.smoothed.indexOf(Math.min(...r.smoothed));
  console.log(`find-lr: ${r.lrs.length} steps of batch ${batchSize} on ${n} images of digits ${digits.join(',')}, ${model.compileConfig!.optimizer.className}`);
  console.log(`  loss ${r.smoothed[0].toFixed(4)} at lr ${r.lrs[0].toExponential(2)}, lowest ${r.smoothed[at].toFixed(4)} at lr ${r.minLossLr.toExponential(2)}` +
    (r.stoppedEarly ? `, diverged by lr ${r.lrs[r.lrs.length - 1].toExponential(2)}` : ''));
  console.log(`  suggested learning rate: ${r.suggestion.toExponential(2)}`);
  console.log(`  plot: ${svgPath}`);
  return 0;
}
