// The building blocks of examples/autoencoder-pretraining.mjs and examples/rotation-pretraining.mjs
// (not the full runs): rotations, the splits, the models and what they share.
import { describe, expect, it } from 'vitest';
import { setSeed, tensor } from '../dist/node.js';
// @ts-expect-error: plain JavaScript module without types
import * as lib from '../examples/pretraining-lib.mjs';

describe('pretraining example building blocks', () => {
  it('rotate: a quarter turn counter-clockwise, four turns are the identity', () => {
    const img = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]); // rows: 1 2 3 / 4 5 6 / 7 8 9
    expect(Array.from(lib.rotate(img, 1, 3))).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
    expect(Array.from(lib.rotate(img, 2, 3))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(Array.from(lib.rotate(img, 3, 3))).toEqual([7, 4, 1, 8, 5, 2, 9, 6, 3]);
    expect(Array.from(lib.rotate(img, 4, 3))).toEqual(Array.from(img));
    const task = lib.rotationTask(Float32Array.from([...img, ...img.map((v: number) => -v)]), 2, 3);
    expect(task.n).toBe(8);
    expect(Array.from(task.y)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(Array.from(task.x.subarray(9 * 5, 9 * 6))).toEqual([-3, -6, -9, -2, -5, -8, -1, -4, -7]);
  });

  it('mnistSplit: few labels per class from the training part, the held-out 20% apart', () => {
    const { pool, labelled, test } = lib.mnistSplit(10);
    expect(pool.n).toBe(7996);
    expect(test.n).toBe(2004);
    expect(labelled.n).toBe(100);
    for (let d = 0; d < 10; d++) expect(Array.from(labelled.y).filter((y) => y === d).length).toBe(10);
  });

  it('the classifier on the autoencoder shares its encoder layers, frozen; the head trains', async () => {
    setSeed(1);
    const ae = lib.autoencoder();
    expect(ae.outputShape).toEqual([784]);
    const clf = lib.classifierOnEncoder(ae, 'code');
    expect(clf.layers.slice(0, 3)).toEqual([ae.getLayer('pixel_noise'), ae.getLayer('enc_1'), ae.getLayer('code')]);
    expect(clf.layers.map((l: { trainable: boolean }) => l.trainable)).toEqual([false, false, false, true]);
    const before = ae.getLayer('code').getWeights()[0].slice();
    const data = { x: new Float32Array(20 * 784).map((_, i) => (i % 7) / 7), y: Int32Array.from({ length: 20 }, (_, i) => i % 10), n: 20 };
    await lib.trainClassifier(clf, data, [784], { epochs: 2, batchSize: 10 });
    expect(Array.from(ae.getLayer('code').getWeights()[0])).toEqual(Array.from(before));
    expect(lib.mlpFromScratch([256, 64]).countParams().total).toBe(clf.countParams().total);
  });

  it('the autoencoder trains with binaryCrossentropy on its own input', async () => {
    setSeed(2);
    const ae = lib.autoencoder();
    ae.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', batchSize: 16 });
    const x = tensor(new Float32Array(32 * 784).map((_, i) => ((i * 37) % 11) / 10), [32, 784]);
    const l0 = ae.evaluate(x, x).loss;
    await ae.fit(x, x, { epochs: 5, batchSize: 16 });
    expect(ae.evaluate(x, x).loss).toBeLessThan(l0);
  });

  it('the digit classifier reuses the rotation model\'s convolutions (layers.slice), frozen', () => {
    setSeed(3);
    const rot = lib.rotationModel();
    expect(rot.outputShape).toEqual([4]);
    const m = lib.digitsOnRotationBase(rot);
    expect(m.layers.slice(0, 5)).toEqual(rot.layers.slice(0, 5));
    expect(m.outputShape).toEqual([10]);
    expect(m.countParams().trainable).toBe(7 * 7 * 32 * 10 + 10);
    expect(lib.digitsFromScratch().countParams().total).toBe(m.countParams().total);
  });

  it('table: aligned columns under a rule', () => {
    expect(lib.table([['a', 'bb'], ['ccc', 'd']])).toBe('a    bb\n---  --\nccc   d');
  });
});
