// A seeded mutation fuzzer's mutations: the same seed gives the same bytes, so a failing case is
// reproduced from its format and case number. Byte-level mutations (bit flips, truncation,
// extension, length fields, varints, numbers in text) work on any file; JSON-level ones (numbers,
// shapes, offsets, duplicated and reordered keys) on a parsed header or model.json.

// xorshift32: small, fast and seeded; the fuzzer's only source of randomness.
export function rng(seed: number) {
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}
export type Rng = ReturnType<typeof rng>;

// Numbers that break parsers: zero, sign, the edges of i32/u32/2^53, absurd sizes, non-finite.
export const INTERESTING = [0, -1, 1, 2, 3, 7, 255, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53, 1e15, 1e308, -(2 ** 31), -1e9, 0.5, -0.0];
const TEXT_NUMBERS = ['0', '-1', '1', '4294967295', '4294967296', '2147483648', '9007199254740993', '1e308', '-1e308', '1e999', 'NaN', '-0', '0.5', '100000000000', '00', '1e-320'];

export function bitFlip(b: Uint8Array, r: Rng): Uint8Array {
  const out = b.slice();
  for (let n = 1 + r.int(8); n > 0 && out.length; n--) out[r.int(out.length)] ^= 1 << r.int(8);
  return out;
}

export function truncate(b: Uint8Array, r: Rng): Uint8Array {
  return b.slice(0, r.int(b.length));
}

export function extend(b: Uint8Array, r: Rng): Uint8Array {
  const extra = new Uint8Array(r.pick([1, 3, 4, 8, 64, 1000]));
  if (r.next() < 0.5) for (let i = 0; i < extra.length; i++) extra[i] = r.int(256);
  const out = new Uint8Array(b.length + extra.length);
  out.set(b);
  out.set(extra, b.length);
  return out;
}

// A u32 or u64 little-endian field, mostly near the start where headers and length prefixes are.
export function lengthField(b: Uint8Array, r: Rng): Uint8Array {
  const out = b.slice();
  if (out.length < 8) return out;
  const span = r.next() < 0.7 ? Math.min(out.length - 8, 128) : out.length - 8;
  const at = r.next() < 0.5 ? r.int(span + 1) & ~3 : r.int(span + 1);
  const v = r.pick(INTERESTING);
  const view = new DataView(out.buffer);
  if (r.next() < 0.5) view.setUint32(at, v >>> 0, true);
  else view.setBigUint64(at, BigInt.asUintN(64, BigInt(Math.trunc(v))), true);
  return out;
}

// Protobuf varints: a byte's continuation bit set or cleared, or a varint replaced by a huge one.
export function varint(b: Uint8Array, r: Rng): Uint8Array {
  const at = r.int(b.length);
  const choice = r.int(3);
  if (choice === 0) { const out = b.slice(); out[at] ^= 0x80; return out; }
  const huge = choice === 1 ? [0xff, 0xff, 0xff, 0xff, 0x0f] : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  let end = at;
  while (end < b.length && b[end] & 0x80) end++;
  return concat(b.subarray(0, at), Uint8Array.from(huge), b.subarray(Math.min(end + 1, b.length)));
}

// A run of ASCII digits (a number in a JSON header) replaced by another number's text.
export function textNumber(b: Uint8Array, r: Rng): Uint8Array {
  const runs: [number, number][] = [];
  for (let i = 0; i < b.length && runs.length < 4096; i++) {
    if (b[i] >= 0x30 && b[i] <= 0x39) { let j = i; while (j < b.length && b[j] >= 0x30 && b[j] <= 0x39) j++; runs.push([i, j]); i = j; }
  }
  if (!runs.length) return bitFlip(b, r);
  const [s, e] = r.pick(runs);
  return concat(b.subarray(0, s), new TextEncoder().encode(r.pick(TEXT_NUMBERS)), b.subarray(e));
}

export const BYTE_MUTATIONS = { bitFlip, truncate, extend, lengthField, varint, textNumber } as const;

export function mutateBytes(b: Uint8Array, r: Rng): { name: string; bytes: Uint8Array } {
  const names = Object.keys(BYTE_MUTATIONS) as (keyof typeof BYTE_MUTATIONS)[];
  const name = r.pick(names);
  return { name, bytes: BYTE_MUTATIONS[name](b, r) };
}

// Every [container, key] of a JSON value, depth first.
function slots(v: unknown, out: [any, string | number][] = []): [any, string | number][] {
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([v, i]); slots(x, out); });
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) { out.push([v, k]); slots((v as any)[k], out); }
  return out;
}

const DUP = '\u0000dup\u0000';

// One structural mutation of a parsed JSON value; returns the text (duplicated keys exist only in
// text). Shapes get huge or negative entries, offsets overlap or point past the end.
export function mutateJson(value: unknown, r: Rng): { name: string; text: string } {
  const v = structuredClone(value);
  const all = slots(v);
  if (!all.length) return { name: 'none', text: JSON.stringify(v) };
  const [c, k] = r.pick(all);
  const numeric = all.filter(([cc, kk]) => typeof cc[kk] === 'number');
  const arrays = all.filter(([cc, kk]) => Array.isArray(cc[kk]) && cc[kk].length && cc[kk].every((x: unknown) => typeof x === 'number'));
  const objects = all.filter(([cc, kk]) => cc[kk] && typeof cc[kk] === 'object' && !Array.isArray(cc[kk]) && Object.keys(cc[kk]).length);
  switch (r.int(8)) {
    case 0: { if (!numeric.length) break; const [nc, nk] = r.pick(numeric); nc[nk] = r.pick(INTERESTING); return { name: 'json-number', text: JSON.stringify(v) }; }
    case 1: { // a shape or offsets pair: huge, negative, overlapping, past the end
      if (!arrays.length) break;
      const [ac, ak] = r.pick(arrays);
      const a = ac[ak] as number[];
      const i = r.int(a.length);
      const kind = r.int(4);
      if (kind === 0) a[i] = r.pick([2 ** 31, 2 ** 32, 1e12, 2 ** 53]);
      else if (kind === 1) a[i] = -r.pick([1, 2, 1000]);
      else if (kind === 2 && a.length >= 2) a[1] = a[0] + r.int(4); // an end near its start: overlaps the next
      else a[i] = a[i] + r.pick([1, 4, 1 << 20]);
      return { name: 'json-shape-offsets', text: JSON.stringify(v) };
    }
    case 2: { // a duplicated key with another value (JSON.parse keeps the last)
      if (!objects.length) break;
      const [oc, ok] = r.pick(objects);
      const o = oc[ok];
      const key = r.pick(Object.keys(o));
      const copy: Record<string, unknown> = {};
      for (const kk of Object.keys(o)) { copy[kk] = o[kk]; if (kk === key) copy[DUP + kk] = r.pick([0, -1, null, 'x', [2 ** 31], {}]); }
      oc[ok] = copy;
      return { name: 'json-duplicate-key', text: JSON.stringify(v).split(JSON.stringify(DUP).slice(1, -1)).join('') };
    }
    case 3: { // keys reordered
      if (!objects.length) break;
      const [oc, ok] = r.pick(objects);
      const keys = Object.keys(oc[ok]);
      for (let i = keys.length - 1; i > 0; i--) { const j = r.int(i + 1); [keys[i], keys[j]] = [keys[j], keys[i]]; }
      oc[ok] = Object.fromEntries(keys.map((kk) => [kk, oc[ok][kk]]));
      return { name: 'json-reorder', text: JSON.stringify(v) };
    }
    case 4: if (Array.isArray(c)) c.splice(k as number, 1); else delete c[k]; return { name: 'json-delete', text: JSON.stringify(v) };
    case 5: c[k] = r.pick([null, true, 'float32', '__proto__', '../../etc/passwd', [], {}, [[]], -1, 'NaN', 'x'.repeat(1000)]); return { name: 'json-type', text: JSON.stringify(v) };
    case 6: if (Array.isArray(c[k])) { c[k].push(...c[k].slice(0, 2)); return { name: 'json-array-grow', text: JSON.stringify(v) }; } break;
    default: break;
  }
  const text = JSON.stringify(v);
  return { name: 'json-text-number', text: new TextDecoder().decode(textNumber(new TextEncoder().encode(text), r)) };
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
