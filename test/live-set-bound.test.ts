// The live-set lower bound that plans report (issue 14, item 4): the bytes any layout of a plan's
// regions needs, checked against a naive recount from the regions and live ranges, and the
// planner's arena within 1.1x of it on the bench MLP and CNN plans (training and inference).
import { describe, expect, it } from 'vitest';
import { layers, sequential, optimizers, type Plan, type Model } from '../dist/node.js';

// Naive twin: for every op of every program, the bytes of the activations alive there, plus every
// region that is not an activation.
function naiveBound(plan: Plan): { bytes: number; live: number } {
  const fixed = plan.regions.filter((r) => r.kind !== 'activation').reduce((n, r) => n + r.bytes, 0);
  let live = 0;
  for (const [name, program] of Object.entries(plan.programs)) {
    for (let at = 0; at < program!.ops.length; at++) {
      const bytes = plan.regions.filter((r) => r.kind === 'activation' && r.program === name && r.live![0] <= at && at <= r.live![1])
        .reduce((n, r) => n + r.bytes, 0);
      live = Math.max(live, bytes);
    }
  }
  return { bytes: fixed + live, live };
}

const benchMlp = () => sequential([
  layers.dense(256, { activation: 'relu', inputShape: [784] }), layers.dense(256, { activation: 'relu' }),
  layers.dense(10, { activation: 'softmax' }),
]);
const benchCnn = () => sequential([
  layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', useBias: false, inputShape: [28, 28, 1] }),
  layers.batchNormalization(), layers.relu(), layers.maxPooling2d({ poolSize: 2 }),
  layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }),
  layers.batchNormalization(), layers.relu(), layers.maxPooling2d({ poolSize: 2 }),
  layers.flatten(), layers.dense(10, { activation: 'softmax' }),
]);
const trained = (m: Model, freezeBase = false): Plan => {
  if (freezeBase) for (const l of m.layers.slice(0, -1)) l.trainable = false;
  m.compile({ optimizer: optimizers.adam(), loss: 'sparseCategoricalCrossentropy', batchSize: 64 });
  return m.plan;
};

describe('live-set lower bound', () => {
  const cases: [string, () => Plan][] = [
    ['MLP 784-256-256-10 training b64', () => trained(benchMlp())],
    ['MLP inference b64', () => benchMlp().planInference(64)],
    ['CNN inference b64', () => benchCnn().planInference(64)],
    ['CNN training b64', () => trained(benchCnn())],
    ['CNN frozen-base fine-tune b64', () => trained(benchCnn(), true)],
  ];
  it.each(cases)('%s: the bound matches a naive recount and the arena is within 1.1x of it', (_, make) => {
    const plan = make();
    const naive = naiveBound(plan);
    expect(plan.lowerBound.bytes).toBe(naive.bytes);
    expect(plan.lowerBound.liveActivations).toBe(naive.live);
    // Weights, gradients and slots alone, plus the largest single activation, never exceed it.
    const largest = Math.max(...plan.regions.filter((r) => r.kind === 'activation').map((r) => r.bytes));
    const b = plan.breakdown;
    expect(plan.lowerBound.bytes).toBeGreaterThanOrEqual(b.weights + b.gradients + b.optimizerState + b.state + largest);
    expect(plan.lowerBound.bytes).toBeLessThanOrEqual(plan.totalBytes);
    expect(plan.lowerBound.ratio).toBeCloseTo(plan.totalBytes / plan.lowerBound.bytes, 12);
    expect(plan.lowerBound.ratio).toBeLessThanOrEqual(1.1);
    expect(plan.lowerBound.at).toMatch(/^(forward|evaluate|train|gradients|init) op#\d+ /);
  });
});
