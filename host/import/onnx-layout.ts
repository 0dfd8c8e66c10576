// How an ONNX value's memory is laid out in ours, and the arithmetic on it. ONNX computes NCHW; we
// keep images NHWC, and a Reshape or Transpose of an NHWC tensor usually needs no data movement at
// all: it only changes how our memory maps onto ONNX's axes. A layout records that mapping:
//
//   our memory = transpose(reshape(onnx value, dims), perm)     (per sample; the batch stays first)
//
// `dims` refines the ONNX shape (each ONNX axis is one or more consecutive entries; `axisOf[i]` is
// the ONNX axis of entry i), and our axis j holds entry perm[j]. An image [C, H, W] kept NHWC is
// dims [C, H, W], perm [1, 2, 0]; its Flatten is the same dims and perm under the ONNX shape [CHW].
// Data moves only when a consumer needs a layout that the memory does not have (a `permute` layer);
// `conversion` plans that move.
import type { OnnxTensor } from './onnx-proto';
import { transposeData } from './onnx-fold';

export interface Layout {
  dims: number[];
  axisOf: number[];
  perm: number[];
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
export const sizeOf = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
export const sameList = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

// The layout with one entry per ONNX axis, our axes in the order `perm` (ONNX axes).
export function canonical(shape: readonly number[], perm: readonly number[] = range(shape.length)): Layout {
  return { dims: [...shape], axisOf: range(shape.length), perm: [...perm] };
}

// NHWC for a [C, H, W] value; channel-last ([C, ...] -> [..., C]) for other ranks >= 2 is not
// chosen by default, only for images: other values keep ONNX's order.
export function preferredPerm(shape: readonly number[]): number[] {
  return shape.length === 3 ? [1, 2, 0] : range(shape.length);
}

export const IMAGE_PERM = [1, 2, 0];

export function ourShape(l: Layout): number[] {
  return l.perm.map((i) => l.dims[i]);
}

// The ONNX shape a layout refines.
export function onnxShape(l: Layout): number[] {
  const s: number[] = [];
  l.dims.forEach((d, i) => { s[l.axisOf[i]] = (s[l.axisOf[i]] ?? 1) * d; });
  return s;
}

// Whether ONNX axis `a` is one entry of the layout, and which our axis holds it.
export function ourAxis(l: Layout, a: number): number | null {
  const entries = l.axisOf.flatMap((x, i) => (x === a ? [i] : []));
  return entries.length === 1 ? l.perm.indexOf(entries[0]) : null;
}

export function isCanonical(l: Layout, perm: readonly number[]): boolean {
  return l.dims.length === perm.length && l.axisOf.every((a, i) => a === i) && sameList(l.perm, perm);
}

// Pieces refining both `a` and `b` (equal products), each with its entry in a and in b; null when
// the two factorisations conflict (6 as 2x3 and as 3x2).
function commonRefinement(a: readonly number[], b: readonly number[]): { size: number; ia: number; ib: number }[] | null {
  const out: { size: number; ia: number; ib: number }[] = [];
  let i = 0, j = 0, ra = a[0], rb = b[0];
  while (i < a.length && j < b.length) {
    if (ra === rb) {
      out.push({ size: ra, ia: i, ib: j });
      ra = a[++i]; rb = b[++j];
    } else if (ra < rb && rb % ra === 0) {
      out.push({ size: ra, ia: i, ib: j });
      rb /= ra; ra = a[++i];
    } else if (rb < ra && ra % rb === 0) {
      out.push({ size: rb, ia: i, ib: j });
      ra /= rb; rb = b[++j];
    } else return null;
  }
  // trailing unit entries of either side
  while (i < a.length) { if (a[i] !== 1) return null; out.push({ size: 1, ia: i++, ib: b.length - 1 }); }
  while (j < b.length) { if (b[j] !== 1) return null; out.push({ size: 1, ia: a.length - 1, ib: j++ }); }
  return out;
}

// Merges entries that are consecutive both in ONNX's order and in ours, and drops unit entries of
// axes that have others: the fewest entries for the same memory.
export function compact(l: Layout): Layout {
  let { dims, axisOf, perm } = l;
  for (;;) {
    let drop = -1;
    for (let i = 0; i < dims.length && drop < 0; i++) {
      if (dims[i] === 1 && axisOf.filter((a) => a === axisOf[i]).length > 1) drop = i;
    }
    if (drop < 0) {
      for (let j = 0; j + 1 < perm.length && drop < 0; j++) {
        const d = perm[j];
        if (perm[j + 1] === d + 1 && axisOf[d] === axisOf[d + 1]) {
          dims = dims.map((v, i) => (i === d ? v * dims[d + 1] : v));
          drop = d + 1;
        }
      }
      if (drop < 0) return { dims, axisOf, perm };
    }
    dims = dims.filter((_, i) => i !== drop);
    axisOf = axisOf.filter((_, i) => i !== drop);
    perm = perm.filter((p) => p !== drop).map((p) => (p > drop ? p - 1 : p));
  }
}

// The same memory seen as the ONNX shape `shape` (a Reshape of equal size), or null when the
// memory order cannot express it.
export function reshaped(l: Layout, shape: readonly number[]): Layout | null {
  if (shape.length === 0) return { dims: [1], axisOf: [0], perm: [0] }; // a scalar as [1]
  const pieces = commonRefinement(l.dims, shape);
  if (!pieces) return null;
  const perm = l.perm.flatMap((e) => pieces.flatMap((p, k) => (p.ia === e ? [k] : [])));
  // an ONNX axis whose entries are out of order in our memory (a channel shuffle's merged axis) is
  // fine here: the consumer that needs the axis whole moves the data (conversion)
  return compact({ dims: pieces.map((p) => p.size), axisOf: pieces.map((p) => p.ib), perm });
}

// ONNX Transpose: new axis k is old axis p[k]. No data moves.
export function transposed(l: Layout, p: readonly number[]): Layout {
  const order = p.flatMap((a) => l.axisOf.flatMap((x, i) => (x === a ? [i] : [])));
  const newIndex = new Map(order.map((old, i) => [old, i]));
  return { dims: order.map((i) => l.dims[i]), axisOf: order.map((i) => p.indexOf(l.axisOf[i])), perm: l.perm.map((i) => newIndex.get(i)!) };
}

// The data move from layout `from` to layout `to` (both of the same ONNX shape): our tensor is
// reshaped to `source`, permuted by `perm` (0-based over source's axes) and reshaped to the target's
// shape; `perm` null when a reshape suffices. Null when the two refinements conflict (go through
// the canonical layout then).
export function conversion(from: Layout, to: Layout): { source: number[]; perm: number[] | null } | null {
  const pieces = commonRefinement(from.dims, to.dims);
  if (!pieces) return null;
  const order = (l: Layout, key: 'ia' | 'ib') => l.perm.flatMap((e) => pieces.flatMap((p, k) => (p[key] === e && p.size !== 1 ? [k] : [])));
  const src = order(from, 'ia');
  const dst = order(to, 'ib');
  // q[k]: position in the source of the piece at target position k; then merge runs.
  const q = dst.map((k) => src.indexOf(k));
  const runs: number[][] = [];
  for (const s of q) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] + 1 === s) last.push(s); else runs.push([s]);
  }
  if (runs.length <= 1) return { source: [], perm: null };
  const bySource = [...runs].sort((a, b) => a[0] - b[0]);
  const source = bySource.map((r) => sizeOf(r.map((s) => pieces[src[s]].size)));
  return { source, perm: runs.map((r) => bySource.indexOf(r)) };
}

// For a value whose layout is `l`, our flat position -> ONNX flat index (per sample).
export function memoryOrder(l: Layout): Int32Array {
  const n = sizeOf(l.dims);
  const index = Int32Array.from({ length: n }, (_, i) => i);
  return Int32Array.from(transposeData(index, l.dims, l.perm));
}

// A constant's data in the layout `l` (its ONNX shape being l's).
export function constantInLayout(t: OnnxTensor, l: Layout): Float32Array {
  return transposeData(t.data, l.dims, l.perm);
}

// The layout of an operand broadcast against `ref` (both at the output's rank): the same entries
// and order, with size 1 on the axes the operand broadcasts.
export function broadcastLayout(ref: Layout, shape: readonly number[]): Layout {
  const full = onnxShape(ref);
  return { dims: ref.dims.map((d, i) => (shape[ref.axisOf[i]] === full[ref.axisOf[i]] ? d : 1)), axisOf: [...ref.axisOf], perm: [...ref.perm] };
}

// `l` with `n` leading unit ONNX axes (a lower-rank operand aligned to the right).
export function withLeadingAxes(l: Layout, n: number): Layout {
  return { dims: [...range(n).map(() => 1), ...l.dims], axisOf: [...range(n), ...l.axisOf.map((a) => a + n)], perm: [...range(n), ...l.perm.map((p) => p + n)] };
}
