// The safetensors writer: the reference writer's bytes. Tensors sorted by dtype (larger alignment
// first) then name, `__metadata__` first, header padded with spaces to a multiple of 8, so every
// tensor is aligned to its element size and can be viewed in place.
import { float32ToFloat16Bits } from '../../core/float16';
import { DTYPE_SIZE, DTYPES, type Dtype, float32BitsToBfloat16Bits, isDtype, LITTLE_ENDIAN } from './dtypes';
import { SafetensorsError, type SafetensorsErrorCode } from './errors';
import { HEADER_LIMIT } from './reader';

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: number[];
  // Raw little-endian bytes of `dtype`, or values to encode as F32, F16, BF16 or F64.
  data: Uint8Array | Float32Array;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const encoder = new TextEncoder();
  const seen = new Set<string>();
  const planned = tensors.map((t) => {
    const fail = (code: SafetensorsErrorCode, detail: string) =>
      new SafetensorsError(code, `tensor "${t.name}": ${detail}`, { tensor: t.name });
    if (typeof t.name !== 'string' || t.name === '__metadata__' || LONE_SURROGATE.test(t.name)) {
      throw fail('InvalidTensorInfo', 'name must be a well-formed string other than "__metadata__"');
    }
    if (seen.has(t.name)) throw fail('InvalidTensorInfo', 'duplicate tensor name');
    seen.add(t.name);
    if (!isDtype(t.dtype)) throw fail('InvalidDtype', `unknown dtype "${String(t.dtype)}" (known: ${DTYPES.join(', ')})`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail('InvalidTensorInfo', `shape must be an array of non-negative safe integers, got ${JSON.stringify(t.shape)}`);
    }
    const size = DTYPE_SIZE[t.dtype];
    const count = t.shape.reduce((a, d) => a * d, 1);
    const byteLength = count * size;
    if (!Number.isSafeInteger(byteLength)) {
      throw fail('ValidationOverflow', `${t.dtype} shape [${t.shape.join(', ')}] is too large`);
    }
    if (t.data instanceof Float32Array) {
      if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') {
        throw fail('InvalidTensorInfo', `Float32Array values can be written as F32, F16, BF16 or F64, not ${t.dtype}`);
      }
      if (t.data.length !== count) {
        throw fail('TensorInvalidInfo', `has ${t.data.length} values, but shape [${t.shape.join(', ')}] needs ${count}`);
      }
    } else if (t.data instanceof Uint8Array) {
      if (t.data.byteLength !== byteLength) {
        throw fail(
          'TensorInvalidInfo',
          `has ${t.data.byteLength} bytes, but ${t.dtype} [${t.shape.join(', ')}] needs ${count} x ${size} = ${byteLength} bytes`,
        );
      }
    } else {
      throw fail('InvalidTensorInfo', 'data must be a Uint8Array or a Float32Array');
    }
    return { ...t, nameBytes: encoder.encode(t.name), byteLength, offset: 0 };
  });
  planned.sort((a, b) => DTYPES.indexOf(b.dtype) - DTYPES.indexOf(a.dtype) || compareBytes(a.nameBytes, b.nameBytes));

  const fields: string[] = [];
  const metadataEntries = Object.entries(metadata ?? {});
  if (metadataEntries.length > 0) {
    for (const [key, value] of metadataEntries) {
      if (typeof value !== 'string' || LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value)) {
        throw new SafetensorsError('InvalidHeaderDeserialization', `__metadata__ value for key "${key}" must be a well-formed string`);
      }
    }
    fields.push(`"__metadata__":{${metadataEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const t of planned) {
    t.offset = offset;
    offset += t.byteLength;
    fields.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${t.offset},${offset}]}`);
  }
  const json = encoder.encode(`{${fields.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8;
  if (n > HEADER_LIMIT) throw new SafetensorsError('HeaderTooLarge', `header would be ${n} bytes, above the limit of ${HEADER_LIMIT}`);

  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true); // the high word stays 0: n <= 100,000,000
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  for (const t of planned) writeData(out, view, 8 + n + t.offset, t.dtype, t.data);
  return out;
}

function writeData(out: Uint8Array, view: DataView, at: number, dtype: Dtype, data: Uint8Array | Float32Array): void {
  if (data instanceof Uint8Array) {
    out.set(data, at);
    return;
  }
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
      else for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i], true);
      return;
    case 'F16':
      for (let i = 0; i < data.length; i++) view.setUint16(at + 2 * i, float32ToFloat16Bits(data[i]), true);
      return;
    case 'BF16': {
      const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
      for (let i = 0; i < data.length; i++) view.setUint16(at + 2 * i, float32BitsToBfloat16Bits(bits[i]), true);
      return;
    }
    case 'F64':
      for (let i = 0; i < data.length; i++) view.setFloat64(at + 8 * i, data[i], true);
      return;
    default:
      throw new Error(`unreachable: Float32Array as ${dtype}`);
  }
}

// Bytewise, as Rust orders Strings (UTF-16 code unit order differs above U+FFFF).
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
