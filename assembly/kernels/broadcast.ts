// Broadcasting arithmetic, reductions and their gradients (Keras Add / Subtract / Multiply /
// Maximum / Minimum / Average with NumPy broadcasting, edgetune Divide, Atan2, Reduce and ConstantOp),
// as one strided loop over a 6-axis index space L = [batch, n1, n2, n3, n4, n5] (row-major).
//
// Operands: g is contiguous over L (dy, or the tensor being reduced); y, a and b are strided, one
// stride (in floats) per axis of L, 0 on an axis they are broadcast along. Each point of L gives a
// value v = f(op, g, a, b); y[i] = alpha * v, or y[i] += alpha * v when `accumulate` is 1 or when y
// has stride 0 along an axis of extent > 1 (y is then a reduction, filled with the op's identity
// first unless accumulating). That one rule gives: a broadcast binary op (y contiguous); the sum
// (mean: alpha = 1/n) of dy over the axes an operand was broadcast along (its gradient); reductions
// (y strided with 0s; REDUCE_MAX/MIN keep y = max(y, g)); and max/min's tie-aware backward.
// The host merges adjacent axes first, so the innermost axis is long; with SIMD it runs 4 wide when
// y's innermost stride is 1 and a's and b's are 0 or 1. Pointers are byte offsets, f32.
import { fill_f32 } from './elementwise';
import { arg, argf, argp, canSplit, ELEMENT_TILE_MIN, runJob, setArg, setArgf, setArgp, tileStart, tilesFor } from './threads';

// The thread job of a split broadcast op (assembly/kernels/threads.ts runs broadcastTile for it).
export const JOB_BROADCAST: i32 = 17;

// Binary ops, f(a, b).
export const BC_ADD: i32 = 0;
export const BC_SUB: i32 = 1;
export const BC_MUL: i32 = 2;
export const BC_DIV: i32 = 3;
export const BC_MAX: i32 = 4;
export const BC_MIN: i32 = 5;
export const BC_SQDIFF: i32 = 6; // (a - b)^2
export const BC_COPY: i32 = 7; // a (a reduction's gradient broadcast back; n-ary add)
// Reductions and gradients, with g.
export const BC_SUM: i32 = 8; // g
export const BC_G_MUL: i32 = 9; // g * a (multiply's gradients)
export const BC_G_DIV: i32 = 10; // g / a (divide's numerator gradient)
export const BC_G_DIV_GRAD: i32 = 11; // g * a / (b * b) (divide's denominator gradient, with alpha -1)
export const BC_G_GE: i32 = 12; // a >= b ? g : 0 (maximum's first operand, TF's tie rule)
export const BC_G_LT: i32 = 13; // a < b ? g : 0
export const BC_G_LE: i32 = 14; // a <= b ? g : 0 (minimum's first operand)
export const BC_G_GT: i32 = 15; // a > b ? g : 0
export const BC_G_SQDIFF: i32 = 16; // 2 * g * (a - b)
export const BC_EQ_COUNT: i32 = 17; // g == a ? 1 : 0 (ties of a max/min reduction)
export const BC_EQ_SELECT: i32 = 18; // g == a ? b : 0 (a max/min reduction's backward: b = dy / ties)
export const BC_REDUCE_MAX: i32 = 19; // y = max(y, g)
export const BC_REDUCE_MIN: i32 = 20; // y = min(y, g)
// atan2 and its gradient (scalar only: no SIMD arctangent).
export const BC_ATAN2: i32 = 21; // atan2(a, b): the angle of the point (x = b, y = a)
export const BC_G_ATAN2: i32 = 22; // g * b / (a^2 + b^2) (d/da; d/db with a and b swapped and alpha -1)

// @ts-ignore: decorator
@inline function needsG(op: i32): bool { return (op >= BC_SUM && op <= BC_REDUCE_MIN) || op == BC_G_ATAN2; }
// @ts-ignore: decorator
@inline function needsA(op: i32): bool { return op <= BC_COPY || (op >= BC_G_MUL && op <= BC_EQ_SELECT) || op >= BC_ATAN2; }
// @ts-ignore: decorator
@inline function needsB(op: i32): bool { return op <= BC_SQDIFF || (op >= BC_G_DIV_GRAD && op <= BC_G_SQDIFF) || op == BC_EQ_SELECT || op >= BC_ATAN2; }

// @ts-ignore: decorator
@inline function scalarOp(op: i32, g: f32, a: f32, b: f32): f32 {
  switch (op) {
    case BC_ADD: return a + b;
    case BC_SUB: return a - b;
    case BC_MUL: return a * b;
    case BC_DIV: return a / b;
    case BC_MAX: return max<f32>(a, b);
    case BC_MIN: return min<f32>(a, b);
    case BC_SQDIFF: { const d = a - b; return d * d; }
    case BC_COPY: return a;
    case BC_SUM: return g;
    case BC_G_MUL: return g * a;
    case BC_G_DIV: return g / a;
    case BC_G_DIV_GRAD: return (g * a) / (b * b);
    case BC_G_GE: return a >= b ? g : 0;
    case BC_G_LT: return a < b ? g : 0;
    case BC_G_LE: return a <= b ? g : 0;
    case BC_G_GT: return a > b ? g : 0;
    case BC_G_SQDIFF: return (g * (a - b)) * 2;
    case BC_EQ_COUNT: return g == a ? 1 : 0;
    case BC_EQ_SELECT: return g == a ? b : 0;
    case BC_ATAN2: return Mathf.atan2(a, b);
    case BC_G_ATAN2: return (g * b) / (a * a + b * b);
    default: return g;
  }
}

// @ts-ignore: decorator
@inline function vectorOp(op: i32, g: v128, a: v128, b: v128): v128 {
  switch (op) {
    case BC_ADD: return f32x4.add(a, b);
    case BC_SUB: return f32x4.sub(a, b);
    case BC_MUL: return f32x4.mul(a, b);
    case BC_DIV: return f32x4.div(a, b);
    case BC_MAX: return f32x4.max(a, b);
    case BC_MIN: return f32x4.min(a, b);
    case BC_SQDIFF: { const d = f32x4.sub(a, b); return f32x4.mul(d, d); }
    case BC_COPY: return a;
    case BC_SUM: return g;
    case BC_G_MUL: return f32x4.mul(g, a);
    case BC_G_DIV: return f32x4.div(g, a);
    case BC_G_DIV_GRAD: return f32x4.div(f32x4.mul(g, a), f32x4.mul(b, b));
    case BC_G_GE: return v128.and(g, f32x4.ge(a, b));
    case BC_G_LT: return v128.and(g, f32x4.lt(a, b));
    case BC_G_LE: return v128.and(g, f32x4.le(a, b));
    case BC_G_GT: return v128.and(g, f32x4.gt(a, b));
    case BC_G_SQDIFF: return f32x4.mul(f32x4.mul(g, f32x4.sub(a, b)), f32x4.splat(2));
    case BC_EQ_COUNT: return v128.and(f32x4.splat(1), f32x4.eq(g, a));
    case BC_EQ_SELECT: return v128.and(b, f32x4.eq(g, a));
    default: return g;
  }
}

// @ts-ignore: decorator
@inline function combine(op: i32, y: f32, v: f32, alpha: f32, into: bool): f32 {
  if (op == BC_REDUCE_MAX) return into ? max<f32>(y, v) : v;
  if (op == BC_REDUCE_MIN) return into ? min<f32>(y, v) : v;
  return into ? y + alpha * v : alpha * v;
}

// One innermost run of n points: y, g, a, b advance by their strides (g's is 1, or 0 when unread).
function broadcastRow(op: i32, y: usize, sy: i32, g: usize, sg: i32, a: usize, sa: i32, b: usize, sb: i32, n: i32, alpha: f32, into: bool): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    if (PRODUCT_ROW && (op == BC_MUL || op == BC_ADD) && sy == 1 && !into && alpha == 1 && sa + sb >= 1 && sa <= 1 && sb <= 1) {
      j = productRow(op == BC_MUL, y, a, sa, b, sb, n);
    } else if (op < BC_ATAN2 && sy == 1 && sa <= 1 && sb <= 1) {
      const al = f32x4.splat(alpha);
      const g0 = f32x4.splat(load<f32>(g));
      const a0 = f32x4.splat(load<f32>(a));
      const b0 = f32x4.splat(load<f32>(b));
      for (; j + 4 <= n; j += 4) {
        const o = <usize>j << 2;
        const v = vectorOp(op, sg ? v128.load(g + o) : g0, sa ? v128.load(a + o) : a0, sb ? v128.load(b + o) : b0);
        let r: v128;
        if (op == BC_REDUCE_MAX) r = into ? f32x4.max(v128.load(y + o), v) : v;
        else if (op == BC_REDUCE_MIN) r = into ? f32x4.min(v128.load(y + o), v) : v;
        else r = into ? f32x4.add(v128.load(y + o), f32x4.mul(al, v)) : f32x4.mul(al, v);
        v128.store(y + o, r);
      }
    }
  }
  for (; j < n; j++) {
    const py = y + (<usize>(j * sy) << 2);
    const v = scalarOp(op, load<f32>(g + (<usize>(j * sg) << 2)), load<f32>(a + (<usize>(j * sa) << 2)), load<f32>(b + (<usize>(j * sb) << 2)));
    store<f32>(py, combine(op, load<f32>(py), v, alpha, into));
  }
}

// y = a * b (or a + b) over the vectors of a run of n points, a and b each a run (stride 1) or one
// value (stride 0): the loop above for alpha 1 and no accumulation (1 * v == v), without its
// tests of the op, the strides and the accumulation at every vector, which cost a broadcast
// multiply over short rows (mobilenet_v3_small's squeeze-and-excitation scales: 16 to 96 points a
// row) 0.5 to 0.84 ns a point against 0.2 for a plain copy. Returns the points it wrote (a multiple
// of 4); the scalar loop takes the rest.
// Not in the lite build (dense networks; its size budget, test/bundle.test.ts): lite takes the
// loop above.
const PRODUCT_ROW: bool = !isDefined(EDGETUNE_LITE);

// @ts-ignore: decorator
@inline
function productRow(mul: bool, y: usize, a: usize, sa: i32, b: usize, sb: i32, n: i32): i32 {
  const n4 = n & ~3;
  const end = y + (<usize>n4 << 2);
  if (sa == 1 && sb == 1) {
    for (let o: usize = 0; y + o < end; o += 16) {
      const va = v128.load(a + o), vb = v128.load(b + o);
      v128.store(y + o, mul ? f32x4.mul(va, vb) : f32x4.add(va, vb));
    }
  } else if (sa == 0) {
    const va = f32x4.splat(load<f32>(a));
    for (let o: usize = 0; y + o < end; o += 16) {
      const vb = v128.load(b + o);
      v128.store(y + o, mul ? f32x4.mul(va, vb) : f32x4.add(va, vb));
    }
  } else {
    const vb = f32x4.splat(load<f32>(b));
    for (let o: usize = 0; y + o < end; o += 16) {
      const va = v128.load(a + o);
      v128.store(y + o, mul ? f32x4.mul(va, vb) : f32x4.add(va, vb));
    }
  }
  return n4;
}

// y, a, b strided over L = [batch, n1..n5] (strides in floats, 0 = broadcast); g contiguous over L.
// A pointer the op does not read may be 0; a pointer it reads may not (the call does nothing).
export function broadcast_f32(
  op: i32, y: usize, g: usize, a: usize, b: usize, batch: i32, n1: i32, n2: i32, n3: i32, n4: i32, n5: i32,
  sy0: i32, sy1: i32, sy2: i32, sy3: i32, sy4: i32, sy5: i32, sa0: i32, sa1: i32, sa2: i32, sa3: i32, sa4: i32, sa5: i32,
  sb0: i32, sb1: i32, sb2: i32, sb3: i32, sb4: i32, sb5: i32, alpha: f32, accumulate: i32,
): void {
  if (op < 0 || op > BC_G_ATAN2 || y == 0 || (needsG(op) && g == 0) || (needsA(op) && a == 0) || (needsB(op) && b == 0)) return;
  if (batch < 1 || n1 < 1 || n2 < 1 || n3 < 1 || n4 < 1 || n5 < 1) return;
  if ((sy0 | sy1 | sy2 | sy3 | sy4 | sy5 | sa0 | sa1 | sa2 | sa3 | sa4 | sa5 | sb0 | sb1 | sb2 | sb3 | sb4 | sb5) < 0) return;
  // An operand the op does not read stays put (its pointer may be 0).
  if (!needsA(op)) { sa0 = 0; sa1 = 0; sa2 = 0; sa3 = 0; sa4 = 0; sa5 = 0; }
  if (!needsB(op)) { sb0 = 0; sb1 = 0; sb2 = 0; sb3 = 0; sb4 = 0; sb5 = 0; }
  const reduced = (batch > 1 && sy0 == 0) || (n1 > 1 && sy1 == 0) || (n2 > 1 && sy2 == 0) || (n3 > 1 && sy3 == 0) || (n4 > 1 && sy4 == 0) || (n5 > 1 && sy5 == 0);
  if (reduced && !accumulate) {
    const extent = (batch - 1) * sy0 + (n1 - 1) * sy1 + (n2 - 1) * sy2 + (n3 - 1) * sy3 + (n4 - 1) * sy4 + (n5 - 1) * sy5 + 1;
    fill_f32(y, op == BC_REDUCE_MAX ? -Infinity : op == BC_REDUCE_MIN ? Infinity : 0, extent);
  }
  const into = reduced || accumulate != 0;
  const rows = batch * n1 * n2 * n3 * n4;
  // With a thread pool attached and no reduction (each point writes its own y), ranges of rows go
  // to the threads; a reduction sums rows into shared outputs and stays whole.
  if (ASC_FEATURE_THREADS && !reduced && broadcastSplit(op, y, g, a, b, n1, n2, n3, n4, n5,
    sy0, sy1, sy2, sy3, sy4, sy5, sa0, sa1, sa2, sa3, sa4, sa5, sb0, sb1, sb2, sb3, sb4, sb5, alpha, into, rows)) return;
  broadcastRows(op, y, g, a, b, n1, n2, n3, n4, n5, sy0, sy1, sy2, sy3, sy4, sy5, sa0, sa1, sa2, sa3, sa4, sa5,
    sb0, sb1, sb2, sb3, sb4, sb5, alpha, into, 0, rows);
}

// Rows r0 .. r1-1 of L's outer axes [batch, n1..n4] (row-major), each a run of n5 points
// (broadcastRow): each point is computed by the same code whatever rows a call takes.
function broadcastRows(op: i32, y: usize, g: usize, a: usize, b: usize, n1: i32, n2: i32, n3: i32, n4: i32, n5: i32,
  sy0: i32, sy1: i32, sy2: i32, sy3: i32, sy4: i32, sy5: i32, sa0: i32, sa1: i32, sa2: i32, sa3: i32, sa4: i32, sa5: i32,
  sb0: i32, sb1: i32, sb2: i32, sb3: i32, sb4: i32, sb5: i32, alpha: f32, into: bool, r0: i32, r1: i32): void {
  const sg = needsG(op) ? 1 : 0;
  const gRow = <usize>(n5 * sg) << 2;
  let gi: usize = g + <usize>r0 * gRow;
  // The row's index (i0, i1, i2, i3, i4), then counted up row by row.
  let i4 = r0 % n4, t = r0 / n4;
  let i3 = t % n3; t /= n3;
  let i2 = t % n2; t /= n2;
  let i1 = t % n1;
  let i0 = t / n1;
  for (let r = r0; r < r1; r++) {
    const yp = y + (<usize>(i0 * sy0 + i1 * sy1 + i2 * sy2 + i3 * sy3 + i4 * sy4) << 2);
    const ap = a + (<usize>(i0 * sa0 + i1 * sa1 + i2 * sa2 + i3 * sa3 + i4 * sa4) << 2);
    const bp = b + (<usize>(i0 * sb0 + i1 * sb1 + i2 * sb2 + i3 * sb3 + i4 * sb4) << 2);
    broadcastRow(op, yp, sy5, gi, sg, ap, sa5, bp, sb5, n5, alpha, into);
    gi += gRow;
    if (++i4 < n4) continue;
    i4 = 0;
    if (++i3 < n3) continue;
    i3 = 0;
    if (++i2 < n2) continue;
    i2 = 0;
    if (++i1 < n1) continue;
    i1 = 0;
    i0++;
  }
}

// The split: tiles of whole rows, at least ELEMENT_TILE_MIN points a tile (efficientnet_b0's
// squeeze-and-excitation scales, 47K to 401K points, ran whole on the driver: 1.3 ms of its 38).
function broadcastSplit(op: i32, y: usize, g: usize, a: usize, b: usize, n1: i32, n2: i32, n3: i32, n4: i32, n5: i32,
  sy0: i32, sy1: i32, sy2: i32, sy3: i32, sy4: i32, sy5: i32, sa0: i32, sa1: i32, sa2: i32, sa3: i32, sa4: i32, sa5: i32,
  sb0: i32, sb1: i32, sb2: i32, sb3: i32, sb4: i32, sb5: i32, alpha: f32, into: bool, rows: i32): bool {
  if (!canSplit()) return false;
  const count = tilesFor(rows, <f64>rows * <f64>n5, ELEMENT_TILE_MIN);
  if (count < 2) return false;
  setArg(0, op); setArgp(1, y); setArgp(2, g); setArgp(3, a); setArgp(4, b);
  setArg(5, n1); setArg(6, n2); setArg(7, n3); setArg(8, n4); setArg(9, n5);
  setArg(10, sy0); setArg(11, sy1); setArg(12, sy2); setArg(13, sy3); setArg(14, sy4); setArg(15, sy5);
  setArg(16, sa0); setArg(17, sa1); setArg(18, sa2); setArg(19, sa3); setArg(20, sa4); setArg(21, sa5);
  setArg(22, sb0); setArg(23, sb1); setArg(24, sb2); setArg(25, sb3); setArg(26, sb4); setArg(27, sb5);
  setArgf(28, alpha); setArg(29, into ? 1 : 0); setArg(30, rows);
  runJob(JOB_BROADCAST, count, 0);
  return true;
}

export function broadcastTile(args: usize, tile: i32, count: i32): void {
  const rows = arg(args, 30);
  broadcastRows(arg(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4),
    arg(args, 5), arg(args, 6), arg(args, 7), arg(args, 8), arg(args, 9),
    arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14), arg(args, 15),
    arg(args, 16), arg(args, 17), arg(args, 18), arg(args, 19), arg(args, 20), arg(args, 21),
    arg(args, 22), arg(args, 23), arg(args, 24), arg(args, 25), arg(args, 26), arg(args, 27),
    argf(args, 28), arg(args, 29) != 0, tileStart(tile, count, rows), tileStart(tile + 1, count, rows));
}
