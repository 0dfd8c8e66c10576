// Trains a model that reaches most kernels (convolution, depthwise, pooling, batch norm, dropout,
// several activations, dense, Adam) and prints the kernel build used and the model's bytes as
// hex SHA-256. Run with EDGETUNE_SIMD=0, or with the argument 'scalar' (setKernelVariant), to force
// the no-SIMD kernels.
import { createHash } from 'node:crypto';
import { kernelVariant, layers, optimizers, sequential, setKernelVariant, setSeed, tensor } from '../../dist/node.js';

if (process.argv[2]) setKernelVariant(process.argv[2]);
setSeed(3);
const model = sequential([
  layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'gelu', inputShape: [13, 11, 3], name: 'c1' }),
  layers.batchNormalization({ name: 'bn1' }),
  layers.depthwiseConv2d({ kernelSize: 3, strides: 2, activation: 'swish', name: 'dw' }),
  layers.maxPooling2d({ poolSize: 2, name: 'mp' }),
  layers.conv2d({ filters: 7, kernelSize: 1, activation: 'tanh', name: 'c2' }),
  layers.averagePooling2d({ poolSize: 1, name: 'ap' }),
  layers.flatten({ name: 'f' }),
  layers.dropout(0.3, { seed: 9, name: 'drop' }),
  layers.dense(9, { activation: 'elu', name: 'd1' }),
  layers.dense(4, { activation: 'softmax', name: 'out' }),
], { name: 'variant' });
model.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: 7 });
const n = 23;
const x = new Float32Array(n * 13 * 11 * 3);
let s = 12345;
for (let i = 0; i < x.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; x[i] = (s >>> 8) / 16777216 - 0.5; }
const y = Int32Array.from({ length: n }, (_, i) => (i * 7) % 4);
const history = await model.fit(tensor(x, [n, 13, 11, 3]), tensor(y, [n]), { epochs: 3, batchSize: 7, seed: 1, verbose: 0 });
const out = model.predict(tensor(x.subarray(0, 5 * 13 * 11 * 3), [5, 13, 11, 3]));
const hash = createHash('sha256').update(model.toBytes()).update(new Uint8Array(out.data.buffer)).digest('hex');
console.log(JSON.stringify({ variant: kernelVariant(), hash, loss: history.history.loss }));
