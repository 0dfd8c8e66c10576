// Deno and Bun run the package unmodified (local imports of dist/, model from bytes and from a
// path) and give bit-identical fine-tuning results to this Node process: the same head weights,
// byte for byte, and the same predicted probabilities.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as edgetune from '../dist/index.js';
import { digestWeights, runScenario } from '../examples/common/determinism.mjs';
import { ROOT, runToEnd, scratchDir } from './runtime-spawn';

const SMOKE = join(ROOT, 'examples/runtimes/smoke.mjs');
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
