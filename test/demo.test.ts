// The main job's artifacts: the committed base model is what scripts/train-base.mjs produces,
// bit for bit, and it reaches the promised held-out accuracy (checked with TensorFlow.js too).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, tensor } from '../dist/node.js';
import { loadBundledMnist, loadMnist, selectDigits, trainBase, BASE_MODEL_PATH, CNN_BASE_MODEL_PATH } from '../dist/examples.js';
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

describe('the bundled MNIST subset (data/mnist-subset.bin.gz)', () => {
  it("holds the mnist package's images exactly, and splits them as the full set does", () => {
    const full = loadMnist();
    const sub = loadBundledMnist();
    expect(sub.labels.length).toBe(1100);
    expect(Array.from(sub.classCounts)).toEqual(Array.from(full.classCounts));
    const start = new Map<number, number>();
    full.labels.forEach((l, i) => { if (!start.has(l)) start.set(l, i); });
    for (let k = 0; k < sub.labels.length; k++) {
      const i = start.get(sub.labels[k])! + sub.indexInClass[k];
      expect(full.labels[i]).toBe(sub.labels[k]);
      const same = sub.images.subarray(k * 784, (k + 1) * 784).every((v, j) => Object.is(v, full.images[i * 784 + j]));
      if (!same) expect.fail(`subset image ${k} (digit ${sub.labels[k]}, index ${sub.indexInClass[k]}) differs from the mnist package's`);
    }
    // the subset's training and held-out images are the full set's first ones of each part
    const t = selectDigits(sub, [5, 6, 7, 8, 9], 'train', { perClass: 50 });
    const f = selectDigits(full, [5, 6, 7, 8, 9], 'train', { perClass: 50 });
    expect(t.n).toBe(250);
    expect(Buffer.compare(Buffer.from(t.x.buffer), Buffer.from(f.x.buffer))).toBe(0);
    expect(selectDigits(sub, [0, 1, 2, 3, 4], 'test').n).toBe(300);
  });
});
