// The safetensors reader: rejects exactly what the reference reader (huggingface/safetensors,
// SafeTensors::read_metadata + Metadata::validate) rejects, with a typed error that says what and where (docs/formats.md);
// nothing is returned unless the whole file is valid.
import { DTYPE_SIZE, DTYPES, type Dtype, isDtype, type TensorEntry } from './dtypes';
import { SafetensorsError, type SafetensorsErrorCode } from './errors';
import { type JsonValue, JsonSyntaxError, parseJson, show } from './json';

export interface SafetensorsFile {
  // In data-offset order.
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

export const HEADER_LIMIT = 100_000_000;
const U64_MAX = (1n << 64n) - 1n;

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

  const dataStart = 8 + n;
  checkLayout(entries, dataStart, bytes.length, fail);

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

// Sorted by offset, the tensors must tile the data section exactly: each starts where the previous
// ends, spans its element count x element size, and the last ends at the end of the file.
function checkLayout(entries: HeaderEntry[], dataStart: number, fileLength: number, fail: Fail): void {
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
  if (BigInt(dataStart) + end !== BigInt(fileLength)) {
    const last = previous === undefined ? 'no tensors' : `tensor "${previous.name}" ends at data byte ${end}`;
    throw fail(
      'MetadataIncompleteBuffer',
      `${last}, so the file should be 8 + ${dataStart - 8} + ${end} = ${BigInt(dataStart) + end} bytes, but it has ${fileLength}`,
      previous?.name,
    );
  }
}

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
