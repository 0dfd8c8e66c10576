// Deno and Bun run the package unmodified (local imports of dist/, model from bytes and from a
// path) and give bit-identical fine-tuning results to this Node process: the same head weights,
// byte for byte, and the same predicted probabilities.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as edgetune from '../dist/index.js';
import { digestWeights, runScenario } from '../examples/common/determinism.mjs';
import { runThreadsScenario } from '../examples/common/threads-scenario.mjs';
import { ROOT, runToEnd, scratchDir } from './runtime-spawn';

const SMOKE = join(ROOT, 'examples/runtimes/smoke.mjs');
const THREADS = join(ROOT, 'examples/runtimes/threads.mjs');
const modelBytes = new Uint8Array(readFileSync(join(ROOT, 'models/mnist-base-0to4.safetensors')));

describe('Deno and Bun smoke suite, determinism against Node', () => {
  let expected: Awaited<ReturnType<typeof runScenario>>;
  let untrainedHead: string;
  const scratch = scratchDir('edgetune-runtimes-');

  beforeAll(async () => {
    expected = await runScenario(edgetune, modelBytes);
    // The head as initialized (same seed, no training): the scenario must have moved away from it.
    edgetune.setSeed(7);
    const base = await edgetune.loadModel(modelBytes);
    const probe = edgetune.sequential([...base.layers.slice(0, -1), edgetune.layers.dense(5, { activation: 'softmax', name: 'head' })]);
    untrainedHead = digestWeights(probe.layers[probe.layers.length - 1].getWeights());
  });
  afterAll(() => scratch.remove());

  it('the scenario trains a head in this process: probabilities sum to 1 and the weights moved', () => {
    expect(expected.predictions).toHaveLength(20);
    for (let r = 0; r < 4; r++) {
      const row = expected.predictions.slice(r * 5, r * 5 + 5);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    expect(expected.digest).not.toBe(untrainedHead);
  });

  for (const runtime of ['deno', 'bun'] as const) {
    it(`${runtime}: same head weights (bit for bit) and predictions as Node; save/load through its file system`, async () => {
      const dir = join(scratch.dir, runtime);
      mkdirSync(dir, { recursive: true });
      const out = JSON.parse((await runToEnd(runtime, SMOKE, [dir], scratch.dir, 90_000)).trim().split('\n').pop()!);
      expect(out.runtime).toMatch(new RegExp(`^${runtime} `));
      expect(out.weightsHex).toEqual(expected.weightsHex);
      expect(out.digest).toBe(expected.digest);
      expect(out.predictions).toEqual(expected.predictions);
      // The saved file reloads to the same weights, and those are the bundled model's.
      const bundled = await edgetune.loadModel(modelBytes);
      expect(out.files.original).toBe(digestWeights(bundled.layers.flatMap((l: { getWeights(): Float32Array[] }) => l.getWeights())));
      expect(out.files.reloaded).toBe(out.files.original);
    });
  }
});

// docs/threads.md: Deno runs the pool on node:worker_threads, Bun on its Web Workers; both on the
// shared memory of the threads build. 1, 2 and 3 threads give Node's bits.
describe('Deno and Bun threads: 1, 2 and 3 threads give the bits Node gives on one', () => {
  let node: Awaited<ReturnType<typeof runThreadsScenario>>;
  const scratch = scratchDir('edgetune-runtimes-threads-');
  beforeAll(async () => {
    node = await runThreadsScenario(edgetune, 1);
  }, 120_000);
  afterAll(() => scratch.remove());

  for (const runtime of ['deno', 'bun'] as const) {
    it(`${runtime}: MLP (adam) and CNN with batch norm (sgd), weights, losses and predictions`, async () => {
      const out = JSON.parse((await runToEnd(runtime, THREADS, [], scratch.dir, 120_000)).trim().split('\n').pop()!);
      expect(out.runtime).toMatch(new RegExp(`^${runtime} `));
      for (const threads of [1, 2, 3]) {
        for (const net of ['mlp', 'cnn'] as const) {
          const got = out.byThreads[threads][net];
          const where = `${runtime}, ${net}, ${threads} threads`;
          expect(got.threads, where).toBe(threads);
          expect(got.weightsHex, where).toEqual(node[net].weightsHex);
          expect(got.predictions, where).toBe(node[net].predictions);
          expect(got.loss, where).toEqual(node[net].loss);
          // The workers ran tiles (the driver claims the rest).
          if (threads > 1) expect(got.workerTiles, where).toBeGreaterThan(0);
        }
      }
    }, 150_000);
  }
});
