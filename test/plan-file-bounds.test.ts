// readPlanFileInfo reads counts and lengths from a file that may be crafted: a table count that
// runs past the end must be a typed error naming the plan, not a RangeError from a DataView
// (found by the fuzzer, test/fuzz/: 2 of 100 mutations).
import { describe, expect, it } from 'vitest';
import { EdgetuneError } from '../host/core/errors';
import { compileTrainPlan, layers, planToFileBytes, sequential } from '../dist/node.js';
import { readPlanFileInfo } from '../host/formats/plan-file';

describe('plan file reader bounds', () => {
  it('a binding or program count past the end of the file is a typed error, not a RangeError', () => {
    const m = sequential([layers.dense(4, { inputShape: [3], name: 'a' })]);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 2 });
    const good = planToFileBytes(compileTrainPlan(m, { batch: 2 }));
    expect(readPlanFileInfo(good, 'good.plan').batchSize).toBe(2);
    for (const field of [68, 72, 84]) { // programs, bindings, regions
      const bad = good.slice();
      new DataView(bad.buffer).setUint32(field, 0x7fffffff, true);
      const err = (() => { try { readPlanFileInfo(bad, 'bad.plan'); } catch (e) { return e; } })();
      expect(err, `count at byte ${field}`).toBeInstanceOf(EdgetuneError);
      expect(String((err as Error).message)).toMatch(/^bad\.plan: /);
    }
  });
});
