// An independent executor of TF.js graph models on tfjs-core ops, node by node, as
// tfjs-converter's op executors do (tfjs-converter is not installed here). Weights are decoded
// here on their own (float32, int32, float16, uint8/uint16 quantization), not by the importer.
import { tf } from '../tfjs';

type T = tf.Tensor;
interface NodeDef { name: string; op: string; input?: string[]; attr?: Record<string, any> }

const dec = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString() : '');

function f16(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

export function decodeWeights(json: any, shards: Uint8Array[][]): Map<string, T> {
  const out = new Map<string, T>();
  json.weightsManifest.forEach((g: any, gi: number) => {
    const buf = Buffer.concat(shards[gi]);
    let off = 0;
    for (const w of g.weights) {
      const n = w.shape.reduce((a: number, b: number) => a * b, 1);
      const q = w.quantization;
      const vals = new Float32Array(n);
      let bytes = 4 * n;
      if (!q && w.dtype === 'int32') { out.set(w.name, tf.tensor(Int32Array.from({ length: n }, (_, i) => buf.readInt32LE(off + 4 * i)), w.shape, 'int32')); off += 4 * n; continue; }
      if (!q) for (let i = 0; i < n; i++) vals[i] = buf.readFloatLE(off + 4 * i);
      else if (q.dtype === 'float16') { bytes = 2 * n; for (let i = 0; i < n; i++) vals[i] = f16(buf.readUInt16LE(off + 2 * i)); }
      else if (q.dtype === 'uint8') { bytes = n; for (let i = 0; i < n; i++) vals[i] = buf[off + i] * q.scale + q.min; }
      else if (q.dtype === 'uint16') { bytes = 2 * n; for (let i = 0; i < n; i++) vals[i] = buf.readUInt16LE(off + 2 * i) * q.scale + q.min; }
      out.set(w.name, w.dtype === 'int32' ? tf.tensor(Int32Array.from(vals, Math.round), w.shape, 'int32') : tf.tensor(vals, w.shape));
      off += bytes;
    }
  });
  return out;
}

const act = (op: string, x: T, alpha: number): T => {
  switch (op) {
    case 'Relu': return tf.relu(x);
    case 'Relu6': return tf.relu6(x);
    case 'Elu': return tf.elu(x);
    case 'Sigmoid': return tf.sigmoid(x);
    case 'Tanh': return tf.tanh(x);
    case 'LeakyRelu': return tf.leakyRelu(x, alpha);
    case 'Softmax': return tf.softmax(x);
  }
  throw new Error(`oracle: activation ${op}`);
};

export function runGraph(json: any, weights: Map<string, T>, input: T): T {
  const nodes = new Map<string, NodeDef>(json.modelTopology.node.map((n: NodeDef) => [n.name, n]));
  const memo = new Map<string, T>();
  const ints = (n: NodeDef, k: string): number[] => (n.attr?.[k]?.list?.i ?? []).map(Number);
  const pad = (n: NodeDef) => dec(n.attr?.padding?.s).toLowerCase() as 'same' | 'valid';
  const consumed = new Set<string>();
  for (const n of nodes.values()) for (const i of n.input ?? []) consumed.add(i.replace(/^\^/, '').replace(/:\d+$/, ''));
  const eval_ = (name: string): T => {
    const hit = memo.get(name);
    if (hit) return hit;
    const n = nodes.get(name)!;
    const ins = (n.input ?? []).filter((s) => !s.startsWith('^')).map((s) => eval_(s.replace(/:\d+$/, '')));
    let y: T;
    const s = ints(n, 'strides');
    const d = ints(n, 'dilations');
    switch (n.op) {
      case 'Const': y = weights.get(n.name)!; break;
      case 'Placeholder': y = input; break;
      case 'Identity': y = ins[0]; break;
      case 'Conv2D': case '_FusedConv2D': {
        y = tf.conv2d(ins[0] as tf.Tensor4D, ins[1] as tf.Tensor4D, [s[1], s[2]], pad(n), 'NHWC', [d[1] || 1, d[2] || 1]);
        if (n.op === '_FusedConv2D') y = fusedTail(n, y, ins.slice(2));
        break;
      }
      case 'DepthwiseConv2dNative': case 'FusedDepthwiseConv2dNative': {
        y = tf.depthwiseConv2d(ins[0] as tf.Tensor4D, ins[1] as tf.Tensor4D, [s[1], s[2]], pad(n), 'NHWC', [d[1] || 1, d[2] || 1]);
        if (n.op === 'FusedDepthwiseConv2dNative') y = fusedTail(n, y, ins.slice(2));
        break;
      }
      case 'MatMul': case '_FusedMatMul':
        y = tf.matMul(ins[0], ins[1], !!n.attr?.transpose_a?.b, !!n.attr?.transpose_b?.b);
        if (n.op === '_FusedMatMul') y = fusedTail(n, y, ins.slice(2));
        break;
      case 'FusedBatchNormV3': case 'FusedBatchNorm':
        y = tf.batchNorm(ins[0], ins[3], ins[4], ins[2], ins[1], n.attr?.epsilon?.f ?? 0.001); break;
      case 'BiasAdd': case 'Add': case 'AddV2': y = tf.add(ins[0], ins[1]); break;
      case 'Sub': y = tf.sub(ins[0], ins[1]); break;
      case 'Mul': y = tf.mul(ins[0], ins[1]); break;
      case 'Relu': case 'Relu6': case 'Elu': case 'Sigmoid': case 'Tanh': case 'Softmax': case 'LeakyRelu':
        y = act(n.op, ins[0], n.attr?.alpha?.f ?? 0.2); break;
      case 'MaxPool': case 'AvgPool': {
        const k = ints(n, 'ksize');
        y = (n.op === 'MaxPool' ? tf.maxPool : tf.avgPool)(ins[0] as tf.Tensor4D, [k[1], k[2]], [s[1], s[2]], pad(n));
        break;
      }
      case 'Mean': y = tf.mean(ins[0], Array.from(ins[1].dataSync()), !!n.attr?.keep_dims?.b); break;
      case 'Reshape': y = tf.reshape(ins[0], Array.from(ins[1].dataSync())); break;
      case 'ConcatV2': y = tf.concat(ins.slice(0, -1), ins[ins.length - 1].dataSync()[0]); break;
      case 'ResizeBilinear': {
        const size = Array.from(ins[1].dataSync()) as [number, number];
        y = tf.image.resizeBilinear(ins[0] as tf.Tensor4D, size, !!n.attr?.align_corners?.b, !!n.attr?.half_pixel_centers?.b);
        break;
      }
      case 'Pad': y = tf.pad(ins[0], tf.tensor(ins[1].dataSync(), ins[1].shape).arraySync() as [number, number][]); break;
      default: throw new Error(`oracle: op ${n.op}`);
    }
    memo.set(name, y);
    return y;
  };
  const fusedTail = (n: NodeDef, y: T, args: T[]): T => {
    const ops: string[] = (n.attr?.fused_ops?.list?.s ?? []).map(dec);
    for (const op of ops) {
      if (op === 'BiasAdd') y = tf.add(y, args[0]);
      else if (op === 'FusedBatchNorm') y = tf.batchNorm(y, args[2], args[3], args[1], args[0], n.attr?.epsilon?.f ?? 0.001);
      else y = act(op, y, n.attr?.leakyrelu_alpha?.f ?? 0.2);
    }
    return y;
  };
  const sink = [...nodes.values()].find((n) => n.op !== 'Const' && !consumed.has(n.name))!;
  return eval_(sink.name);
}
