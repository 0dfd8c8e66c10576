// Names and plans as Keras: auto-names unique in the session and clear of loaded models' names;
// predict and evaluate plan for the rows they are given; a refused compile changes nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  importTfjsGraphModel, input, InvalidArgumentError, layers, loadModel, MemoryBudgetError, model, sequential, tensor,
} from '../dist/node.js';
import { randomArray } from './support/harness';

const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;

describe('auto-names', () => {
  it('a new auto-named head on a loaded model gets a name no loaded layer has', async () => {
    const saved = sequential([layers.dense(6, { activation: 'relu', inputShape: [4], name: 'dense' }), layers.dense(3, { name: 'dense_1' })]);
    const base = await loadModel(saved.toBytes());
    const names = base.layers.map((l) => l.name);
    expect(names).toEqual(['dense', 'dense_1']);
    const head = layers.dense(2, { activation: 'softmax' });
    expect(names).not.toContain(head.name);
    expect(head.name).toMatch(/^dense_\d+$/);
    const transfer = model({ inputs: base.inputs, outputs: head.apply(base.outputs) });
    expect(transfer.predict(tensor(randomArray(8, 1), [2, 4])).shape).toEqual([2, 2]);
  });

  it('auto-names skip explicit names taken later in the session, and explicit duplicates are still refused', () => {
    const a = layers.dense(2);
    const n = Number(/_(\d+)$/.exec(a.name)?.[1] ?? 0);
    layers.dense(2, { name: `dense_${n + 1}` });
    expect(layers.dense(2).name).toBe(`dense_${n + 2}`);
    const x = input({ shape: [3] });
    const h = layers.dense(4, { name: 'twin' }).apply(x);
    expect(() => model({ inputs: x, outputs: layers.dense(2, { name: 'twin' }).apply(h) })).toThrow(InvalidArgumentError);
  });
});

describe('plans', () => {
  it('predict plans for the rows it is given, rounded up to a power of two (emotion: one sample)', async () => {
    const json = JSON.parse(readFileSync(join(MODELS, 'emotion.json'), 'utf8'));
    const m = await importTfjsGraphModel(json, async (p: string) => new Uint8Array(readFileSync(join(MODELS, p))), 'emotion.json');
    m.predict(tensor(randomArray(64 * 64, 2, 0, 1), [1, 64, 64, 1]));
    expect(m.plan.batchSize).toBe(1);
    const one = m.plan.totalBytes;
    expect(one).toBe(m.planInference(1).totalBytes);
    expect(one).toBeLessThan(m.planInference(32).totalBytes / 8);
    m.predict(tensor(randomArray(3 * 64 * 64, 3, 0, 1), [3, 64, 64, 1]));
    expect(m.plan.batchSize).toBe(4);
    m.predict(tensor(randomArray(40 * 64 * 64, 3, 0, 1), [40, 64, 64, 1]), { batchSize: 20 });
    expect(m.plan.batchSize).toBe(20); // never more than the batchSize asked for
  });

  it('evaluate on a few rows of an uncompiled-plan model plans for those rows', () => {
    const m = sequential([layers.dense(3, { inputShape: [5], activation: 'softmax' })]);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' }, false);
    m.evaluate(tensor(randomArray(10, 4), [2, 5]), tensor(new Int32Array([0, 2]), [2]));
    expect(m.plan.batchSize).toBe(2);
    // after a one-row predict (an inference plan for 1), evaluating 10 rows plans for 16, not 1
    const fresh = sequential([layers.dense(3, { inputShape: [5], activation: 'softmax' })]);
    fresh.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' }, false);
    fresh.predict(tensor(randomArray(5, 5), [1, 5]));
    expect(fresh.plan.batchSize).toBe(1);
    fresh.evaluate(tensor(randomArray(50, 6), [10, 5]), tensor(new Int32Array(10), [10]));
    expect(fresh.plan.batchSize).toBe(16);
  });

  it('a compile refused by the memory budget leaves the previous configuration and plan in use', () => {
    const m = sequential([layers.dense(64, { inputShape: [32], activation: 'relu' }), layers.dense(4)]);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 8 });
    const config = m.compileConfig;
    const plan = m.plan;
    expect(() => m.compile({ optimizer: 'adam', loss: 'meanSquaredError', batchSize: 64, memoryBudget: 1024 })).toThrow(MemoryBudgetError);
    expect(m.compileConfig).toBe(config);
    expect(m.plan).toBe(plan);
    const x = tensor(randomArray(3 * 32, 5), [3, 32]);
    expect(m.predict(x).shape).toEqual([3, 4]);
    expect(Number.isFinite(m.evaluate(x, tensor(randomArray(12, 6), [3, 4])).loss)).toBe(true);
  });
});
