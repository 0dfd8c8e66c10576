// Hand-built TF.js graph models (GraphDef JSON + one weight shard) for the importer's per-op tests,
// and TF.js's own graph-model runtime (tf.loadGraphModel from memory) as their oracle.
import * as tfconv from '@tensorflow/tfjs-converter';
import { randomArray } from './harness';
import { tf } from '../tfjs';

export const b64 = (s: string) => Buffer.from(s).toString('base64');
export const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
export const int = (v: number) => ({ i: String(v) });
export const str = (s: string) => ({ s: b64(s) });
export const type = (t: 'DT_FLOAT' | 'DT_INT32') => ({ type: t });
export const conv2dAttrs = (padding = 'VALID') => ({ strides: ints(1, 1, 1, 1), dilations: ints(1, 1, 1, 1), padding: str(padding), data_format: str('NHWC'), T: type('DT_FLOAT') });

export interface BuiltGraph {
  json: { format: string; modelTopology: { node: object[]; versions: object }; weightsManifest: { paths: string[]; weights: object[] }[]; signature?: object };
  bin: Uint8Array;
}

export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly weights: { name: string; shape: number[]; dtype: string }[] = [];
  private readonly data: Buffer[] = [];
  private seed = 1000;

  placeholder(name: string, dims: number[]): string {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: type('DT_FLOAT'), shape: { shape: { dim: dims.map((s) => ({ size: String(s) })) } } } });
    return name;
  }

  // A float constant (random in [-0.5, 0.5] unless given) or an int32 one.
  konst(name: string, shape: number[], values?: number[], dtype: 'float32' | 'int32' = 'float32'): string {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = values ?? Array.from(randomArray(n, this.seed++), (x) => x * 0.5);
    this.nodes.push({ name, op: 'Const', attr: { dtype: type(dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT'), value: {} } });
    this.weights.push({ name, shape, dtype });
    this.data.push(Buffer.from(dtype === 'int32' ? Int32Array.from(v).buffer : Float32Array.from(v).buffer));
    return name;
  }

  ints(name: string, values: number[], shape = [values.length]): string {
    return this.konst(name, shape, values, 'int32');
  }

  node(name: string, op: string, input: string[], attr: object = {}): string {
    this.nodes.push({ name, op, input, attr: { T: type('DT_FLOAT'), ...attr } });
    return name;
  }

  build(signature?: object): BuiltGraph {
    return {
      json: { format: 'graph-model', modelTopology: { node: this.nodes, versions: { producer: 1 } }, weightsManifest: [{ paths: ['w.bin'], weights: this.weights }], ...(signature ? { signature } : {}) },
      bin: new Uint8Array(Buffer.concat(this.data)),
    };
  }
}

// TF.js's results for the graph: one array per output (the given node names, else the model's own outputs).
export async function tfjsOutputs(g: BuiltGraph, feeds: Record<string, { data: Float32Array; shape: number[] }>, outputs?: string[]): Promise<Float32Array[]> {
  const model = await tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: g.json.modelTopology, weightSpecs: g.json.weightsManifest[0].weights as never, weightData: g.bin.slice().buffer, format: 'graph-model', signature: g.json.signature as never,
  }));
  const inputs = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, tf.tensor(v.data, v.shape)]));
  const out = await model.executeAsync(inputs, outputs);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([...list, ...Object.values(inputs)]);
  model.dispose();
  return values;
}

// max |a - b| / max |b|: the zoo's relative-difference measure.
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / (m || 1);
}
