// Learning-rate schedules: the rate each training step used (history.steps.lr, computed in wasm
// from the iteration count) against plain-TypeScript twins of the Keras formulas, step by step; and
// that the rate really drives the update (one SGD step moves w by exactly lr * g).
import { describe, expect, it } from 'vitest';
import { layers, optimizers, schedules, sequential, setSeed, tensor, type Model, type LearningRateSchedule } from '../dist/node.js';
import { randomArray } from './support/harness';
import { cosineRef, exponentialRef, inverseTimeRef, oneCycleRef, piecewiseRef, polynomialRef, type ScheduleRef } from './reference/schedules';

const N = 8;
function tiny(): Model {
  setSeed(11);
  return sequential([layers.dense(6, { activation: 'tanh', inputShape: [5] }), layers.dense(3, { activation: 'softmax' })]);
}
const x = tensor(randomArray(N * 5, 3), [N, 5]);
const y = tensor(Int32Array.from({ length: N }, (_, i) => i % 3), [N]);

async function ratesUsed(schedule: LearningRateSchedule, steps: number, optimizer = 'sgd'): Promise<{ lr: number[]; model: Model }> {
  const model = tiny();
  const opt = optimizer === 'sgd' ? optimizers.sgd({ learningRate: schedule, momentum: 0.9 }) : optimizers.adam({ learningRate: schedule });
  model.compile({ optimizer: opt, loss: 'sparseCategoricalCrossentropy', batchSize: 2 });
  const h = await model.fit(x, y, { epochs: Math.ceil(steps / (N / 2)), batchSize: 2, shuffle: false });
  return { lr: h.steps.lr.slice(0, steps), model };
}

function expectRates(actual: number[], ref: ScheduleRef, what: string) {
  actual.forEach((lr, step) => {
    const expected = Math.fround(ref(step));
    // The schedule math runs in f64 in wasm and is rounded once to f32: within one f32 ulp or so.
    expect(Math.abs(lr - expected), `${what}: step ${step}: ${lr} vs ${expected}`).toBeLessThanOrEqual(Math.abs(expected) * 2.5e-7 + 1e-12);
  });
}

describe('learning-rate schedules follow the Keras formulas step by step', () => {
  const cases: [string, LearningRateSchedule, ScheduleRef][] = [
    ['exponentialDecay', schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 5, decayRate: 0.5 }), exponentialRef(0.1, 5, 0.5, false)],
    ['exponentialDecay staircase', schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 5, decayRate: 0.5, staircase: true }), exponentialRef(0.1, 5, 0.5, true)],
    ['piecewiseConstantDecay', schedules.piecewiseConstantDecay({ boundaries: [3, 10, 15], values: [0.1, 0.05, 0.01, 0.001] }), piecewiseRef([3, 10, 15], [0.1, 0.05, 0.01, 0.001])],
    ['inverseTimeDecay', schedules.inverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 4, decayRate: 0.5 }), inverseTimeRef(0.1, 4, 0.5, false)],
    ['inverseTimeDecay staircase', schedules.inverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 4, decayRate: 0.5, staircase: true }), inverseTimeRef(0.1, 4, 0.5, true)],
    ['power scheduling (inverseTimeDecay, power 2)', schedules.inverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 6, decayRate: 1, power: 2 }), inverseTimeRef(0.1, 6, 1, false, 2)],
    ['polynomialDecay', schedules.polynomialDecay({ initialLearningRate: 0.1, decaySteps: 12, endLearningRate: 0.01, power: 2 }), polynomialRef(0.1, 12, 0.01, 2, false)],
    ['polynomialDecay cycle', schedules.polynomialDecay({ initialLearningRate: 0.1, decaySteps: 7, power: 0.5, cycle: true }), polynomialRef(0.1, 7, 1e-4, 0.5, true)],
    ['cosineDecay', schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 15, alpha: 0.1 }), cosineRef(0.1, 15, 0.1, null, 0)],
    ['cosineDecay with warmup', schedules.cosineDecay({ initialLearningRate: 0.01, decaySteps: 12, warmupTarget: 0.2, warmupSteps: 6 }), cosineRef(0.01, 12, 0, 0.2, 6)],
  ];
  for (const [name, schedule, ref] of cases) {
    it(name, async () => {
      const { lr } = await ratesUsed(schedule, 24);
      expect(lr.length).toBe(24);
      expectRates(lr, ref, name);
      // The schedule moves: the comparison is not of a constant.
      expect(new Set(lr).size).toBeGreaterThan(2);
    });
  }

  it('1cycle: rate up to maxLearningRate and back, then the final drop; SGD momentum cycles the other way', async () => {
    const iterations = 40;
    const model = tiny();
    model.compile({ optimizer: optimizers.sgd({ learningRate: schedules.oneCycle({ iterations, maxLearningRate: 0.5 }), momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', batchSize: 2 });
    const ref = oneCycleRef(iterations, 0.5);
    const exec = model.trainingExecutor();
    const seen: number[][] = [];
    for (let step = 0; step < 44; step++) {
      model.trainOnBatch(tensor(x.data.slice(0, 10), [2, 5]), tensor(Int32Array.from([0, 1]), [2]));
      seen.push([exec.lastLearningRate, exec.momentum]);
    }
    seen.forEach(([lr, m], step) => {
      const [rl, rm] = ref(step);
      expect(Math.abs(lr - Math.fround(rl)), `lr step ${step}`).toBeLessThanOrEqual(Math.fround(rl) * 2.5e-7);
      expect(Math.abs(m - Math.fround(rm)), `momentum step ${step}`).toBeLessThanOrEqual(2.5e-7);
    });
    const lrs = seen.map((s) => s[0]);
    expect(Math.max(...lrs)).toBeCloseTo(0.5, 1);
    expect(lrs[lrs.length - 1]).toBeLessThan(0.05 / 500);
    expect(Math.min(...seen.map((s) => s[1]))).toBeCloseTo(0.85, 2);
  });

  it('1cycle on Adam cycles beta_1; on Adagrad (no momentum) nothing is cycled', async () => {
    const sched = schedules.oneCycle({ iterations: 20, maxLearningRate: 0.01 });
    for (const [opt, expectCycle] of [[optimizers.adam({ learningRate: sched }), true], [optimizers.adagrad({ learningRate: sched }), false]] as const) {
      const model = tiny();
      model.compile({ optimizer: opt, loss: 'sparseCategoricalCrossentropy', batchSize: 2 });
      const exec = model.trainingExecutor();
      const ms = new Set<number>();
      for (let i = 0; i < 8; i++) { model.trainOnBatch(tensor(x.data.slice(0, 10), [2, 5]), tensor(Int32Array.from([0, 1]), [2])); ms.add(exec.momentum); }
      expect(ms.size > 1, opt.className).toBe(expectCycle);
    }
  });

  it('the scheduled rate is the one the update used: one SGD step moves w by exactly lr * g', async () => {
    const model = tiny();
    const sched = schedules.exponentialDecay({ initialLearningRate: 0.3, decaySteps: 1, decayRate: 0.5 });
    model.compile({ optimizer: optimizers.sgd({ learningRate: sched }), loss: 'sparseCategoricalCrossentropy', batchSize: N });
    for (let step = 0; step < 4; step++) {
      const before = model.layers.map((l) => l.getWeights().map((w) => w.slice()));
      const g = model.computeGradients(x, y).weights;
      model.trainOnBatch(x, y);
      const lr = Math.fround(0.3 * 0.5 ** step);
      model.layers.forEach((l, i) => l.getWeights().forEach((w, j) => {
        const grad = g.get(`${l.name}/${l.weightSpecs[j].name}`)!;
        w.forEach((v, k) => expect(v, `step ${step} ${l.name}[${j}][${k}]`).toBe(Math.fround(before[i][j][k] - Math.fround(lr * grad[k]))));
      }));
    }
  });

  it('a checkpoint keeps the schedule position: iterations continue where they stopped', async () => {
    const sched = schedules.piecewiseConstantDecay({ boundaries: [5], values: [0.1, 0.01] });
    const a = tiny();
    a.compile({ optimizer: optimizers.sgd({ learningRate: sched }), loss: 'sparseCategoricalCrossentropy', batchSize: 2 });
    await a.fit(x, y, { epochs: 1, batchSize: 2, shuffle: false });
    const { loadModel } = await import('../dist/node.js');
    const b = await loadModel(a.toBytes({ includeOptimizer: true }));
    expect(b.iterations).toBe(4);
    const h = await b.fit(x, y, { epochs: 1, batchSize: 2, shuffle: false });
    expect(h.steps.lr.map((v) => Math.fround(v))).toEqual([0.1, 0.1, 0.01, 0.01].map(Math.fround));
  });
});

describe('bad schedules fail when they are made, saying what is wrong', () => {
  it.each([
    [() => schedules.piecewiseConstantDecay({ boundaries: [10, 20], values: [0.1, 0.01] }), /one more element than boundaries \(got 2 boundaries and 2 values\)/],
    [() => schedules.piecewiseConstantDecay({ boundaries: [20, 10], values: [0.1, 0.01, 0.001] }), /boundaries must increase/],
    [() => schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.9 }), /decaySteps must be a positive number, got 0/],
    [() => schedules.exponentialDecay({ initialLearningRate: NaN, decaySteps: 10, decayRate: 0.9 }), /initialLearningRate must be a positive number, got NaN/],
    [() => schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupTarget: 0.5 }), /warmupTarget needs warmupSteps > 0/],
    [() => schedules.oneCycle({ iterations: 100, maxLearningRate: -1 }), /maxLearningRate must be a positive number, got -1/],
    [() => optimizers.sgd({ learningRate: { className: 'stepDecay' } as never }), /unknown learning-rate schedule 'stepDecay'/],
  ])('%#', (make, message) => {
    expect(make).toThrow(message);
  });

  it('a schedule record edited into nonsense is refused at compile', () => {
    const model = tiny();
    const bad = { className: 'piecewiseConstantDecay', boundaries: [1, 2], values: [0.1] } as never;
    expect(() => model.compile({ optimizer: { ...optimizers.sgd(), learningRate: bad }, loss: 'sparseCategoricalCrossentropy' })).toThrow(/values must have one more element/);
  });
});

describe('history', () => {
  it('records every step\'s rate, loss and (recordGradNorm) global gradient norm before clipping', async () => {
    const model = tiny();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.5, globalClipnorm: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: N });
    const expected: number[] = [];
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const g = model.computeGradients(x, y);
      let sq = 0;
      for (const w of g.weights.values()) for (const v of w) sq += v * v;
      expected.push(Math.sqrt(sq));
      losses.push(g.loss);
      model.trainOnBatch(x, y);
    }
    const again = tiny();
    again.compile({ optimizer: optimizers.sgd({ learningRate: 0.5, globalClipnorm: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: N });
    const h = await again.fit(x, y, { epochs: 3, batchSize: N, shuffle: false, recordGradNorm: true });
    h.steps.gradNorm!.forEach((v, i) => expect(v / expected[i]).toBeCloseTo(1, 6));
    h.steps.loss.forEach((v, i) => expect(v / losses[i]).toBeCloseTo(1, 6));
    expect(h.steps.lr).toEqual([0.5, 0.5, 0.5]);
    // The norm is reported before clipping: far above the clip threshold.
    expect(Math.min(...h.steps.gradNorm!)).toBeGreaterThan(0.05);
    const plain = await again.fit(x, y, { epochs: 1, batchSize: N });
    expect(plain.steps.gradNorm).toBeUndefined();
  });
});
