// safetensors: [u64 little-endian N][N bytes of UTF-8 JSON header][data], on Uint8Array only so the
// same code runs in browsers, Deno, workers and Node. The reader rejects exactly what the reference
// reader (huggingface/safetensors, SafeTensors::read_metadata + Metadata::validate) rejects, with a
// typed error that says what and where (docs/formats.md); nothing is returned unless the whole file is valid. The
// writer produces the reference writer's bytes: tensors sorted by dtype (larger alignment first)
// then name, `__metadata__` first, header padded with spaces to a multiple of 8, so every tensor is
// aligned to its element size and can be viewed in place.

// Reference enum order: ascending alignment. The writer sorts by it, descending.
const DTYPES = [
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
] as const;
export type Dtype = (typeof DTYPES)[number];

const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
};

export function dtypeSize(dtype: Dtype): number {
  return DTYPE_SIZE[dtype];
}

function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

export type SafetensorsErrorCode =
  | 'HeaderTooSmall'
  | 'HeaderTooLarge'
  | 'InvalidHeaderLength'
  | 'InvalidHeaderDeserialization'
  | 'InvalidOffset'
  | 'ValidationOverflow'
  | 'TensorInvalidInfo'
  | 'MetadataIncompleteBuffer'
  | 'InvalidDtype' // unknown dtype string (the reference reports it as InvalidHeaderDeserialization)
  | 'InvalidTensorInfo'; // malformed entry (likewise a deserialization error in the reference)

export class SafetensorsError extends Error {
  readonly code: SafetensorsErrorCode;
  readonly tensor?: string;
  readonly source?: string;

  constructor(code: SafetensorsErrorCode, detail: string, where: { tensor?: string; source?: string } = {}) {
    super(`${where.source !== undefined ? `${where.source}: ` : ''}${code}: ${detail}`);
    this.name = 'SafetensorsError';
    this.code = code;
    if (where.tensor !== undefined) this.tensor = where.tensor;
    if (where.source !== undefined) this.source = where.source;
  }
}

export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  // Raw little-endian bytes; from readSafetensors, a view into the file (no copy).
  data: Uint8Array;
}

export interface SafetensorsFile {
  // In data-offset order.
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: number[];
  // Raw little-endian bytes of `dtype`, or values to encode as F32, F16, BF16 or F64.
  data: Uint8Array | Float32Array;
}

const HEADER_LIMIT = 100_000_000;
const U64_MAX = (1n << 64n) - 1n;
// serde_json's recursion limit: 128 nested containers fail, 127 pass.
const JSON_DEPTH_LIMIT = 127;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// ---------------------------------------------------------------------------------------------
// Reader

interface HeaderEntry {
  name: string;
  dtype: Dtype;
  shape: bigint[];
  begin: bigint;
  end: bigint;
}

export function readSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  const fail = (code: SafetensorsErrorCode, detail: string, tensor?: string) =>
    new SafetensorsError(code, detail, { tensor, source });

  if (bytes.length < 8) {
    throw fail('HeaderTooSmall', `file is ${bytes.length} bytes, shorter than the 8-byte header length prefix`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(HEADER_LIMIT)) {
    throw fail('HeaderTooLarge', `header length ${declared} (bytes 0..8) exceeds the limit of ${HEADER_LIMIT} bytes`);
  }
  const n = Number(declared);
  if (8 + n > bytes.length) {
    throw fail('InvalidHeaderLength', `header length ${n} needs 8 + ${n} = ${8 + n} bytes, but the file has ${bytes.length}`);
  }

  const text = decodeHeader(bytes, n, fail);
  let root: JsonValue;
  try {
    root = parseJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const fileOffset = 8 + new TextEncoder().encode(text.slice(0, e.at)).length;
    throw fail('InvalidHeaderDeserialization', `header is not valid JSON: ${e.reason} at file byte ${fileOffset}`);
  }
  if (!(root instanceof Map)) {
    throw fail('InvalidHeaderDeserialization', `header must be a JSON object, got ${show(root)}`);
  }

  // Like the reference, every entry is checked for type errors before any offsets are.
  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [key, value] of root) {
    if (key === '__metadata__') metadata = readMetadata(value, fail);
    else entries.push(readEntry(key, value, fail));
  }

  entries.sort((a, b) => compareBig(a.begin, b.begin) || compareBig(a.end, b.end));
  let end = 0n;
  let previous: HeaderEntry | undefined;
  for (const e of entries) {
    const where = `tensor "${e.name}" (${e.dtype} [${e.shape.join(', ')}]) data_offsets [${e.begin}, ${e.end}]`;
    if (e.begin !== end || e.end < e.begin) {
      const why =
        e.begin !== end
          ? previous === undefined
            ? 'the first tensor must start at data byte 0'
            : `must start at data byte ${end}, where tensor "${previous.name}" ends`
          : 'end before they begin';
      throw fail('InvalidOffset', `${where}: ${why}`, e.name);
    }
    end = e.end;
    // Multiply dimension by dimension and fail on the first overflow, as checked_mul in try_fold does.
    let count = 1n;
    for (const dim of e.shape) {
      count *= dim;
      if (count > U64_MAX) throw fail('ValidationOverflow', `${where}: element count overflows 64 bits`, e.name);
    }
    const size = DTYPE_SIZE[e.dtype];
    const needed = count * BigInt(size);
    if (needed > U64_MAX) {
      throw fail('ValidationOverflow', `${where}: byte count ${count} x ${size} overflows 64 bits`, e.name);
    }
    if (e.end - e.begin !== needed) {
      throw fail(
        'TensorInvalidInfo',
        `${where}: offsets span ${e.end - e.begin} bytes, but ${count} elements x ${size} bytes = ${needed} bytes`,
        e.name,
      );
    }
    previous = e;
  }
  const dataStart = 8 + n;
  if (BigInt(dataStart) + end !== BigInt(bytes.length)) {
    const last = previous === undefined ? 'no tensors' : `tensor "${previous.name}" ends at data byte ${end}`;
    throw fail(
      'MetadataIncompleteBuffer',
      `${last}, so the file should be 8 + ${n} + ${end} = ${BigInt(dataStart) + end} bytes, but it has ${bytes.length}`,
      previous?.name,
    );
  }

  // Every offset is now within the file. Only a zero-size tensor can still carry a dimension that a
  // number cannot hold exactly; the reference accepts it, but we could not return its shape.
  const tensors = new Map<string, TensorEntry>();
  for (const e of entries) {
    const shape = e.shape.map(Number);
    if (!shape.every(Number.isSafeInteger)) {
      throw fail('InvalidTensorInfo', `tensor "${e.name}": shape [${e.shape.join(', ')}] has a dimension above 2^53 - 1`, e.name);
    }
    const data = bytes.subarray(dataStart + Number(e.begin), dataStart + Number(e.end));
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape, data });
  }
  return { tensors, metadata };
}

type Fail = (code: SafetensorsErrorCode, detail: string, tensor?: string) => SafetensorsError;

function decodeHeader(bytes: Uint8Array, n: number, fail: Fail): string {
  let header = bytes.subarray(8, 8 + n);
  // TextDecoder refuses views of a SharedArrayBuffer.
  if (!(header.buffer instanceof ArrayBuffer)) header = header.slice();
  try {
    // ignoreBOM keeps a leading U+FEFF in the text, so that the JSON parser rejects it as the reference does.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(header);
  } catch {
    throw fail('InvalidHeaderDeserialization', `header is not valid UTF-8: bad byte sequence at file byte ${8 + firstInvalidUtf8(header)}`);
  }
}

// Index of the first byte that starts an invalid UTF-8 sequence (overlong, surrogate, > U+10FFFF, truncated).
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const lead = b[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    const trail = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : 0;
    if (trail === 0 || i + trail >= b.length) return i;
    let cp = lead & (0x3f >> trail);
    for (let k = 1; k <= trail; k++) {
      const c = b[i + k];
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    const min = trail === 1 ? 0x80 : trail === 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += trail + 1;
  }
  return b.length;
}

function readMetadata(value: JsonValue, fail: Fail): Record<string, string> {
  if (value === null) return {};
  if (!(value instanceof Map)) {
    throw fail('InvalidHeaderDeserialization', `__metadata__ must be an object of strings, got ${show(value)}`);
  }
  for (const [key, v] of value) {
    if (typeof v !== 'string') {
      throw fail('InvalidHeaderDeserialization', `__metadata__ value for key "${key}" must be a string, got ${show(v)}`);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(value as Map<string, string>);
}

function readEntry(name: string, value: JsonValue, fail: Fail): HeaderEntry {
  const malformed = (what: string) => fail('InvalidTensorInfo', `tensor "${name}": ${what}`, name);
  if (!(value instanceof Map)) throw malformed(`entry must be an object {dtype, shape, data_offsets}, got ${show(value)}`);
  const dtype = value.get('dtype');
  const shape = value.get('shape');
  const offsets = value.get('data_offsets');
  if (dtype === undefined) throw malformed('missing "dtype"');
  if (typeof dtype !== 'string') throw malformed(`dtype must be a string, got ${show(dtype)}`);
  if (!isDtype(dtype)) throw fail('InvalidDtype', `tensor "${name}": unknown dtype "${dtype}" (known: ${DTYPES.join(', ')})`, name);
  if (shape === undefined) throw malformed('missing "shape"');
  if (!Array.isArray(shape) || !shape.every(isU64)) {
    throw malformed(`shape must be an array of integers in [0, 2^64), got ${show(shape)}`);
  }
  if (offsets === undefined) throw malformed('missing "data_offsets"');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isU64)) {
    throw malformed(`data_offsets must be [begin, end], two integers in [0, 2^64), got ${show(offsets)}`);
  }
  return { name, dtype, shape: shape as bigint[], begin: offsets[0] as bigint, end: offsets[1] as bigint };
}

function isU64(v: JsonValue): v is bigint {
  return typeof v === 'bigint' && v <= U64_MAX;
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// JSON. JSON.parse cannot be used: it rounds integers above 2^53 (the reference's overflow checks
// need exact u64 values) and accepts what serde_json rejects (lone surrogate escapes, 1.0 or -0 as
// an unsigned integer, unbounded nesting). Non-negative integer literals parse to bigint, every
// other number to a finite number; objects to Maps (duplicate keys: the last wins, as in serde).

type JsonValue = null | boolean | number | bigint | string | JsonValue[] | Map<string, JsonValue>;

class JsonSyntaxError {
  constructor(readonly reason: string, readonly at: number) {}
}

function parseJson(text: string): JsonValue {
  let pos = 0;
  const fail = (reason: string, at = pos): never => {
    throw new JsonSyntaxError(reason, at);
  };
  const skipWhitespace = () => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const expect = (char: string) => {
    if (text[pos] !== char) fail(pos < text.length ? `expected '${char}', found ${JSON.stringify(text[pos])}` : `expected '${char}', found the end`);
    pos++;
  };

  const value = (depth: number): JsonValue => {
    skipWhitespace();
    const c = text[pos];
    if (c === '{' || c === '[') {
      if (depth >= JSON_DEPTH_LIMIT) fail(`nesting deeper than ${JSON_DEPTH_LIMIT} levels`);
      return c === '{' ? object(depth + 1) : array(depth + 1);
    }
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return v;
      }
    }
    return fail(c === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
  };

  const object = (depth: number): Map<string, JsonValue> => {
    const map = new Map<string, JsonValue>();
    pos++;
    skipWhitespace();
    if (text[pos] === '}') {
      pos++;
      return map;
    }
    for (;;) {
      skipWhitespace();
      if (text[pos] !== '"') fail('expected a string key');
      const key = string();
      skipWhitespace();
      expect(':');
      map.set(key, value(depth));
      skipWhitespace();
      if (text[pos] === ',') pos++;
      else {
        expect('}');
        return map;
      }
    }
  };

  const array = (depth: number): JsonValue[] => {
    const items: JsonValue[] = [];
    pos++;
    skipWhitespace();
    if (text[pos] === ']') {
      pos++;
      return items;
    }
    for (;;) {
      items.push(value(depth));
      skipWhitespace();
      if (text[pos] === ',') pos++;
      else {
        expect(']');
        return items;
      }
    }
  };

  const hex4 = (): number => {
    const digits = text.slice(pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) fail('invalid \\u escape');
    pos += 4;
    return parseInt(digits, 16);
  };

  const string = (): string => {
    const start = pos++;
    let out = '';
    let chunk = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunk, pos++);
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(chunk, pos);
      const escape = text[pos + 1];
      pos += 2;
      const simple = escape === undefined ? -1 : '"\\/bfnrt'.indexOf(escape);
      if (simple >= 0) {
        out += '"\\/\b\f\n\r\t'[simple];
      } else if (escape === 'u') {
        const unit = hex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) fail('lone trailing surrogate in \\u escape', pos - 6);
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (text[pos] !== '\\' || text[pos + 1] !== 'u') fail('lone leading surrogate in \\u escape', pos - 6);
          pos += 2;
          const low = hex4();
          if (low < 0xdc00 || low > 0xdfff) fail('lone leading surrogate in \\u escape', pos - 12);
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
      } else {
        fail('invalid escape', pos - 2);
      }
      chunk = pos;
    }
  };

  const number = (): number | bigint => {
    const start = pos;
    let integer = true;
    if (text[pos] === '-') {
      integer = false; // never an unsigned integer, not even -0
      pos++;
    }
    const digits = () => {
      const from = pos;
      while (text[pos] >= '0' && text[pos] <= '9') pos++;
      if (pos === from) fail('expected a digit');
    };
    if (text[pos] === '0') pos++;
    else digits();
    if (text[pos] === '.') {
      integer = false;
      pos++;
      digits();
    }
    if (text[pos] === 'e' || text[pos] === 'E') {
      integer = false;
      pos++;
      if (text[pos] === '+' || text[pos] === '-') pos++;
      digits();
    }
    const token = text.slice(start, pos);
    // More than 20 digits is above 2^64 anyway; serde_json then falls back to a float, and so do we
    // (which also keeps BigInt parsing of a huge literal off the table).
    if (integer && token.length <= 20) return BigInt(token);
    const x = Number(token);
    if (!Number.isFinite(x)) fail('number out of range', start);
    return x;
  };

  const root = value(0);
  skipWhitespace();
  if (pos < text.length) fail('trailing characters after the JSON value');
  return root;
}

// A short rendering of a JSON value for error messages.
function show(v: JsonValue): string {
  const render = (x: JsonValue): string => {
    if (x === null) return 'null';
    if (typeof x === 'bigint') return x.toString();
    if (Array.isArray(x)) return `[${x.map(render).join(', ')}]`;
    if (x instanceof Map) return `{${[...x].map(([k, e]) => `${JSON.stringify(k)}: ${render(e)}`).join(', ')}}`;
    return JSON.stringify(x);
  };
  const s = render(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

// ---------------------------------------------------------------------------------------------
// Writer

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

// ---------------------------------------------------------------------------------------------
// Element conversion

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

function float32BitsToBfloat16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x0040; // NaN: keep it quiet
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}
