// safetensors element types: their sizes, and conversion of a tensor's raw little-endian bytes
// to float32 (reading) or from float32 to F16/BF16 bits (writing).
import { float16BitsToFloat32 } from '../../core/float16';
import { SafetensorsError } from './errors';

// Reference enum order: ascending alignment. The writer sorts by it, descending.
export const DTYPES = [
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
] as const;
export type Dtype = (typeof DTYPES)[number];

export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
};

export function dtypeSize(dtype: Dtype): number {
  return DTYPE_SIZE[dtype];
}

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  // Raw little-endian bytes; from readSafetensors, a view into the file (no copy).
  data: Uint8Array;
}

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// All values of `entry` as float32, in a new array (also for F32: the view may be unaligned).
// Integers round to nearest even, like a float32 cast; BOOL is 0 or 1.
export function toFloat32(entry: TensorEntry): Float32Array {
  const { dtype, data } = entry;
  const size = DTYPE_SIZE[dtype];
  const count = entry.shape.reduce((a, d) => a * d, 1);
  if (data.byteLength !== count * size) {
    throw new SafetensorsError(
      'TensorInvalidInfo',
      `tensor "${entry.name}": has ${data.byteLength} bytes, but ${dtype} [${entry.shape.join(', ')}] needs ${count * size}`,
      { tensor: entry.name },
    );
  }
  const out = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(data);
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = float16BitsToFloat32(view.getUint16(2 * i, true));
      break;
    case 'BF16': {
      // Through the bits, so NaN payloads survive.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F8_E5M2': // the top byte of a float16
      for (let i = 0; i < count; i++) out[i] = float16BitsToFloat32(data[i] << 8);
      break;
    case 'F8_E4M3':
      for (let i = 0; i < count; i++) out[i] = float8e4m3fnToFloat32(data[i]);
      break;
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = data[i] === 0 ? 0 : 1;
      break;
    case 'U8':
      out.set(data);
      break;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case 'U16':
      for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, true);
      break;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case 'U32':
      for (let i = 0; i < count; i++) out[i] = view.getUint32(4 * i, true);
      break;
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = int64ToFloat32(view.getBigInt64(8 * i, true));
      break;
    case 'U64':
      for (let i = 0; i < count; i++) out[i] = int64ToFloat32(view.getBigUint64(8 * i, true));
      break;
  }
  return out;
}

// Correctly rounded: Number(v) then fround would round twice above 2^53 (2^60 + 2^36 + 1 would
// become 2^60 instead of 2^60 + 2^37). Keep 26 significant bits with a sticky lowest bit, so the
// one rounding left (to 24 bits) sees the true side of every tie.
function int64ToFloat32(v: bigint): number {
  const negative = v < 0n;
  const a = negative ? -v : v;
  if (a <= 1n << 53n) return Math.fround(Number(v));
  const shift = a.toString(2).length - 26;
  let kept = a >> BigInt(shift);
  if (kept << BigInt(shift) !== a) kept |= 1n;
  const r = Math.fround(Number(kept) * 2 ** shift);
  return negative ? -r : r;
}

// float8 e4m3fn: bias 7, no infinities, S.1111.111 is NaN, max 448.
function float8e4m3fnToFloat32(b: number): number {
  const exponent = (b >> 3) & 0xf;
  const mantissa = b & 0x7;
  if (exponent === 0xf && mantissa === 0x7) return NaN;
  const magnitude = exponent === 0 ? mantissa * 2 ** -9 : (8 + mantissa) * 2 ** (exponent - 10);
  return b & 0x80 ? -magnitude : magnitude;
}

export function float32BitsToBfloat16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x0040; // NaN: keep it quiet
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}
