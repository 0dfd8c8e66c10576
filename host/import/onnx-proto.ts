// ONNX protobuf messages -> plain records: ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto and ValueInfoProto, decoded with our wire-format reader (protobuf.ts). Field numbers
// are those of onnx/onnx.proto. Every tensor's data is converted to float32 here.
import { ModelFormatError } from '../core/errors';
import { float16BitsToFloat32 } from '../core/float16';
import { type ProtoField, doubles, fields, floats, ints, str } from './protobuf';

// ONNX TensorProto.DataType
export const FLOAT = 1, INT32 = 6, INT64 = 7, FLOAT16 = 10, DOUBLE = 11;
export const DTYPE_NAMES: Record<number, string> = { 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING', 9: 'BOOL', 10: 'FLOAT16', 11: 'DOUBLE', 16: 'BFLOAT16' };

export interface OnnxTensor {
  name: string;
  dims: number[];
  data: Float32Array; // every supported type is converted to float (integers are exact up to 2^24)
  dtype?: number; // the file's type (TensorProto.DataType), for constant folding's integer arithmetic
}

export type AttrValue = number | number[] | string | OnnxTensor;

export interface OnnxNode {
  name: string;
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, AttrValue>;
}

export interface OnnxValueInfo {
  name: string;
  dims: (number | string | null)[] | null; // number: fixed; string: symbolic; null: unknown
}

export interface OnnxGraph {
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[]; // shapes of intermediate tensors, when the exporter recorded them
  opset: number;
}

export function parseOnnxModel(bytes: Uint8Array): OnnxGraph {
  let graphBytes: Uint8Array | null = null;
  let opset = 0;
  for (const f of fields(bytes)) {
    if (f.field === 7 && f.wire === 2) graphBytes = f.bytes;
    else if (f.field === 8 && f.wire === 2) {
      let domain = '';
      let version = 0;
      for (const g of fields(f.bytes!)) {
        if (g.field === 1) domain = str(g);
        else if (g.field === 2) version = g.num;
      }
      if (domain === '' || domain === 'ai.onnx') opset = version;
    }
  }
  if (!graphBytes) throw new ModelFormatError('no graph (ModelProto field 7) in the file');
  const g: OnnxGraph = { nodes: [], initializers: new Map(), inputs: [], outputs: [], valueInfo: [], opset: opset || 13 };
  for (const f of fields(graphBytes)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) g.nodes.push(parseNode(f.bytes!, g.nodes.length));
    else if (f.field === 5) { const t = finiteInitializer(parseTensor(f.bytes!)); g.initializers.set(t.name, t); }
    else if (f.field === 11) g.inputs.push(parseValueInfo(f.bytes!));
    else if (f.field === 12) g.outputs.push(parseValueInfo(f.bytes!));
    else if (f.field === 13) g.valueInfo.push(parseValueInfo(f.bytes!));
  }
  return g;
}

function parseNode(buf: Uint8Array, index: number): OnnxNode {
  const n: OnnxNode = { name: '', op: '', domain: '', inputs: [], outputs: [], attrs: new Map() };
  for (const f of fields(buf)) {
    switch (f.field) {
      case 1: n.inputs.push(str(f)); break;
      case 2: n.outputs.push(str(f)); break;
      case 3: n.name = str(f); break;
      case 4: n.op = str(f); break;
      case 5: { const [k, v] = parseAttribute(f.bytes!); n.attrs.set(k, v); break; }
      case 7: n.domain = str(f); break;
    }
  }
  if (!n.name) n.name = `${n.op}_${index}`;
  return n;
}

function parseAttribute(buf: Uint8Array): [string, AttrValue] {
  let name = '';
  let type = 0;
  let f1: number | undefined, i1: number | undefined, s1: string | undefined, t1: OnnxTensor | undefined;
  const fl: number[] = [];
  const il: number[] = [];
  for (const f of fields(buf)) {
    switch (f.field) {
      case 1: name = str(f); break;
      case 2: f1 = f.num; break;
      case 3: i1 = f.num; break;
      case 4: s1 = str(f); break;
      case 5: t1 = parseTensor(f.bytes!); break;
      case 7: fl.push(...floats(f)); break;
      case 8: il.push(...ints(f)); break;
      case 20: type = f.num; break;
    }
  }
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7
  switch (type) {
    case 1: return [name, f1 ?? 0];
    case 2: return [name, i1 ?? 0];
    case 3: return [name, s1 ?? ''];
    case 4: return [name, t1!];
    case 6: return [name, fl];
    case 7: return [name, il];
  }
  // Writers that omit the type: infer it from what is present.
  const v = f1 ?? i1 ?? s1 ?? t1 ?? (fl.length ? fl : il);
  return [name, v];
}

// Weights and constants must be finite (as f32): a NaN or an infinity would train and predict NaN.
function finiteInitializer(t: OnnxTensor): OnnxTensor {
  const i = t.data.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) throw new ModelFormatError(`initializer '${t.name}' (dims [${t.dims}]) has a non-finite value (${t.data[i]}) at element ${i}`, undefined, t.name);
  return t;
}

function parseTensor(buf: Uint8Array): OnnxTensor {
  const dims: number[] = [];
  let dtype = 0;
  let name = '';
  let raw: Uint8Array | null = null;
  const floatData: number[] = [];
  const int32Data: number[] = [];
  const int64Data: number[] = [];
  const doubleData: number[] = [];
  let external = false;
  for (const f of fields(buf)) {
    switch (f.field) {
      case 1: dims.push(...ints(f)); break;
      case 2: dtype = f.num; break;
      case 4: floatData.push(...floats(f)); break;
      case 5: int32Data.push(...ints(f)); break;
      case 7: int64Data.push(...ints(f)); break;
      case 8: name = str(f); break;
      case 9: raw = f.bytes; break;
      case 10: doubleData.push(...doubles(f)); break;
      case 13: external = true; break;
      case 14: if (f.num === 1) external = true; break;
    }
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const fail = (what: string) => new ModelFormatError(`tensor '${name}' (${DTYPE_NAMES[dtype] ?? `type ${dtype}`}, dims [${dims}]): ${what}`, undefined, name);
  if (external) throw fail('its data is stored in an external file, which is not supported; save the model with all tensors inside (onnx.save(..., save_as_external_data=False))');
  const out = new Float32Array(count);
  if (raw) {
    const size = dtype === FLOAT || dtype === INT32 ? 4 : dtype === FLOAT16 ? 2 : dtype === INT64 || dtype === DOUBLE ? 8 : 0;
    if (!size) throw fail('unsupported data type');
    if (raw.length !== count * size) throw fail(`raw_data has ${raw.length} bytes, expected ${count * size}`);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      switch (dtype) {
        case FLOAT: out[i] = v.getFloat32(i * 4, true); break;
        case INT32: out[i] = v.getInt32(i * 4, true); break;
        case FLOAT16: out[i] = float16BitsToFloat32(v.getUint16(i * 2, true)); break;
        case INT64: out[i] = Number(v.getBigInt64(i * 8, true)); break;
        case DOUBLE: out[i] = v.getFloat64(i * 8, true); break;
      }
    }
    return { name, dims, data: out, dtype };
  }
  // Typed fields: float_data for FLOAT; int32_data for INT32 and (as bit patterns) FLOAT16.
  const src = dtype === FLOAT ? floatData : dtype === INT32 ? int32Data : dtype === FLOAT16 ? int32Data.map(float16BitsToFloat32)
    : dtype === INT64 ? int64Data : dtype === DOUBLE ? doubleData : null;
  if (!src) throw fail('unsupported data type');
  if (src.length !== count) throw fail(`has ${src.length} values, expected ${count}`);
  out.set(src);
  return { name, dims, data: out, dtype };
}

function parseValueInfo(buf: Uint8Array): OnnxValueInfo {
  let name = '';
  let dims: (number | string | null)[] | null = null;
  for (const f of fields(buf)) {
    if (f.field === 1) name = str(f);
    else if (f.field === 2) {
      const tensorType = fields(f.bytes!).find((x) => x.field === 1);
      const shape = tensorType && fields(tensorType.bytes!).find((x) => x.field === 2);
      if (shape) {
        dims = fields(shape.bytes!).filter((x) => x.field === 1).map((d: ProtoField) => {
          const v = fields(d.bytes!).find((x) => x.field === 1 || x.field === 2);
          return !v ? null : v.field === 1 ? v.num : str(v);
        });
      }
    }
  }
  return { name, dims };
}
