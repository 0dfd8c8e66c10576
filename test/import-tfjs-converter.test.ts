// The real emotion and gender classifiers executed by TensorFlow.js's own graph-model runtime
// (tfjs-converter's tf.loadGraphModel) against our import of the same files, batch 1 and 8.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tfconv from '@tensorflow/tfjs-converter';
import { importTfjsGraphModel, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';
import { tf } from './tfjs';

const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;

describe.each(['emotion', 'gender'])('%s: tf.loadGraphModel as the oracle', (name) => {
  const json = JSON.parse(readFileSync(join(MODELS, `${name}.json`), 'utf8'));
  const paths: string[] = json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths);
  const shards = paths.map((p) => readFileSync(join(MODELS, p)));
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  shards.reduce((o, s) => { weightData.set(s, o); return o + s.length; }, 0);
  const weightSpecs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);

  it.each([1, 8])('batch %i: probabilities agree within 1e-4', async (batch) => {
    const oracle = await tfconv.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: weightData.buffer, format: 'graph-model' }));
    const ours = await importTfjsGraphModel(json, async (p) => new Uint8Array(readFileSync(join(MODELS, p))), `${name}.json`);
    const x = randomArray(batch * 64 * 64, 101 + batch).map((v) => (v + 1) / 2);
    const theirs = (oracle.predict(tf.tensor(x, [batch, 64, 64, 1])) as ReturnType<typeof tf.tensor>).dataSync();
    const mine = ours.predict(tensor(x, [batch, 64, 64, 1]), { batchSize: batch }).data;
    expect(maxAbsDiff(mine, theirs)).toBeLessThan(1e-4);
    // Real, spread-out probabilities (not a degenerate comparison of near-constant outputs).
    expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(0.05);
    oracle.dispose();
  });
});
