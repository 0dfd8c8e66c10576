// The strided N-D copy under the shape layers (permute, slice, pad, concatenate on any axis,
// depthToSpace / spaceToDepth, tile, gather) and their backward passes. f32, pointers are byte
// offsets; `accumulate` 0 writes, 1 adds.
import { copy_f32 } from './elementwise';
import { interleave2_split } from './threads-elementwise';

// y [+]= x over the box (batch, d1, d2, d3, d4, d5), the batch outermost. Element (i0, ..., i5)
// of y is at y + 4 * sum_k (ys_k >= 0 ? i_k * ys_k : (n_k - 1 - i_k) * -ys_k), n_0 = batch,
// n_k = d_k, and likewise for x: a negative stride walks its axis from the far end, so each
// pointer is the lowest address its side touches and spans sum_k (n_k - 1) * |s_k| + 1 floats
// (host/compile/ops.ts). Elements are visited in row-major order of the box, so a stride of 0 on
// y with accumulate adds every x it meets (scatter-add of repeated indices); y and x may share a
// buffer when the elements they touch do not overlap. Innermost stride 1 on both sides runs
// copy_f32 (memory.copy, or 4 wide when accumulating).
export function nd_copy_f32(y: usize, x: usize, batch: i32, d1: i32, d2: i32, d3: i32, d4: i32, d5: i32,
  ys0: i32, ys1: i32, ys2: i32, ys3: i32, ys4: i32, ys5: i32, xs0: i32, xs1: i32, xs2: i32, xs3: i32, xs4: i32, xs5: i32,
  accumulate: i32): void {
  if (batch <= 0 || d1 <= 0 || d2 <= 0 || d3 <= 0 || d4 <= 0 || d5 <= 0) return;
  const y0 = far(batch, ys0) + far(d1, ys1) + far(d2, ys2) + far(d3, ys3) + far(d4, ys4) + far(d5, ys5);
  const x0 = far(batch, xs0) + far(d1, xs1) + far(d2, xs2) + far(d3, xs3) + far(d4, xs4) + far(d5, xs5);
  const contiguous = ys5 == 1 && xs5 == 1;
  // A (2, d4) block of x transposed into d4 pairs (ShuffleNet's channel shuffle of two groups),
  // or back: two rows at a time instead of d4 copies of 2 floats.
  const interleave = !accumulate && d5 == 2 && ys5 == 1 && ys4 == 2 && xs4 == 1 && xs5 > 0;
  const deinterleave = !accumulate && d5 == 2 && xs5 == 1 && xs4 == 2 && ys4 == 1 && ys5 > 0;
  for (let n = 0, yn = y0, xn = x0; n < batch; n++, yn += ys0, xn += xs0) {
    for (let a = 0, ya = yn, xa = xn; a < d1; a++, ya += ys1, xa += xs1) {
      for (let b = 0, yb = ya, xb = xa; b < d2; b++, yb += ys2, xb += xs2) {
        for (let c = 0, yc = yb, xc = xb; c < d3; c++, yc += ys3, xc += xs3) {
          if (interleave) {
            interleave2(y + (<usize>yc << 2), x + (<usize>xc << 2), x + (<usize>(xc + xs5) << 2), d4);
            continue;
          }
          if (deinterleave) {
            deinterleave2(y + (<usize>yc << 2), y + (<usize>(yc + ys5) << 2), x + (<usize>xc << 2), d4);
            continue;
          }
          for (let d = 0, yd = yc, xd = xc; d < d4; d++, yd += ys4, xd += xs4) {
            const py = y + (<usize>yd << 2);
            const px = x + (<usize>xd << 2);
            if (contiguous) copy_f32(py, px, d5, accumulate);
            else run(py, px, d5, ys5, xs5, accumulate);
          }
        }
      }
    }
  }
}

// The offset of index 0 on an axis of n elements and stride s: (n - 1) * |s| when s walks backwards.
// @ts-ignore: decorator
@inline function far(n: i32, s: i32): i32 {
  return s < 0 ? (n - 1) * -s : 0;
}

// y [+]= x over n elements at strides sy, sx (in floats; either may be 0 or negative).
function run(y: usize, x: usize, n: i32, sy: i32, sx: i32, accumulate: i32): void {
  const by = <isize>sy << 2;
  const bx = <isize>sx << 2;
  let py = <isize>y, px = <isize>x;
  if (accumulate) {
    for (let i = 0; i < n; i++, py += by, px += bx) store<f32>(py, load<f32>(py) + load<f32>(px));
  } else {
    for (let i = 0; i < n; i++, py += by, px += bx) store<f32>(py, load<f32>(px));
  }
}

// y (rows, ldy) = rows of n pairs (a[r, i], b[r, i]) from a (rows, lda) and b (rows, ldb): two
// tensors' channels interleaved, the channel shuffle of a ShuffleNet unit's two halves written
// straight from where they were computed (host/compile/channel-gather.ts).
// With a thread pool attached, rows go to the threads (threads-elementwise.ts interleave2_split).
export function interleave2_f32(y: usize, ldy: i32, a: usize, lda: i32, b: usize, ldb: i32, rows: i32, n: i32): void {
  if (ASC_FEATURE_THREADS && interleave2_split(y, ldy, a, lda, b, ldb, rows, n)) return;
  interleave2_rows(y, ldy, a, lda, b, ldb, n, 0, rows);
}

// interleave2_f32's rows r0 .. r1-1.
export function interleave2_rows(y: usize, ldy: i32, a: usize, lda: i32, b: usize, ldb: i32, n: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    interleave2(y + (<usize>(r * ldy) << 2), a + (<usize>(r * lda) << 2), b + (<usize>(r * ldb) << 2), n);
  }
}

// y (n, 2) = the pairs (a[i], b[i]) of a (n) and b (n).
function interleave2(y: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const va = v128.load(a + (<usize>i << 2)), vb = v128.load(b + (<usize>i << 2));
      const o = y + (<usize>i << 3);
      v128.store(o, v128.shuffle<f32>(va, vb, 0, 4, 1, 5));
      v128.store(o, v128.shuffle<f32>(va, vb, 2, 6, 3, 7), 16);
    }
  }
  for (; i < n; i++) {
    const o = y + (<usize>i << 3);
    store<f32>(o, load<f32>(a + (<usize>i << 2)));
    store<f32>(o, load<f32>(b + (<usize>i << 2)), 4);
  }
}

// a (n), b (n) = the first and second of the pairs x (n, 2).
function deinterleave2(a: usize, b: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = x + (<usize>i << 3);
      const v0 = v128.load(o), v1 = v128.load(o, 16);
      v128.store(a + (<usize>i << 2), v128.shuffle<f32>(v0, v1, 0, 2, 4, 6));
      v128.store(b + (<usize>i << 2), v128.shuffle<f32>(v0, v1, 1, 3, 5, 7));
    }
  }
  for (; i < n; i++) {
    const o = x + (<usize>i << 3);
    store<f32>(a + (<usize>i << 2), load<f32>(o));
    store<f32>(b + (<usize>i << 2), load<f32>(o, 4));
  }
}
