// node examples/mcu/finetune-256k.mjs (after npm run build): the whole head fine-tune in a 256 KB
// arena: loss curve, held-out accuracy and the memory breakdown.
import { mcuFinetune } from './finetune-lib.mjs';

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const r = await mcuFinetune({ log: console.log });
const b = r.plan.breakdown;
console.log(`held-out accuracy on digits 5-9: ${(100 * r.accuracy).toFixed(2)}% (${r.testCount} images; ${r.trainCount} labelled for training)`);
console.log(`arena ${kb(r.plan.totalBytes)} planned (${r.plan.pages} wasm page(s) = ${kb(r.plan.pages * 65536)}): weights ${kb(b.weights)} (int8 base kernels), ` +
  `gradients ${kb(b.gradients)}, Adam slots ${kb(b.optimizerState)}, activations ${kb(b.activations)} (one sample), scratch ${kb(b.scratch)}, ` +
  `programs, I/O and statics ${kb(b.other)}; live-set lower bound ${kb(r.plan.lowerBound.bytes)}`);
