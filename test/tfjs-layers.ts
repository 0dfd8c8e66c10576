// TensorFlow.js mirrors of edgetune models of any layer kind, for layer-by-layer comparison: the
// same graph built from tfjs-layers layers, called eagerly, with the edgetune weights copied in.
// A softmax output is left as logits (the loss is computed with logSoftmax, as edgetune fuses it).
// Where tfjs cannot serve as the oracle directly, the mirror composes tfjs ops instead:
// - hardSigmoid: tfjs has the Keras 2 formula (0.2x + 0.5); Keras 3 is relu6(x + 3)/6.
// - leakyRelu / elu with a non-default parameter as a fused activation: tf.leakyRelu, tf ops.
// - dilation > 1: tfjs-core has no gradient for dilated convolutions, and tfjs-layers'
//   DepthwiseConv2D ignores dilationRate altogether (passes null). The mirror then uses the
//   equivalent undilated kernel ((k-1)*d + 1 taps, zeros between) and reads the kernel gradient
//   back at the dilated taps: always for depthwise, for conv2d with `exactGradients`.
// - averagePooling2d 'same': tfjs-backend-cpu's AvgPoolGrad divides every window by the full
//   window size although the forward divides an edge window by its taps inside the input, so its
//   gradient is wrong at the edges. With `exactGradients` the mirror computes the same average as
//   avgPool_valid(zero-padded x) / avgPool_valid(zero-padded ones), whose gradient is right.
import type { Layer, Model } from '../dist/node.js';
import { randomArray } from './support/harness';
import { tf, tfl } from './tfjs';

type T = tf.Tensor;

export interface MirrorVariable {
  key: string; // '<layer>/<weight>', as in computeGradients().weights
  variable: tf.Variable;
  // The tfjs gradient of this variable in the edgetune weight layout.
  toEdgetune(g: Float32Array): Float32Array;
}

export interface Mirror {
  // Every node's output by node name; `out` is the model output (logits if outputSoftmax).
  forward(x: T, training: boolean): { out: T; nodes: Map<string, T> };
  outputSoftmax: boolean;
  variables: MirrorVariable[];
  layers: Map<string, tfl.layers.Layer[]>; // edgetune layer name -> tfjs layers holding its weights
}

interface Counterpart {
  weighted: tfl.layers.Layer | null; // the tfjs layer whose weights mirror the edgetune layer's
  call(inputs: T[], training: boolean): T;
  setWeights(ws: Float32Array[]): void;
  gradToEdgetune(i: number, g: Float32Array): Float32Array;
  // Which tfjs trainable weight mirrors which edgetune weight (default: the same order).
  trainable?: { spec: number; tfjsIndex: number }[];
}

const KERAS3_ACTIVATIONS: Record<string, string> = {
  linear: 'linear', relu: 'relu', sigmoid: 'sigmoid', tanh: 'tanh', elu: 'elu', selu: 'selu', gelu: 'gelu',
  geluTanh: 'gelu_new', swish: 'swish', relu6: 'relu6', softmax: 'softmax',
};

// The activation as tfjs ops, or null when a tfjs layer (by name) should be used instead.
function activationOps(name: string, alpha: number): ((t: T) => T) | null {
  switch (name) {
    case 'hardSigmoid': return (t) => tf.div(tf.relu6(tf.add(t, 3)), 6);
    case 'leakyRelu': return (t) => tf.leakyRelu(t, alpha);
    // relu(x) + alpha*(e^min(x,0) - 1): the same function, built from ops tfjs can differentiate.
    case 'elu': return alpha === 1 ? null : (t) => tf.add(tf.relu(t), tf.mul(alpha, tf.sub(tf.exp(tf.minimum(t, 0)), 1)));
    default: return null;
  }
}

function fusedActivation(name: string): { tfName: string; post: ((t: T) => T) | null } {
  // The function defaults of a named activation (leaky_relu 0.2, elu 1).
  const post = activationOps(name, name === 'leakyRelu' ? 0.2 : 1);
  if (post) return { tfName: 'linear', post };
  const tfName = KERAS3_ACTIVATIONS[name];
  if (!tfName) throw new Error(`no tfjs activation for ${name}`);
  return { tfName, post: null };
}

// Inserts (d-1) zeros between kernel taps: [kh, kw, a, b] -> [(kh-1)dh+1, (kw-1)dw+1, a, b].
function dilateKernel(w: Float32Array, shape: number[], dh: number, dw: number): { data: Float32Array; shape: number[] } {
  const [kh, kw, a, b] = shape;
  const eh = (kh - 1) * dh + 1;
  const ew = (kw - 1) * dw + 1;
  const out = new Float32Array(eh * ew * a * b);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
    out.set(w.subarray((i * kw + j) * a * b, (i * kw + j + 1) * a * b), ((i * dh) * ew + j * dw) * a * b);
  }
  return { data: out, shape: [eh, ew, a, b] };
}

function undilateGrad(g: Float32Array, shape: number[], dh: number, dw: number): Float32Array {
  const [kh, kw, a, b] = shape;
  const ew = (kw - 1) * dw + 1;
  const out = new Float32Array(kh * kw * a * b);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
    out.set(g.subarray(((i * dh) * ew + j * dw) * a * b, ((i * dh) * ew + j * dw + 1) * a * b), (i * kw + j) * a * b);
  }
  return out;
}

function counterpart(layer: Layer, asLogits: boolean, exactGradients: boolean): Counterpart {
  const c = layer.config;
  const specs = layer.weightSpecs;
  const plain = (l: tfl.layers.Layer, post: ((t: T) => T) | null = null): Counterpart => ({
    weighted: specs.length ? l : null,
    call: (inputs, training) => {
      const y = l.apply(inputs.length === 1 ? inputs[0] : inputs, { training }) as T;
      return post ? post(y) : y;
    },
    setWeights: (ws) => l.setWeights(ws.map((w, i) => tf.tensor(w, specs[i].shape))),
    gradToEdgetune: (_i, g) => g,
  });
  const act = (name: string) => (asLogits && name === 'softmax' ? { tfName: 'linear', post: null } : fusedActivation(name));
  switch (layer.kind) {
    case 'dense': {
      const a = act(c.activation as string);
      return plain(tfl.layers.dense({ units: c.units as number, useBias: c.useBias as boolean, activation: a.tfName as 'linear' }), a.post);
    }
    case 'conv2d':
    case 'depthwiseConv2d': {
      const a = act(c.activation as string);
      const [kh, kw] = c.kernelSize as number[];
      const [dh, dw] = c.dilationRate as number[];
      const expand = (exactGradients || layer.kind === 'depthwiseConv2d') && (dh > 1 || dw > 1);
      const kernelSize: [number, number] = expand ? [(kh - 1) * dh + 1, (kw - 1) * dw + 1] : [kh, kw];
      const common = {
        kernelSize, strides: c.strides as [number, number], padding: c.padding as 'same', dilationRate: (expand ? [1, 1] : [dh, dw]) as [number, number],
        useBias: c.useBias as boolean, activation: a.tfName as 'linear',
      };
      const l = layer.kind === 'conv2d'
        ? tfl.layers.conv2d({ filters: c.filters as number, ...common })
        : tfl.layers.depthwiseConv2d({ depthMultiplier: c.depthMultiplier as number, ...common });
      const cp = plain(l, a.post);
      if (!expand) return cp;
      return {
        ...cp,
        setWeights: (ws) => l.setWeights(ws.map((w, i) => {
          if (i > 0) return tf.tensor(w, specs[i].shape);
          const e = dilateKernel(w, specs[0].shape, dh, dw);
          return tf.tensor(e.data, e.shape);
        })),
        gradToEdgetune: (i, g) => (i === 0 ? undilateGrad(g, specs[0].shape, dh, dw) : g),
      };
    }
    case 'maxPooling2d':
    case 'averagePooling2d': {
      const args = { poolSize: c.kernelSize as [number, number], strides: c.strides as [number, number], padding: c.padding as 'same' };
      if (layer.kind === 'averagePooling2d' && c.padding === 'same' && exactGradients) return averagePoolSame(args.poolSize, args.strides);
      return plain(layer.kind === 'maxPooling2d' ? tfl.layers.maxPooling2d(args) : tfl.layers.averagePooling2d(args));
    }
    case 'globalAveragePooling2d': return plain(tfl.layers.globalAveragePooling2d({}));
    case 'flatten': return plain(tfl.layers.flatten());
    case 'reshape': return plain(tfl.layers.reshape({ targetShape: c.targetShape as number[] }));
    case 'batchNormalization': {
      // tfjs-layers' training-mode BatchNormalization reads gamma and beta unconditionally and
      // crashes without them (center or scale false): the mirror keeps both, fixed at 1 and 0.
      const l = tfl.layers.batchNormalization({ axis: -1, momentum: c.momentum as number, epsilon: c.epsilon as number });
      const names = specs.map((sp) => sp.name);
      const cp = plain(l);
      return {
        ...cp,
        setWeights: (ws) => {
          const channels = specs[names.indexOf('moving_mean')].shape;
          const get = (name: string, fill: number) => (names.includes(name) ? ws[names.indexOf(name)] : new Float32Array(channels[0]).fill(fill));
          l.setWeights([get('gamma', 1), get('beta', 0), get('moving_mean', 0), get('moving_variance', 1)].map((w) => tf.tensor(w, channels)));
        },
        trainable: (['gamma', 'beta'] as const).map((name, j) => ({ name, j })).filter(({ name }) => names.includes(name))
          .map(({ name, j }) => ({ spec: names.indexOf(name), tfjsIndex: j })),
      };
    }
    case 'dropout': return plain(tfl.layers.dropout({ rate: c.rate as number }));
    case 'add': return plain(tfl.layers.add());
    case 'concatenate': return plain(tfl.layers.concatenate({ axis: -1 }));
    case 'zeroPadding2d': return plain(tfl.layers.zeroPadding2d({ padding: c.padding as [[number, number], [number, number]] }));
    case 'multiply': return plain(tfl.layers.multiply());
    // tfjs-layers has no Subtract; its Resizing uses half_pixel_centers false (Keras/TF: true), and
    // tfjs-backend-cpu's ResizeBilinearGrad ignores half-pixel centers (and swaps non-square
    // shapes). So resizing is built as Ry . X . Rx^T with TF's interpolation matrices, which tfjs
    // differentiates exactly; its forward is checked against tf.image.resizeBilinear.
    case 'subtract': return { weighted: null, call: (inputs) => tf.sub(inputs[0], inputs[1]), setWeights: () => {}, gradToEdgetune: (_i, g) => g };
    case 'rescaling': {
      // The constants as the layer holds them now (tests may have randomized them).
      return { weighted: null, call: (inputs) => { const [sc, of] = layer.getWeights(); return tf.add(tf.mul(inputs[0], tf.tensor1d(sc)), tf.tensor1d(of)); }, setWeights: () => {}, gradToEdgetune: (_i, g) => g };
    }
    case 'resizing':
      return { weighted: null, call: (inputs) => resizeBilinearByMatmul(inputs[0] as tf.Tensor4D, c.height as number, c.width as number), setWeights: () => {}, gradToEdgetune: (_i, g) => g };
    case 'activation': {
      const name = c.activation as string;
      const alpha = c.alpha as number;
      if (asLogits && name === 'softmax') return { weighted: null, call: (inputs) => inputs[0], setWeights: () => {}, gradToEdgetune: (_i, g) => g };
      if (name === 'leakyRelu') return plain(tfl.layers.leakyReLU({ alpha }));
      if (name === 'elu' && alpha === 1) return plain(tfl.layers.elu({}));
      const ops = activationOps(name, alpha);
      if (ops) return { weighted: null, call: (inputs) => ops(inputs[0]), setWeights: () => {}, gradToEdgetune: (_i, g) => g };
      return plain(tfl.layers.activation({ activation: KERAS3_ACTIVATIONS[name] as 'relu' }));
    }
  }
}

// TF's half-pixel bilinear interpolation as an (out, in) matrix: row i weighs the two source
// pixels around (i + 0.5) * in / out - 0.5, clamped at the borders.
function interpolationMatrix(out: number, size: number): tf.Tensor2D {
  const m = new Float32Array(out * size);
  for (let i = 0; i < out; i++) {
    const f = (i + 0.5) * (size / out) - 0.5;
    const lerp = f - Math.floor(f);
    m[i * size + Math.max(Math.floor(f), 0)] += 1 - lerp;
    m[i * size + Math.min(Math.ceil(f), size - 1)] += lerp;
  }
  return tf.tensor2d(m, [out, size]);
}

export function resizeBilinearByMatmul(x: tf.Tensor4D, oh: number, ow: number): T {
  const [b, h, w, c] = x.shape;
  const rows = tf.matMul(interpolationMatrix(oh, h), tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, b * w * c])); // (oh, b*w*c)
  const cols = tf.transpose(tf.reshape(rows, [oh, b, w, c]), [2, 1, 0, 3]); // (w, b, oh, c)
  const out = tf.matMul(interpolationMatrix(ow, w), tf.reshape(cols, [w, b * oh * c])); // (ow, b*oh*c)
  return tf.transpose(tf.reshape(out, [ow, b, oh, c]), [1, 2, 0, 3]);
}

// TF's 'same' average pooling with a gradient tfjs gets right (see the header).
function averagePoolSame(k: [number, number], s: [number, number]): Counterpart {
  const pads = (size: number, kk: number, ss: number): [number, number] => {
    const out = Math.ceil(size / ss);
    const total = Math.max((out - 1) * ss + kk - size, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  return {
    weighted: null,
    setWeights: () => {},
    gradToEdgetune: (_i, g) => g,
    call: (inputs) => {
      const x = inputs[0] as tf.Tensor4D;
      const p: [number, number][] = [[0, 0], pads(x.shape[1], k[0], s[0]), pads(x.shape[2], k[1], s[1]), [0, 0]];
      const sum = tf.avgPool(tf.pad(x, p), k, s, 'valid');
      const taps = tf.avgPool(tf.pad(tf.onesLike(x), p), k, s, 'valid');
      return tf.div(sum, taps);
    },
  };
}

function isSoftmaxLayer(l: Layer | null): boolean {
  return !!l && l.config.activation === 'softmax' && ['dense', 'conv2d', 'depthwiseConv2d', 'activation'].includes(l.kind);
}

// A tfjs copy of `model` (any graph), with its current weights. exactGradients: use the
// workarounds above that make tfjs's gradients right (else the plain tfjs-layers layers).
export function mirror(model: Model, options: { exactGradients?: boolean } = {}): Mirror {
  const graph = model.graph;
  const outNode = graph.nodes[graph.outputs[0]];
  const outputSoftmax = isSoftmaxLayer(outNode.layer);
  const parts = new Map<Layer, Counterpart>();
  for (const n of graph.nodes) {
    if (n.layer && !parts.has(n.layer)) parts.set(n.layer, counterpart(n.layer, outputSoftmax && n.id === graph.outputs[0], !!options.exactGradients));
  }
  const forward = (x: T, training: boolean) => {
    const values: T[] = [];
    const nodes = new Map<string, T>();
    for (const n of graph.nodes) {
      values[n.id] = n.layer ? parts.get(n.layer)!.call(n.inputs.map((i) => values[i]), training) : x;
      nodes.set(n.name, values[n.id]);
    }
    return { out: values[graph.outputs[0]], nodes };
  };
  // Build the tfjs layers with one sample, then copy the weights in.
  tf.tidy(() => { forward(tf.zeros([1, ...model.inputShape]), false); });
  const variables: MirrorVariable[] = [];
  const layers = new Map<string, tfl.layers.Layer[]>();
  for (const [layer, part] of parts) {
    if (!part.weighted) continue;
    part.setWeights(layer.getWeights());
    part.weighted.trainable = layer.trainable;
    layers.set(layer.name, [part.weighted]);
    if (!layer.trainable) continue;
    // By default tfjs trainable weights come in edgetune's order (kernel, bias).
    const pairs = part.trainable ?? layer.weightSpecs.map((sp, i) => ({ sp, i })).filter(({ sp }) => sp.trainable).map(({ i }, j) => ({ spec: i, tfjsIndex: j }));
    for (const { spec, tfjsIndex } of pairs) {
      const w = part.weighted.trainableWeights[tfjsIndex];
      variables.push({ key: `${layer.name}/${layer.weightSpecs[spec].name}`, variable: w.read() as tf.Variable, toEdgetune: (g) => part.gradToEdgetune(spec, g) });
    }
  }
  return { forward, outputSoftmax, variables, layers };
}

// Mean sparse categorical cross-entropy of softmax(logits), as edgetune computes it from logits.
export function sparseXent(logits: T, labels: Int32Array): tf.Scalar {
  const k = logits.shape[logits.shape.length - 1];
  const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), k);
  return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}

// Loss, input gradient and weight gradients (edgetune layout, keyed '<layer>/<weight>') of the
// mirror's mean sparse cross-entropy, with every layer in training or inference mode.
export function tfjsGradients(m: Mirror, x: Float32Array, shape: number[], labels: Int32Array, training: boolean):
  { loss: number; input: Float32Array; weights: Map<string, Float32Array> } {
  const xv = tf.variable(tf.tensor(x, shape), true);
  const vars = [xv, ...m.variables.map((v) => v.variable)];
  const { value, grads } = tf.variableGrads(() => {
    const out = m.forward(xv, training).out;
    if (!m.outputSoftmax) throw new Error('tfjsGradients: the model output must be a softmax');
    return sparseXent(out, labels);
  }, vars);
  const weights = new Map<string, Float32Array>();
  for (const v of m.variables) weights.set(v.key, v.toEdgetune(grads[v.variable.name].dataSync() as Float32Array));
  const result = { loss: value.dataSync()[0], input: grads[xv.name].dataSync() as Float32Array, weights };
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());
  xv.dispose();
  return result;
}

// Model output probabilities (or the plain output) from the mirror.
export function tfjsPredict(m: Mirror, x: Float32Array, shape: number[], training = false): Float32Array {
  return tf.tidy(() => {
    const out = m.forward(tf.tensor(x, shape), training).out;
    return (m.outputSoftmax ? tf.softmax(out) : out).dataSync() as Float32Array;
  });
}

export function tfjsNode(m: Mirror, node: string, x: Float32Array, shape: number[], training = false): Float32Array {
  return tf.tidy(() => m.forward(tf.tensor(x, shape), training).nodes.get(node)!.dataSync() as Float32Array);
}

// Replaces every weight of the model's layers with deterministic values of a useful scale:
// kernels uniform with the Glorot limit, biases and beta in [-0.2, 0.2], gamma in [0.5, 1.5],
// moving means in [-0.3, 0.3] and moving variances in [0.5, 1.5].
export function randomizeWeights(model: Model, seed: number): void {
  let s = seed;
  for (const l of model.layers) {
    if (!l.weightSpecs.length) continue;
    l.setWeights(l.weightSpecs.map((spec, i) => {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      s += 101;
      switch (spec.name) {
        case 'value': return l.getWeights()[i]; // constantOp's constant stays as given
        case 'bias': case 'beta': return randomArray(n, s, -0.2, 0.2);
        case 'gamma': case 'moving_variance': return randomArray(n, s, 0.5, 1.5);
        case 'moving_mean': return randomArray(n, s, -0.3, 0.3);
        case 'scale': return randomArray(n, s, -1.5, 1.5); // rescaling constants
        case 'offset': return randomArray(n, s, -0.5, 0.5);
        default: {
          const rf = spec.shape.length > 2 ? spec.shape.slice(0, -2).reduce((a, b) => a * b, 1) : 1;
          const fanIn = spec.shape[spec.shape.length - 2] * rf;
          const fanOut = spec.shape[spec.shape.length - 1] * rf;
          const lim = Math.sqrt(6 / (fanIn + fanOut));
          return randomArray(n, s, -lim, lim);
        }
      }
    }));
  }
}
