// Building blocks shared by the two pretraining examples (and their tests): the MNIST split, the
// few-label subset, rotations for the self-supervised task, the models, and a comparison table.
import { input, layers, model, optimizers, sequential, tensor } from '../dist/node.js';
import { loadMnist, selectDigits } from '../dist/examples.js';

const ALL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

// Per class, the first 80% train (unlabelled pool; `perClass` of them keep their label) and the
// last 20% are held out.
export function mnistSplit(perClass, digits = loadMnist()) {
  const pool = selectDigits(digits, ALL, 'train');
  const labelled = selectDigits(digits, ALL, 'train', { perClass });
  const test = selectDigits(digits, ALL, 'test');
  return { pool, labelled, test };
}

// A 28x28 image rotated by k quarter turns counter-clockwise: out[y][x] = in[x][27 - y] for one turn.
export function rotate(img, k, size = 28) {
  let src = img;
  for (let t = 0; t < ((k % 4) + 4) % 4; t++) {
    const out = new Float32Array(size * size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) out[y * size + x] = src[x * size + (size - 1 - y)];
    src = out;
  }
  return src === img ? img.slice() : src;
}

// The self-supervised data: each of the first `count` pool images in all four rotations, the label
// being the number of quarter turns.
export function rotationTask(x, count, size = 28) {
  const per = size * size;
  const n = count * 4;
  const xs = new Float32Array(n * per);
  const ys = new Int32Array(n);
  for (let i = 0; i < count; i++) {
    const img = x.subarray(i * per, (i + 1) * per);
    for (let k = 0; k < 4; k++) {
      xs.set(rotate(img, k, size), (i * 4 + k) * per);
      ys[i * 4 + k] = k;
    }
  }
  return { x: xs, y: ys, n };
}

// Stacked denoising autoencoder 784-256-64-256-784: dropout on the input pixels (training only)
// makes it reconstruct digits from damaged copies; sigmoid reconstruction of pixel intensities.
export function autoencoder() {
  const x = input({ shape: [784], name: 'pixels' });
  const noisy = layers.dropout(0.3, { name: 'pixel_noise' }).apply(x);
  const h = layers.dense(256, { activation: 'relu', name: 'enc_1' }).apply(noisy);
  const code = layers.dense(64, { activation: 'relu', name: 'code' }).apply(h);
  const d = layers.dense(256, { activation: 'relu', name: 'dec_1' }).apply(code);
  const out = layers.dense(784, { activation: 'sigmoid', name: 'reconstruction' }).apply(d);
  return model({ inputs: x, outputs: out, name: 'stacked_autoencoder' });
}

// A classifier on the autoencoder's encoder up to `cut` ('enc_1' or 'code'): the same layer
// objects and weights (getLayer(cut).output), frozen, under a new softmax head.
export function classifierOnEncoder(ae, cut) {
  const head = layers.dense(10, { activation: 'softmax', name: `head_on_${cut}` });
  const clf = model({ inputs: ae.inputs, outputs: head.apply(ae.getLayer(cut).output), name: `classifier_on_${cut}` });
  clf.freeze(cut);
  return clf;
}

// The same classifier from scratch: 784-hidden...-10, everything trainable.
export function mlpFromScratch(hidden) {
  return sequential([
    ...hidden.map((units, i) => layers.dense(units, { activation: 'relu', name: `scratch_${i + 1}`, ...(i === 0 ? { inputShape: [784] } : {}) })),
    layers.dense(10, { activation: 'softmax', name: 'scratch_head' }),
  ], { name: 'mlp_from_scratch' });
}

// conv3x3(16)-pool-conv3x3(32)-pool-flatten, the part reused from the rotation task.
export function convBase(prefix) {
  return [
    layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [28, 28, 1], name: `${prefix}conv_1` }),
    layers.maxPooling2d({ name: `${prefix}pool_1` }),
    layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: `${prefix}conv_2` }),
    layers.maxPooling2d({ name: `${prefix}pool_2` }),
    layers.flatten({ name: `${prefix}flatten` }),
  ];
}

export function rotationModel() {
  return sequential([...convBase('rot_'), layers.dense(64, { activation: 'relu', name: 'rot_dense' }), layers.dense(4, { activation: 'softmax', name: 'rot_head' })], { name: 'rotation_pretext' });
}

// The real task on the pretext model's lower layers (taken with layers.slice, frozen) or from scratch.
export function digitsOnRotationBase(rot) {
  const m = sequential([...rot.layers.slice(0, 5), layers.dense(10, { activation: 'softmax', name: 'digits_head' })], { name: 'digits_on_rotation_base' });
  m.freeze('rot_flatten');
  return m;
}

export function digitsFromScratch() {
  return sequential([...convBase('scratch_'), layers.dense(10, { activation: 'softmax', name: 'scratch_head' })], { name: 'digits_from_scratch' });
}

export async function trainClassifier(m, data, shape, { epochs, learningRate = 1e-3, batchSize = 32, seed = 1 }) {
  m.compile({ optimizer: optimizers.adam({ learningRate }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize });
  await m.fit(tensor(data.x, [data.n, ...shape]), tensor(data.y, [data.n]), { epochs, batchSize, seed });
  return m;
}

export function accuracy(m, data, shape) {
  return m.evaluate(tensor(data.x, [data.n, ...shape]), tensor(data.y, [data.n]), { batchSize: 250 }).accuracy;
}

export function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r, i) => {
    const line = r.map((v, c) => (c === 0 ? String(v).padEnd(widths[c]) : String(v).padStart(widths[c]))).join('  ');
    return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}
