// Minimal ONNX (protobuf) writer: enough to build small inference graphs in
// memory (MatMul, Gemm, Relu, Softmax, ... with float initializers) and hand
// the bytes to onnxruntime-web's InferenceSession.create(Uint8Array).
//
// Field numbers follow onnx/onnx.proto (proto2):
//   ModelProto        ir_version(1) producer_name(2) producer_version(3) graph(7) opset_import(8)
//   OperatorSetIdProto domain(1) version(2)
//   GraphProto        node(1) name(2) initializer(5) input(11) output(12) value_info(13)
//   NodeProto         input(1) output(2) name(3) op_type(4) attribute(5) domain(7)
//   AttributeProto    name(1) f(2) i(3) s(4) t(5) floats(7) ints(8) strings(9) type(20)
//   TensorProto       dims(1) data_type(2) name(8) raw_data(9)
//   ValueInfoProto    name(1) type(2)
//   TypeProto         tensor_type(1) -> elem_type(1) shape(2)
//   TensorShapeProto  dim(1) -> dim_value(1) | dim_param(2)
//
// Only what ONNX needs is implemented: varints (incl. negative int64 as
// 10-byte two's complement), length-delimited fields, fixed32 floats.

/** ONNX TensorProto.DataType values. */
export const DataType = Object.freeze({
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7,
  STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13,
});

/** AttributeProto.AttributeType values. */
export const AttrType = Object.freeze({
  FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8,
});

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();

// ---------------------------------------------------------------------------
// Low-level protobuf encoding
// ---------------------------------------------------------------------------

/** Growable byte buffer with protobuf primitive writers. */
export class ProtoWriter {
  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.len = 0;
  }

  ensure(extra) {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }

  byte(b) {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(u8) {
    this.ensure(u8.length);
    this.buf.set(u8, this.len);
    this.len += u8.length;
  }

  /** Unsigned/signed varint. Accepts number or bigint; negatives are int64 two's complement. */
  varint(v) {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new Error(`varint: not an integer: ${v}`);
      if (v >= 0 && v <= 0x7fffffff) {
        while (v > 0x7f) {
          this.byte((v & 0x7f) | 0x80);
          v >>>= 7;
        }
        this.byte(v);
        return;
      }
      v = BigInt(v);
    }
    let x = BigInt.asUintN(64, v);
    while (x > 0x7fn) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  tag(field, wire) {
    this.varint((field << 3) | wire);
  }

  fieldVarint(field, v) {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  fieldFloat(field, f) {
    this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, f, true);
    this.len += 4;
  }

  fieldBytes(field, u8) {
    this.tag(field, WIRE_LEN);
    this.varint(u8.length);
    this.bytes(u8);
  }

  fieldString(field, s) {
    this.fieldBytes(field, textEncoder.encode(String(s)));
  }

  /** Embedded message: `fn(writer)` writes the sub-message body. */
  fieldMessage(field, fn) {
    const sub = new ProtoWriter(64);
    fn(sub);
    this.fieldBytes(field, sub.finish());
  }

  finish() {
    return this.buf.slice(0, this.len);
  }
}

// ---------------------------------------------------------------------------
// ONNX structure builders (plain JS descriptions -> protobuf)
// ---------------------------------------------------------------------------

/**
 * Tensor description for initializers / tensor attributes.
 * @param {string} name
 * @param {number[]} dims
 * @param {ArrayBufferView|number[]} data  Float32Array (default FLOAT), Int32Array, BigInt64Array, ...
 * @param {number} [dataType]  ONNX DataType; inferred from the typed array when omitted.
 */
export function tensor(name, dims, data, dataType) {
  if (Array.isArray(data)) data = new Float32Array(data);
  if (dataType == null) dataType = inferDataType(data);
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new Error(`tensor ${name}: ${data.length} elements for dims [${dims}] (${count})`);
  }
  return { name, dims, data, dataType };
}

function inferDataType(data) {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Float64Array) return DataType.DOUBLE;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int16Array) return DataType.INT16;
  if (data instanceof Uint16Array) return DataType.UINT16;
  if (data instanceof Uint32Array) return DataType.UINT32;
  if (data instanceof BigUint64Array) return DataType.UINT64;
  throw new Error('tensor: cannot infer ONNX data type');
}

/** Raw bytes of a typed array (a view; the writer copies them). Assumes a little-endian host, like ONNX raw_data. */
function rawBytes(data) {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function writeTensor(w, t) {
  for (const d of t.dims) w.fieldVarint(1, d);
  w.fieldVarint(2, t.dataType);
  if (t.name != null) w.fieldString(8, t.name);
  if (t.typed) writeTypedData(w, t);
  else w.fieldBytes(9, rawBytes(t.data));
}

// The typed (non-raw) fields, packed as proto3 writers do: float_data (4) for FLOAT, int32_data (5)
// for INT32 and for FLOAT16 bit patterns, int64_data (7) for INT64.
function writeTypedData(w, t) {
  const packed = new ProtoWriter(64);
  if (t.dataType === DataType.FLOAT) {
    for (const f of t.data) { packed.ensure(4); new DataView(packed.buf.buffer, packed.len, 4).setFloat32(0, f, true); packed.len += 4; }
    w.fieldBytes(4, packed.finish());
  } else if (t.dataType === DataType.FLOAT16 || t.dataType === DataType.INT32) {
    for (const v of t.data) packed.varint(Number(v));
    w.fieldBytes(5, packed.finish());
  } else if (t.dataType === DataType.INT64) {
    for (const v of t.data) packed.varint(BigInt(v));
    w.fieldBytes(7, packed.finish());
  } else {
    throw new Error(`tensor ${t.name}: no typed field for data type ${t.dataType}`);
  }
}

/** float -> IEEE half bits (round to nearest even). */
export function toHalf(f) {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f, true);
  const x = buf.getUint32(0, true);
  const sign = (x >>> 16) & 0x8000;
  let e = ((x >>> 23) & 0xff) - 127 + 15;
  let m = x & 0x7fffff;
  if (e >= 31) return sign | 0x7c00 | (((x >>> 23) & 0xff) === 0xff && m ? 0x200 : 0);
  if (e <= 0) {
    if (e < -10) return sign;
    m |= 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** A FLOAT16 initializer from float values (stored as half bits; raw_data unless typed). */
export function float16Tensor(name, dims, values, { typed = false } = {}) {
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) bits[i] = toHalf(values[i]);
  const t = tensor(name, dims, bits, DataType.FLOAT16);
  t.typed = typed;
  return t;
}

/** An initializer written in the typed fields (float_data, int32_data, int64_data) instead of raw_data. */
export function typedTensor(name, dims, data, dataType) {
  const t = tensor(name, dims, data, dataType);
  t.typed = true;
  return t;
}

/**
 * ValueInfo (graph input/output) description.
 * @param {string} name
 * @param {(number|string|null)[]} shape  number => dim_value, string => dim_param (symbolic), null => unknown
 * @param {number} [elemType=DataType.FLOAT]
 */
export function valueInfo(name, shape, elemType = DataType.FLOAT) {
  return { name, shape, elemType };
}

function writeValueInfo(w, vi) {
  w.fieldString(1, vi.name);
  w.fieldMessage(2, (tp) => {
    tp.fieldMessage(1, (tt) => {
      tt.fieldVarint(1, vi.elemType);
      if (vi.shape != null) {
        tt.fieldMessage(2, (sh) => {
          for (const d of vi.shape) {
            sh.fieldMessage(1, (dim) => {
              if (typeof d === 'number') dim.fieldVarint(1, d);
              else if (typeof d === 'string') dim.fieldString(2, d);
              // null/undefined: empty Dimension (unknown)
            });
          }
        });
      }
    });
  });
}

/**
 * Node description.
 * @param {string} opType  e.g. 'MatMul', 'Gemm', 'Relu', 'Softmax'
 * @param {string[]} inputs
 * @param {string[]} outputs
 * @param {Record<string, number|string|number[]|object>} [attrs]
 *   Numbers: integer => INT, non-integer => FLOAT. To force a float for an
 *   integral value use {f: 1}. Explicit forms: {i}, {f}, {s}, {ints: []},
 *   {floats: []}, {strings: []}, {t: tensor(...)}.
 * @param {string} [name]
 * @param {string} [domain]
 */
export function node(opType, inputs, outputs, attrs = {}, name, domain) {
  return { opType, inputs, outputs, attrs, name, domain };
}

function writeAttribute(w, name, v) {
  w.fieldString(1, name);
  if (typeof v === 'number') {
    v = Number.isInteger(v) ? { i: v } : { f: v };
  } else if (typeof v === 'bigint') {
    v = { i: v };
  } else if (typeof v === 'string') {
    v = { s: v };
  } else if (Array.isArray(v)) {
    v = v.every((x) => Number.isInteger(x)) ? { ints: v } : { floats: v };
  }
  if ('f' in v) {
    w.fieldFloat(2, v.f);
    w.fieldVarint(20, AttrType.FLOAT);
  } else if ('i' in v) {
    w.fieldVarint(3, v.i);
    w.fieldVarint(20, AttrType.INT);
  } else if ('s' in v) {
    w.fieldBytes(4, typeof v.s === 'string' ? textEncoder.encode(v.s) : v.s);
    w.fieldVarint(20, AttrType.STRING);
  } else if ('t' in v) {
    w.fieldMessage(5, (tw) => writeTensor(tw, v.t));
    w.fieldVarint(20, AttrType.TENSOR);
  } else if ('floats' in v) {
    for (const f of v.floats) w.fieldFloat(7, f);
    w.fieldVarint(20, AttrType.FLOATS);
  } else if ('ints' in v) {
    for (const i of v.ints) w.fieldVarint(8, i);
    w.fieldVarint(20, AttrType.INTS);
  } else if ('strings' in v) {
    for (const s of v.strings) w.fieldString(9, s);
    w.fieldVarint(20, AttrType.STRINGS);
  } else {
    throw new Error(`attribute ${name}: unsupported value ${JSON.stringify(v)}`);
  }
}

function writeNode(w, n, idx) {
  for (const i of n.inputs) w.fieldString(1, i);
  for (const o of n.outputs) w.fieldString(2, o);
  w.fieldString(3, n.name ?? `${n.opType}_${idx}`);
  w.fieldString(4, n.opType);
  for (const [k, v] of Object.entries(n.attrs ?? {})) {
    w.fieldMessage(5, (aw) => writeAttribute(aw, k, v));
  }
  if (n.domain) w.fieldString(7, n.domain);
}

/**
 * Serialize a complete ONNX model.
 * @param {object} spec
 * @param {ReturnType<typeof node>[]} spec.nodes
 * @param {ReturnType<typeof valueInfo>[]} spec.inputs
 * @param {ReturnType<typeof valueInfo>[]} spec.outputs
 * @param {ReturnType<typeof tensor>[]} [spec.initializers]
 * @param {string} [spec.name='graph']
 * @param {number} [spec.irVersion=8]
 * @param {number} [spec.opset=17]
 * @param {string} [spec.producer='edgetune']
 * @returns {Uint8Array}
 */
export function onnxModel({
  nodes, inputs, outputs, initializers = [], name = 'graph',
  irVersion = 8, opset = 17, producer = 'edgetune',
}) {
  const w = new ProtoWriter(1024);
  w.fieldVarint(1, irVersion);
  w.fieldString(2, producer);
  w.fieldMessage(7, (g) => {
    nodes.forEach((n, i) => g.fieldMessage(1, (nw) => writeNode(nw, n, i)));
    g.fieldString(2, name);
    for (const t of initializers) g.fieldMessage(5, (tw) => writeTensor(tw, t));
    for (const vi of inputs) g.fieldMessage(11, (vw) => writeValueInfo(vw, vi));
    for (const vi of outputs) g.fieldMessage(12, (vw) => writeValueInfo(vw, vi));
  });
  w.fieldMessage(8, (op) => {
    op.fieldString(1, '');
    op.fieldVarint(2, opset);
  });
  return w.finish();
}

// ---------------------------------------------------------------------------
// Convenience models used by the benchmarks
// ---------------------------------------------------------------------------

/** Y[m,n] = A[m,k] . B[k,n], both A and B graph inputs. */
export function matmulModel(m, k, n) {
  return onnxModel({
    name: 'matmul',
    nodes: [node('MatMul', ['A', 'B'], ['Y'])],
    inputs: [valueInfo('A', [m, k]), valueInfo('B', [k, n])],
    outputs: [valueInfo('Y', [m, n])],
  });
}

/** Y[m,n] = X[m,k] . W[k,n] with W an initializer (MatMul-with-weights). */
export function matmulInitModel(m, k, n, W) {
  return onnxModel({
    name: 'matmul_w',
    nodes: [node('MatMul', ['X', 'W'], ['Y'])],
    initializers: [tensor('W', [k, n], W)],
    inputs: [valueInfo('X', [m, k])],
    outputs: [valueInfo('Y', [m, n])],
  });
}

/** Y = alpha * X . W(^T if transB) + beta * b, W and b initializers. */
export function gemmModel(m, k, n, W, b, { transB = 0, alpha = 1.0, beta = 1.0 } = {}) {
  return onnxModel({
    name: 'gemm',
    nodes: [node('Gemm', ['X', 'W', 'b'], ['Y'], { alpha: { f: alpha }, beta: { f: beta }, transB })],
    initializers: [tensor('W', transB ? [n, k] : [k, n], W), tensor('b', [n], b)],
    inputs: [valueInfo('X', [m, k])],
    outputs: [valueInfo('Y', [m, n])],
  });
}

/**
 * Dense MLP: Gemm+Relu for hidden layers, Gemm+Softmax (or none) at the end.
 * @param {number[]} sizes  e.g. [784, 256, 256, 10]
 * @param {{weights: Float32Array[], biases: Float32Array[]}} params  W_i is [in, out] row-major
 * @param {{batch?: number|string, finalActivation?: 'softmax'|'none'}} [opts]
 */
export function mlpModel(sizes, params, { batch = 'N', finalActivation = 'softmax' } = {}) {
  const nodes = [];
  const initializers = [];
  let cur = 'input';
  const L = sizes.length - 1;
  for (let i = 0; i < L; i++) {
    const W = `W${i}`, b = `b${i}`, z = `z${i}`;
    initializers.push(tensor(W, [sizes[i], sizes[i + 1]], params.weights[i]));
    initializers.push(tensor(b, [sizes[i + 1]], params.biases[i]));
    nodes.push(node('Gemm', [cur, W, b], [z], {}, `dense${i}`));
    const last = i === L - 1;
    if (!last) {
      nodes.push(node('Relu', [z], [`a${i}`], {}, `relu${i}`));
      cur = `a${i}`;
    } else if (finalActivation === 'softmax') {
      nodes.push(node('Softmax', [z], ['output'], { axis: -1 }, 'softmax'));
      cur = 'output';
    } else {
      nodes.push(node('Identity', [z], ['output'], {}, 'out'));
      cur = 'output';
    }
  }
  return onnxModel({
    name: 'mlp',
    nodes,
    initializers,
    inputs: [valueInfo('input', [batch, sizes[0]])],
    outputs: [valueInfo('output', [batch, sizes[L]])],
  });
}
