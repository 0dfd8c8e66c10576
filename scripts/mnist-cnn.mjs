// The MNIST CNN with BatchNormalization on the bundled digits (see host/cli/cnn-example.ts).
// node scripts/mnist-cnn.mjs [epochs]
import { trainMnistCnn } from '../dist/examples.js';

await trainMnistCnn({ epochs: Number(process.argv[2] ?? 9) });
