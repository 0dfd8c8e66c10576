// What "accepted" means for a model: it predicts on zeros of its input shape and gives outputs.
// Shared by test/fuzz/targets.ts and the sandbox child (test/fuzz/sandbox-child.mjs).
import { tensor } from '../../dist/node.js';

export function runs(m) {
  const shape = m.inputShape.map((d) => (d === null ? 1 : d));
  const y = m.predict(tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), [1, ...shape]));
  const out = Array.isArray(y) ? y[0] : y;
  if (!out.data.length) throw new Error('accepted model predicted nothing');
}
