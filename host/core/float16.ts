// IEEE 754 half precision (float16) <-> float32 numbers, bit exact. The one float16 codec of the
// codebase: safetensors, TF.js weights and ONNX tensors all decode through it.

// Exact: every half is a float32. NaN payloads are not kept.
export function float16BitsToFloat32(h: number): number {
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  let magnitude: number;
  if (exponent === 0) magnitude = mantissa * 2 ** -24;
  else if (exponent === 0x1f) magnitude = mantissa === 0 ? Infinity : NaN;
  else magnitude = (0x400 + mantissa) * 2 ** (exponent - 25);
  return h & 0x8000 ? -magnitude : magnitude;
}

// Round to nearest, ties to even, straight from the number (the same as Math.f16round): overflow
// goes to infinity from 65520 up, NaN becomes the quiet NaN 0x7e00, -0 keeps its sign.
export function float32ToFloat16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal: units of 2^-24; 0x400 carries into the smallest normal
  let exponent = Math.floor(Math.log2(a));
  if (2 ** exponent > a) exponent--; // log2 may be off by one next to a power of two
  else if (2 ** (exponent + 1) <= a) exponent++;
  // mantissa in [1024, 2048); rounding up to 2048 carries into the exponent field.
  const mantissa = roundHalfEven(a * 2 ** (10 - exponent));
  return sign | (((exponent + 15) << 10) + mantissa - 0x400);
}

function roundHalfEven(q: number): number {
  const whole = Math.floor(q);
  const fraction = q - whole;
  if (fraction > 0.5) return whole + 1;
  if (fraction < 0.5) return whole;
  return whole + (whole & 1);
}
