// Regenerates the bundled bases, trained on the real MNIST digits 0-4 with fixed seeds:
// models/mnist-base-0to4.safetensors (784-300-100-5 MLP) and models/mnist-cnn-base-0to4.safetensors
// (conv3x3(16)-pool-conv3x3(32)-pool-dense). Deterministic: test/demo.test.ts checks the committed
// files are exactly what this produces.
import { trainBase } from '../dist/examples.js';

await trainBase(console.log, undefined, 'mlp');
await trainBase(console.log, undefined, 'cnn');
