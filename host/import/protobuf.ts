// A minimal protobuf wire-format reader: enough to walk ONNX's ModelProto. Messages are read
// lazily as (field number, wire type, value) triples; callers pick the fields they know.
export interface ProtoField {
  field: number;
  wire: number; // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  // varint: the value as a number (int64 two's complement folded to a negative number);
  // fixed32/fixed64: the byte offset of the value; length-delimited: the bytes.
  num: number;
  bytes: Uint8Array | null;
  offset: number;
}

export class ProtoError extends Error {}

export class ProtoReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  // Varints up to 64 bits; values above 2^53 lose precision (ONNX dims and attributes never get there),
  // negative int64 values (10-byte two's complement) come back exact for small magnitudes.
  varint(): number {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ProtoError('truncated varint');
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) { lo |= (b & 0x0f) << 28; hi |= (b & 0x70) >> 4; }
      else if (shift < 64) hi |= (b & 0x7f) << (shift - 32);
      shift += 7;
      if (!(b & 0x80)) break;
      if (shift >= 70) throw new ProtoError('varint longer than 10 bytes');
    }
    lo >>>= 0;
    hi >>>= 0;
    if (hi & 0x80000000) return -((~hi >>> 0) * 4294967296 + ((~lo >>> 0) + 1));
    return hi * 4294967296 + lo;
  }

  next(): ProtoField {
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    const offset = this.pos;
    switch (wire) {
      case 0:
        return { field, wire, num: this.varint(), bytes: null, offset };
      case 1:
        this.skip(8);
        return { field, wire, num: this.view.getFloat64(offset, true), bytes: null, offset };
      case 5:
        this.skip(4);
        return { field, wire, num: this.view.getFloat32(offset, true), bytes: null, offset };
      case 2: {
        const len = this.varint();
        const start = this.pos;
        this.skip(len);
        return { field, wire, num: len, bytes: this.buf.subarray(start, start + len), offset: start };
      }
      default:
        throw new ProtoError(`unsupported wire type ${wire} (field ${field}) at byte ${offset}`);
    }
  }

  private skip(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new ProtoError(`field runs past the end of its message (${n} bytes at ${this.pos} of ${this.buf.length})`);
    this.pos += n;
  }
}

export function fields(buf: Uint8Array): ProtoField[] {
  const r = new ProtoReader(buf);
  const out: ProtoField[] = [];
  while (!r.done) out.push(r.next());
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
export function str(f: ProtoField): string {
  if (!f.bytes) throw new ProtoError(`field ${f.field} is not a string`);
  return decoder.decode(f.bytes);
}

// A repeated integer field, packed (one length-delimited run) or not.
export function ints(f: ProtoField): number[] {
  if (f.wire === 0) return [f.num];
  if (f.wire !== 2) throw new ProtoError(`field ${f.field}: expected integers`);
  const r = new ProtoReader(f.bytes!);
  const out: number[] = [];
  while (!r.done) out.push(r.varint());
  return out;
}

// A repeated float field, packed or not.
export function floats(f: ProtoField): number[] {
  if (f.wire === 5) return [f.num];
  if (f.wire !== 2 || f.bytes!.length % 4) throw new ProtoError(`field ${f.field}: expected floats`);
  const b = f.bytes!;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(v.getFloat32(i, true));
  return out;
}

export function doubles(f: ProtoField): number[] {
  if (f.wire === 1) return [f.num];
  if (f.wire !== 2 || f.bytes!.length % 8) throw new ProtoError(`field ${f.field}: expected doubles`);
  const b = f.bytes!;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 8) out.push(v.getFloat64(i, true));
  return out;
}

