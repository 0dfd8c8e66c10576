// The page's fine-tuning recipe, shared by the worker and by the Node side of test/browser.test.ts
// (which repeats a page run and expects the same bits): the bundled base (784-300-100-5, digits
// 0-4) frozen under a new softmax head for digits 5-9, Adam, a fixed seed for the head and the shuffle.
import type * as Edgetune from '../../host/index';
import { digestWeights } from '../common/determinism.mjs';

export type EdgetuneModule = typeof Edgetune;
export type Model = Edgetune.Model;

export const HEAD_SEED = 5;
export const FIT = { epochs: 40, batchSize: 10, learningRate: 1e-2, seed: 1 };
export const HEAD_NAME = 'head_5to9';
export const FIRST_DIGIT = 5;

// A new model, or the one saved in IndexedDB (the page saves model.toBytes()). Either way the base
// is frozen and only the head trains.
export async function transferModel(et: EdgetuneModule, baseBytes: Uint8Array, saved?: Uint8Array | null): Promise<Model> {
  let model: Model;
  if (saved) {
    model = await et.loadModel(saved);
    if (model.layers[model.layers.length - 1].name !== HEAD_NAME) throw new et.ModelFormatError(`saved model has no '${HEAD_NAME}' layer`, 'IndexedDB');
  } else {
    et.setSeed(HEAD_SEED);
    const base = await et.loadModel(baseBytes);
    model = et.sequential([...base.layers.slice(0, -1), et.layers.dense(5, { activation: 'softmax', name: HEAD_NAME })], { name: 'browser_5to9' });
  }
  for (const l of model.layers.slice(0, -1)) l.trainable = false;
  model.compile({ optimizer: et.optimizers.adam({ learningRate: FIT.learningRate }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: FIT.batchSize });
  return model;
}

// Fine-tunes on (x, labels 5-9) for FIT.epochs; the shuffle seed is FIT.seed + run, run counting
// the trainings since the head was made.
export function fitOptions(run: number) {
  return { epochs: FIT.epochs, batchSize: FIT.batchSize, seed: FIT.seed + run, shuffle: true };
}

export function toClassIndices(digits: ArrayLike<number>): Int32Array {
  return Int32Array.from(digits, (d) => d - FIRST_DIGIT);
}

export function headDigest(model: Model): string {
  return digestWeights(model.layers[model.layers.length - 1].getWeights());
}
