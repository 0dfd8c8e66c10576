// The threads determinism scenario (docs/threads.md): an MLP (Adam) and a CNN with batch norm
// (SGD) trained and run on a given thread count must give the same bits on every thread count
// and in every runtime (Node, Deno, Bun, Chromium). Inputs come from integer arithmetic only
// (scenarioData's hash), so no engine's float library touches them before wasm does.
//
// runThreadsScenario(edgetune, threads) -> { mlp, cnn }, each { weightsHex, predictions, loss,
// threads, workerTiles }: FNV-1a of every weight, the FNV-1a of the predictions' bytes, the
// losses, and the threads the model ran on with the tiles its workers ran.
import { digestWeights } from './determinism.mjs';

// n rows of `features` values in [0, 1) from an integer hash seeded by `seed`; labels i*7 mod classes.
function hashData(n, features, classes, seed) {
  const x = new Float32Array(n * features);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    x[i] = (s >>> 24) / 256;
  }
  return { x, y: new Float32Array(n).map((_, i) => (i * 7) % classes) };
}

// Every dense GEMM is large enough to be split (m * n * k >= 64^3 at batch 32).
function mlp(edgetune, threads) {
  const { layers, sequential } = edgetune;
  const m = sequential([
    layers.dense(192, { activation: 'relu', inputShape: [256] }),
    layers.dense(96, { activation: 'tanh' }),
    layers.dense(10, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 32, threads });
  return { model: m, shape: [128, 256], classes: 10, seed: 0x1234567 };
}

function cnn(edgetune, threads) {
  const { layers, sequential } = edgetune;
  const m = sequential([
    layers.conv2d(16, { kernelSize: 3, padding: 'same', inputShape: [16, 16, 3] }),
    layers.batchNormalization(),
    layers.activation('relu'),
    layers.conv2d(24, { kernelSize: 3, strides: 2 }),
    layers.batchNormalization(),
    layers.activation('relu'),
    layers.flatten(),
    layers.dense(5, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', batchSize: 32, threads });
  return { model: m, shape: [64, 16, 16, 3], classes: 5, seed: 0x9e3779b9 };
}

async function train(edgetune, make, threads, seed) {
  const { setSeed, tensor, threadsReady } = edgetune;
  setSeed(seed);
  const { model, shape, classes, seed: dataSeed } = make(edgetune, threads);
  const n = shape[0];
  const { x, y } = hashData(n, shape.slice(1).reduce((a, b) => a * b, 1), classes, dataSeed);
  const xs = tensor(x, shape);
  const ys = tensor(y, [n]);
  const fit = (epochs) => model.fit(xs, ys, { epochs, batchSize: 32, shuffle: false, verbose: 0 });
  // The pool starts on the first run; wait for its workers so the later epochs use them.
  await fit(1);
  await threadsReady();
  const h = await fit(2);
  const probs = await model.predict(xs);
  const result = {
    weightsHex: model.layers.flatMap((l) => l.getWeights()).map((w) => digestWeights([w])),
    predictions: digestWeights([probs.data ?? probs]),
    loss: h.history.loss,
    threads: model.threads.threads,
    workerTiles: model.threads.workerTiles,
  };
  // On a loaded machine the workers may not have been scheduled in time to claim a tile: more
  // steps (after the digests) until they do, so a caller can check that they took part.
  for (let i = 0; i < 20 && threads > 1 && result.threads > 1 && result.workerTiles === 0; i++) {
    await fit(1);
    result.workerTiles = model.threads.workerTiles;
  }
  return result;
}

export async function runThreadsScenario(edgetune, threads) {
  return { mlp: await train(edgetune, mlp, threads, 11), cnn: await train(edgetune, cnn, threads, 23) };
}
