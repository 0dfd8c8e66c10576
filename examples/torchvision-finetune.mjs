// Fine-tuning a PyTorch model on the device: a torchvision MobileNetV2 exported by PyTorch's own
// `torch.onnx.export`, imported as ordinary edgetune layers, cut at its pooled features (the
// `outputs` import option), frozen, and given a new softmax head trained on MNIST digits resized
// to the backbone's 64x64 RGB input.
//   1. export (Debian's python3-torch and python3-torchvision; random weights unless you load some):
//        /usr/bin/python3 test/torch/export.py /tmp/zoo mobilenet_v2:64
//   2. npm run build && node examples/torchvision-finetune.mjs /tmp/zoo/mobilenet_v2.onnx [labels per class]
// With random backbone weights this shows the plumbing and the speed, not transfer: the accuracy it
// prints is what a frozen random MobileNetV2 feature extractor gives a linear head. Load trained
// weights (torchvision's `weights=` argument before exporting) for real transfer learning.
import { readFile } from 'node:fs/promises';
import { importOnnx, input, layers, model, optimizers, setSeed, tensor } from '../dist/node.js';
import { loadMnist, selectDigits } from '../dist/examples.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: node examples/torchvision-finetune.mjs MODEL.onnx [labels per class]  (export it first: see the comment at the top)');
  process.exit(2);
}
const perClass = Number(process.argv[3] ?? 20);
setSeed(7);

// The backbone up to its pooled, flattened features (the classifier's input), NHWC inside.
const backbone = importOnnx(new Uint8Array(await readFile(file)), file, { outputs: ['/Flatten_output_0'] });
const [h, w] = backbone.graph.nodes[backbone.graph.inputs[0]].shape;

// The backbone replayed on a new input: 28x28 grey digits -> 64x64 -> three channels.
function replay(base, x) {
  const g = base.graph;
  const values = new Map([[g.inputs[0], x]]);
  for (const n of g.nodes) {
    if (!n.layer) continue;
    const ins = n.inputs.map((i) => values.get(i));
    values.set(n.id, n.layer.apply(ins.length === 1 ? ins[0] : ins));
  }
  return values.get(g.outputs[0]);
}
const inp = input({ shape: [28, 28, 1] });
const resized = layers.resizing(h, w).apply(layers.rescaling(2, { offset: -1 }).apply(inp));
const rgb = layers.tile({ multiples: [1, 1, 3] }).apply(resized);
const features = replay(backbone, rgb);
const head = layers.dense(10, { activation: 'softmax', name: 'digit_head' });
const m = model({ inputs: inp, outputs: head.apply(features), name: 'mobilenet_v2_digits' });
for (const l of backbone.layers) l.trainable = false;

const digits = loadMnist();
const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const train = selectDigits(digits, all, 'train', { perClass });
const test = selectDigits(digits, all, 'test', { perClass: 50 });
console.log(`${file}: ${backbone.layers.length} layers imported, features [${features.shape}]; MNIST ${train.n} training images, ${test.n} held out`);
m.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 32 });
const t0 = performance.now();
await m.fit(tensor(train.x, [train.n, 28, 28, 1]), tensor(train.y, [train.n]), { epochs: 10, verbose: 0 });
const seconds = (performance.now() - t0) / 1000;
const r = m.evaluate(tensor(test.x, [test.n, 28, 28, 1]), tensor(test.y, [test.n]));
console.log(`frozen backbone + new head: held-out accuracy ${(100 * r.accuracy).toFixed(2)}% after 10 epochs in ${seconds.toFixed(1)} s`);
