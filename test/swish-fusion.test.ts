// x * sigmoid(x) as one swish pass (host/compile/lower.ts): PyTorch exports SiLU to ONNX as a
// Sigmoid and a Mul of its input, two passes over the activation (EfficientNet has 49 of them).
// Where no gradient flows through them, the plan runs act_forward swish instead, with the same
// bits as the two passes (swish is x times the sigmoid's own f32 expression). Checked: the ops of
// the inference plan, the outputs against the unfused plan bit for bit and against an f64 twin,
// the multiply's inputs in either order, and the cases left alone (a sigmoid read elsewhere or
// multiplied by something else: the SE gate; training, where the gradient needs the sigmoid).
import { describe, expect, it } from 'vitest';
import { input, layers, model, setSeed, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { closeness, describeCloseness } from './support/close';

const SWISH_KIND = 9; // ACT_SWISH, assembly/kernels/activations.ts
const SIGMOID_KIND = 2;

// conv -> x * sigmoid(x) -> depthwise -> sigmoid(y) * y -> SE-style gate -> gap. With
// `sigmoidOut`, the first sigmoid is a model output as well, so it must be kept (the unfused plan).
function build(sigmoidOut = false) {
  setSeed(11);
  const inp = input({ shape: [5, 6, 3] });
  const x = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(inp);
  const s = layers.activation('sigmoid').apply(x);
  const a = layers.multiply().apply([x, s]);
  const d = layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(a);
  const b = layers.multiply().apply([layers.activation('sigmoid').apply(d), d]);
  const gate = layers.reshape([1, 1, 8]).apply(layers.activation('sigmoid').apply(layers.globalAveragePooling2d().apply(b)));
  const out = layers.globalAveragePooling2d().apply(layers.multiply().apply([b, gate]));
  return model({ inputs: inp, outputs: sigmoidOut ? [out, s] : out });
}

const actKinds = (ops: { op: string; args: Record<string, number> }[]) => ops.filter((o) => o.op === 'act_forward').map((o) => o.args.kind);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

describe('x * sigmoid(x) runs as one swish pass', () => {
  it('in inference: no sigmoid and mul passes for it, either input order, same bits as the unfused plan', () => {
    const m = build();
    // Weights big enough that the sigmoids saturate on both sides.
    for (const l of m.layers) if (l.weightSpecs.length) l.setWeights(l.getWeights().map((w) => w.map((v, j) => 3 * v + 0.1 * Math.sin(j))));
    const ops = m.planInference(2).programs.forward!.ops;
    // Two swishes; the SE gate's sigmoid (a [1, 1, 8] scale of another tensor) stays, and its multiply broadcasts.
    expect(actKinds(ops)).toEqual([SWISH_KIND, SWISH_KIND, SIGMOID_KIND]);
    expect(ops.filter((o) => o.op === 'mul').length).toBe(0);
    const x = randomArray(2 * 5 * 6 * 3, 5, -3, 3);
    const got = m.predict(tensor(x, [2, 5, 6, 3])).data;

    const u = build(true);
    u.layers.forEach((l, i) => { if (l.weightSpecs.length) l.setWeights(m.layers[i].getWeights()); });
    const uops = u.planInference(2).programs.forward!.ops;
    expect(actKinds(uops)).toEqual([SIGMOID_KIND, SWISH_KIND, SIGMOID_KIND]);
    expect(uops.filter((o) => o.op === 'mul').length).toBe(1);
    const [want] = u.predict(tensor(x, [2, 5, 6, 3])) as unknown as { data: Float32Array }[];
    expect(got.length).toBe(16);
    expect(Array.from(got).every((v, i) => Object.is(v, want.data[i]))).toBe(true);
  });

  it('computes x * sigmoid(x) (f64 twin of a lone conv -> sigmoid -> multiply)', () => {
    setSeed(3);
    const inp = input({ shape: [4, 4, 2] });
    const c = layers.conv2d({ filters: 5, kernelSize: 1 });
    const x = c.apply(inp);
    const m = model({ inputs: inp, outputs: layers.multiply().apply([layers.activation('sigmoid').apply(x), x]) });
    c.setWeights([Float32Array.from({ length: 10 }, (_, i) => 4 * Math.sin(i + 1)), Float32Array.from({ length: 5 }, (_, i) => i - 2)]);
    expect(actKinds(m.planInference(3).programs.forward!.ops)).toEqual([SWISH_KIND]);
    const xs = randomArray(3 * 16 * 2, 8, -4, 4);
    const got = m.predict(tensor(xs, [3, 4, 4, 2])).data;
    const [w, b] = c.getWeights();
    const want = new Float64Array(3 * 16 * 5);
    for (let p = 0; p < 48; p++) for (let f = 0; f < 5; f++) {
      const z = xs[2 * p] * w[f] + xs[2 * p + 1] * w[5 + f] + b[f];
      want[p * 5 + f] = z * sigmoid(z);
    }
    const cl = closeness(got, want, 1e-5, 1e-5);
    expect(cl.ratio, describeCloseness('swish vs f64', cl)).toBeLessThanOrEqual(1);
    expect(Math.min(...want)).toBeLessThan(-0.2);
    expect(Math.max(...want)).toBeGreaterThan(3);
  });

  it('keeps the sigmoid and the multiply where a gradient flows through them (training)', () => {
    const m = build();
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 2 });
    const ops = m.plan.programs.train!.ops;
    expect(actKinds(ops)).toEqual([SIGMOID_KIND, SIGMOID_KIND, SIGMOID_KIND]);
    expect(ops.filter((o) => o.op === 'mul').length).toBeGreaterThanOrEqual(2);
  });
});
