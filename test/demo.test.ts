// The main job's artifacts: the committed base model is what scripts/train-base.mjs produces,
// bit for bit, and it reaches the promised held-out accuracy (checked with TensorFlow.js too).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, tensor } from '../dist/node.js';
import { loadMnist, selectDigits, trainBase, BASE_MODEL_PATH, CNN_BASE_MODEL_PATH } from '../dist/examples.js';
import { tf, tfjsCopy } from './tfjs';

describe('bundled base model', () => {
  it('reaches at least 97% on held-out digits 0-4, in edgetune and in tfjs with the same weights', async () => {
    const model = await loadModel(BASE_MODEL_PATH);
    const test = selectDigits(loadMnist(), [0, 1, 2, 3, 4], 'test');
    expect(test.n).toBeGreaterThan(1000);
    const ours = model.evaluate(tensor(test.x, [test.n, 784]), tensor(test.y, [test.n])).accuracy!;
    const probs = (tfjsCopy(model).predict(tf.tensor(test.x, [test.n, 784])) as ReturnType<typeof tf.tensor>).arraySync() as number[][];
    const theirs = probs.filter((p, i) => p.indexOf(Math.max(...p)) === test.y[i]).length / test.n;
    expect(ours).toBeGreaterThanOrEqual(0.97);
    expect(ours).toBeCloseTo(theirs, 3);
  });

  it.each([['mlp', BASE_MODEL_PATH], ['cnn', CNN_BASE_MODEL_PATH]] as const)('the %s base is regenerated bit for bit by trainBase (scripts/train-base.mjs)', async (kind, committed) => {
    const path = join(mkdtempSync(join(tmpdir(), 'edgetune-')), 'base.safetensors');
    const { accuracy } = await trainBase(() => {}, path, kind);
    expect(accuracy).toBeGreaterThanOrEqual(0.97);
    expect(Buffer.compare(readFileSync(path), readFileSync(committed))).toBe(0);
  });
});
