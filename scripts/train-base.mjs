// Regenerates models/mnist-base-0to4.safetensors: a 784-300-100-5 MLP trained on the real MNIST
// digits 0-4 with fixed seeds. Deterministic: test/demo.test.ts checks the committed file is
// exactly what this produces.
import { trainBase } from '../dist/node.js';

await trainBase();
