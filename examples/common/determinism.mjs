// The cross-runtime determinism scenario: the same seed must give bit-identical weights on Node,
// Deno, Bun, Chromium and WASI. Inputs are generated with integer arithmetic only, so no engine's
// float library is involved before the data reaches wasm.
//
// runScenario(edgetune, modelBytes) takes the edgetune module (whatever way the runtime imported
// it) and the bytes of models/mnist-base-0to4.safetensors, fine-tunes a new head on a frozen base
// for a fixed number of steps and returns { weightsHex, digest, predictions }.

// 64 synthetic 28x28 "images" and labels 0..4: an integer hash scaled to [0, 1).
export function scenarioData(n = 64) {
  const x = new Float32Array(n * 784);
  const y = new Float32Array(n);
  let s = 0x9e3779b9 >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    x[i] = (s >>> 24) / 256;
  }
  for (let i = 0; i < n; i++) y[i] = i % 5;
  return { x, y, n };
}

// FNV-1a over the bytes of every weight, in order: a short, exact fingerprint.
export function digestWeights(arrays) {
  let h = 0x811c9dc5 >>> 0;
  for (const a of arrays) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

// The scenario's model, compiled: the base frozen under a new seeded head, Adam 1e-2, batch 16.
export async function scenarioModel(edgetune, modelBytes) {
  const { loadModel, sequential, layers, optimizers, setSeed } = edgetune;
  setSeed(7);
  const base = await loadModel(modelBytes);
  const reused = base.layers.slice(0, -1);
  for (const l of reused) l.trainable = false;
  const model = sequential([...reused, layers.dense(5, { activation: 'softmax', name: 'head' })], { name: 'determinism' });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', batchSize: 16 });
  return model;
}

export async function runScenario(edgetune, modelBytes) {
  const { tensor } = edgetune;
  const model = await scenarioModel(edgetune, modelBytes);
  const { x, y, n } = scenarioData();
  await model.fit(tensor(x, [n, 784]), tensor(y, [n]), { epochs: 3, batchSize: 16, seed: 3, shuffle: true, verbose: 0 });
  const head = model.layers[model.layers.length - 1].getWeights();
  const probs = await model.predict(tensor(x.subarray(0, 4 * 784), [4, 784]));
  const predictions = Array.from(probs.data ?? probs);
  return { digest: digestWeights(head), weightsHex: Array.from(head, (w) => digestWeights([w])), predictions };
}
