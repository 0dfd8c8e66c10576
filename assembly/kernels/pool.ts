// Pooling, NHWC, Keras/TensorFlow semantics. f32 (argmax i32); pointers are byte offsets.
//
// Geometry as in assembly/kernels/conv.ts, without dilation: x (B, H, W, C), y (B, OH, OW, C); window
// KH x KW, strides SH, SW; output (oh, ow), tap (kh, kw) reads ih = oh*SH - PT + kh, iw = ow*SW - PL + kw.
// Padded positions take no part: a max never comes from padding, and an average divides by the number
// of window positions inside the input (TF's 'same' pooling; the _include_pad variants count the
// padding as well). A window with no position inside the input (impossible with TF's padding rule
// and with the host's checks on explicit pads) gives 0, and argmax -1.
// Every kernel is vectorised over channels (f32x4) with a scalar tail.
// Backward kernels take `accumulate` (0 = write, 1 = add); dx == 0 does nothing.
import { fill_f32 } from './elementwise';
import { maxpool_backward_split, maxpool_forward_split } from './threads-train';

// @ts-ignore: decorator
@inline
function firstTap(i0: i32, k: i32): i32 {
  return i0 >= 0 ? 0 : min(k, -i0);
}

// @ts-ignore: decorator
@inline
function endTap(i0: i32, size: i32, k: i32, lo: i32): i32 {
  return max(lo, min(k, size - i0));
}

// max_pool2d_forward without argmax. best = pmax(best, v) is `v > best ? v : best`, the argmax
// path's comparison, so the same value wins (a NaN only when it comes first; of +-0, the first).
// Output rows row0 .. row1-1 (row = n*OH + oh): the whole call, or a tile of the threads' split by
// rows (threads-train.ts maxpool_forward_split, batch 1), each row computed the same either way.
export function max_pool_values_rows(y: usize, x: usize, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, row0: i32, row1: i32): void {
  const pixel = <usize>C << 2;
  const rowBytes = <usize>W * pixel;
  let yo = y + <usize>row0 * <usize>OW * pixel;
  for (let r = row0; r < row1; r++) {
    const n = r / OH, oh = r % OH;
    const ih0 = oh * SH - PT;
    const khLo = firstTap(ih0, KH), khHi = endTap(ih0, H, KH, khLo);
    for (let ow = 0; ow < OW; ow++) {
      const iw0 = ow * SW - PL;
      const kwLo = firstTap(iw0, KW), kwHi = endTap(iw0, W, KW, kwLo);
      if (khLo == khHi || kwLo == kwHi) {
        fill_f32(yo, 0, C);
      } else if (KH == 3 && KW == 3 && khHi - khLo == 3 && kwHi - kwLo == 3) {
        maxWindow3x3(yo, x + (<usize>(((n * H + ih0) * W + iw0) * C) << 2), C, pixel, rowBytes);
      } else {
        const first = x + (<usize>(((n * H + ih0 + khLo) * W + iw0 + kwLo) * C) << 2);
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          for (; c + 4 <= C; c += 4) {
            const o = <usize>c << 2;
            let best = v128.load(first + o);
            let row = first + o;
            for (let kh = khLo; kh < khHi; kh++) {
              let p = row;
              for (let kw = kwLo; kw < kwHi; kw++) {
                best = f32x4.pmax(best, v128.load(p));
                p += pixel;
              }
              row += rowBytes;
            }
            v128.store(yo + o, best);
          }
        }
        for (; c < C; c++) {
          const o = <usize>c << 2;
          let best = load<f32>(first + o);
          let row = first + o;
          for (let kh = khLo; kh < khHi; kh++) {
            let p = row;
            for (let kw = kwLo; kw < kwHi; kw++) {
              const v = load<f32>(p);
              if (v > best) best = v;
              p += pixel;
            }
            row += rowBytes;
          }
          store<f32>(yo + o, best);
        }
      }
      yo += pixel;
    }
  }
}

// y (C) = the max of a whole 3x3 window (first tap at `first`, taps `pixel` and `rowBytes`
// apart): max_pool_values_rows' loops unrolled, the same (kh, kw) order of pmax, so the same bits.
function maxWindow3x3(y: usize, first: usize, C: i32, pixel: usize, rowBytes: usize): void {
  const p2 = pixel << 1;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= C; c += 4) {
      const r0 = first + (<usize>c << 2), r1 = r0 + rowBytes, r2 = r1 + rowBytes;
      let best = v128.load(r0);
      best = f32x4.pmax(best, v128.load(r0 + pixel));
      best = f32x4.pmax(best, v128.load(r0 + p2));
      best = f32x4.pmax(best, v128.load(r1));
      best = f32x4.pmax(best, v128.load(r1 + pixel));
      best = f32x4.pmax(best, v128.load(r1 + p2));
      best = f32x4.pmax(best, v128.load(r2));
      best = f32x4.pmax(best, v128.load(r2 + pixel));
      best = f32x4.pmax(best, v128.load(r2 + p2));
      v128.store(y + (<usize>c << 2), best);
    }
  }
  for (; c < C; c++) {
    let row = first + (<usize>c << 2);
    let best = load<f32>(row);
    for (let kh = 0; kh < 3; kh++, row += rowBytes) {
      for (let kw = kh == 0 ? 1 : 0; kw < 3; kw++) {
        const v = load<f32>(row + <usize>kw * pixel);
        if (v > best) best = v;
      }
    }
    store<f32>(y + (<usize>c << 2), best);
  }
}

// y (B, OH, OW, C) = max of x (B, H, W, C) over each window; argmax (B, OH, OW, C) i32 = flat index
// ((b*H + ih)*W + iw)*C + c of the input element that won (the first one in (kh, kw) order on ties),
// so that the backward pass needs no x. A NaN in the window wins only if it comes first.
// argmax == 0 (inference: no gradient flows back): the maxima only, the same values.
export function max_pool2d_forward(y: usize, argmax: usize, x: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  // With a thread pool attached, whole images go to the threads (threads-train.ts); at inference
  // with fewer images than two a thread, ranges of output rows.
  if (ASC_FEATURE_THREADS && maxpool_forward_split(y, argmax, x, B, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW)) return;
  if (argmax == 0) {
    max_pool_values_rows(y, x, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW, 0, B * OH);
    return;
  }
  const rowBytes = <usize>C << 2;
  let yo = y;
  let ao = argmax;
  for (let n = 0; n < B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT;
      const khLo = firstTap(ih0, KH), khHi = endTap(ih0, H, KH, khLo);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL;
        const kwLo = firstTap(iw0, KW), kwHi = endTap(iw0, W, KW, kwLo);
        if (khLo == khHi || kwLo == kwHi) {
          fill_f32(yo, 0, C);
          for (let c = 0; c < C; c++) store<i32>(ao + (<usize>c << 2), -1);
        } else {
          // Index of channel 0 at the first tap; later taps are offsets from it.
          const first = ((n * H + ih0 + khLo) * W + iw0 + kwLo) * C;
          let c = 0;
          if (ASC_FEATURE_SIMD) {
            const lanes = i32x4(0, 1, 2, 3);
            for (; c + 4 <= C; c += 4) {
              let best = v128.load(x + (<usize>(first + c) << 2));
              let arg = i32x4.add(i32x4.splat(first + c), lanes);
              for (let kh = khLo; kh < khHi; kh++) {
                for (let kw = kwLo; kw < kwHi; kw++) {
                  const idx = first + ((kh - khLo) * W + kw - kwLo) * C + c;
                  const v = v128.load(x + (<usize>idx << 2));
                  const win = f32x4.gt(v, best);
                  best = v128.bitselect(v, best, win);
                  arg = v128.bitselect(i32x4.add(i32x4.splat(idx), lanes), arg, win);
                }
              }
              v128.store(yo + (<usize>c << 2), best);
              v128.store(ao + (<usize>c << 2), arg);
            }
          }
          for (; c < C; c++) {
            let bestIdx = first + c;
            let best = load<f32>(x + (<usize>bestIdx << 2));
            for (let kh = khLo; kh < khHi; kh++) {
              for (let kw = kwLo; kw < kwHi; kw++) {
                const idx = first + ((kh - khLo) * W + kw - kwLo) * C + c;
                const v = load<f32>(x + (<usize>idx << 2));
                if (v > best) {
                  best = v;
                  bestIdx = idx;
                }
              }
            }
            store<f32>(yo + (<usize>c << 2), best);
            store<i32>(ao + (<usize>c << 2), bestIdx);
          }
        }
        yo += rowBytes;
        ao += rowBytes;
      }
    }
  }
}

// dx (inputCount) [+]= scatter of dy (count) to the input elements argmax (count, i32) names.
// Entries of argmax below 0 (empty windows) are skipped, and so are entries past inputCount: argmax
// is data, and the plan verifier can only bound the buffers, so the scatter bounds itself.
// `images` (0: not known) is the batch both counts cover, for the threads' split by images.
export function max_pool2d_backward(dx: usize, dy: usize, argmax: usize, count: i32, inputCount: i32, accumulate: i32, images: i32): void {
  if (dx == 0) return;
  // With a thread pool attached, images or ranges of dx go to the threads (threads-train.ts).
  if (ASC_FEATURE_THREADS && maxpool_backward_split(dx, dy, argmax, count, inputCount, accumulate, images)) return;
  max_pool2d_backward_range(dx, dy, argmax, count, 0, inputCount, accumulate);
}

// max_pool2d_backward into dx elements d0 .. d1-1 only: every argmax entry is read, the ones
// naming another range are skipped, and each element gets its additions in the whole call's order.
export function max_pool2d_backward_range(dx: usize, dy: usize, argmax: usize, count: i32, d0: i32, d1: i32, accumulate: i32): void {
  if (!accumulate) fill_f32(dx + (<usize>d0 << 2), 0, d1 - d0);
  const span = <u32>(d1 - d0);
  for (let i = 0; i < count; i++) {
    const at = load<i32>(argmax + (<usize>i << 2));
    if (<u32>(at - d0) >= span) continue;
    const p = dx + (<usize>at << 2);
    store<f32>(p, load<f32>(p) + load<f32>(dy + (<usize>i << 2)));
  }
}

// y (B, OH, OW, C) = mean of x (B, H, W, C) over the window positions inside the input.
export function avg_pool2d_forward(y: usize, x: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  avgPoolForward(y, x, B, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW, 0, 0, 0);
}

// As avg_pool2d_forward, but the divisor counts the padded positions too (count_include_pad):
// the window clipped to the input plus its declared bottom and right padding PB, PR, which a
// ceil-mode window can overhang (PyTorch's and ONNX's divisor).
export function avg_pool2d_forward_include_pad(y: usize, x: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, PB: i32, PR: i32): void {
  avgPoolForward(y, x, B, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW, PB, PR, 1);
}

// The divisor of the window at (ih0, iw0): its taps inside the input, or with includePad inside
// the input and its padding (at least 1: the window starts before the input's end).
// @ts-ignore: decorator
@inline
function windowDivisor(ih0: i32, iw0: i32, taps: i32, H: i32, W: i32, KH: i32, KW: i32, PB: i32, PR: i32, includePad: i32): f32 {
  if (!includePad) return <f32>taps;
  return <f32>max(1, (min(ih0 + KH, H + PB) - ih0) * (min(iw0 + KW, W + PR) - iw0));
}

function avgPoolForward(y: usize, x: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, PB: i32, PR: i32, includePad: i32): void {
  const rowBytes = <usize>C << 2;
  let yo = y;
  for (let n = 0; n < B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT;
      const khLo = firstTap(ih0, KH), khHi = endTap(ih0, H, KH, khLo);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL;
        const kwLo = firstTap(iw0, KW), kwHi = endTap(iw0, W, KW, kwLo);
        const count = (khHi - khLo) * (kwHi - kwLo);
        if (count == 0) {
          fill_f32(yo, 0, C);
        } else {
          const first = x + (<usize>(((n * H + ih0 + khLo) * W + iw0 + kwLo) * C) << 2);
          const divisor = windowDivisor(ih0, iw0, count, H, W, KH, KW, PB, PR, includePad);
          let c = 0;
          if (ASC_FEATURE_SIMD) {
            const dv = f32x4.splat(divisor);
            for (; c + 4 <= C; c += 4) {
              let s = f32x4.splat(0);
              for (let kh = 0; kh < khHi - khLo; kh++) {
                let p = first + (<usize>(kh * W * C + c) << 2);
                for (let kw = kwLo; kw < kwHi; kw++) {
                  s = f32x4.add(s, v128.load(p));
                  p += rowBytes;
                }
              }
              v128.store(yo + (<usize>c << 2), f32x4.div(s, dv));
            }
          }
          for (; c < C; c++) {
            let s: f32 = 0;
            for (let kh = 0; kh < khHi - khLo; kh++) {
              let p = first + (<usize>(kh * W * C + c) << 2);
              for (let kw = kwLo; kw < kwHi; kw++) {
                s += load<f32>(p);
                p += rowBytes;
              }
            }
            store<f32>(yo + (<usize>c << 2), s / divisor);
          }
        }
        yo += rowBytes;
      }
    }
  }
}

// dx (B, H, W, C) [+]= dy (B, OH, OW, C) / count, spread over each window's positions inside the input.
export function avg_pool2d_backward(dx: usize, dy: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, accumulate: i32): void {
  avgPoolBackward(dx, dy, B, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW, 0, 0, 0, accumulate);
}

// The backward pass of avg_pool2d_forward_include_pad.
export function avg_pool2d_backward_include_pad(dx: usize, dy: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, PB: i32, PR: i32, accumulate: i32): void {
  avgPoolBackward(dx, dy, B, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW, PB, PR, 1, accumulate);
}

function avgPoolBackward(dx: usize, dy: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, PB: i32, PR: i32, includePad: i32, accumulate: i32): void {
  if (dx == 0) return;
  if (!accumulate) fill_f32(dx, 0, B * H * W * C);
  const rowBytes = <usize>C << 2;
  let dyo = dy;
  for (let n = 0; n < B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT;
      const khLo = firstTap(ih0, KH), khHi = endTap(ih0, H, KH, khLo);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL;
        const kwLo = firstTap(iw0, KW), kwHi = endTap(iw0, W, KW, kwLo);
        const count = (khHi - khLo) * (kwHi - kwLo);
        if (count > 0) {
          const first = dx + (<usize>(((n * H + ih0 + khLo) * W + iw0 + kwLo) * C) << 2);
          const divisor = windowDivisor(ih0, iw0, count, H, W, KH, KW, PB, PR, includePad);
          let c = 0;
          if (ASC_FEATURE_SIMD) {
            const dv = f32x4.splat(divisor);
            for (; c + 4 <= C; c += 4) {
              const g = f32x4.div(v128.load(dyo + (<usize>c << 2)), dv);
              for (let kh = 0; kh < khHi - khLo; kh++) {
                let p = first + (<usize>(kh * W * C + c) << 2);
                for (let kw = kwLo; kw < kwHi; kw++) {
                  v128.store(p, f32x4.add(v128.load(p), g));
                  p += rowBytes;
                }
              }
            }
          }
          for (; c < C; c++) {
            const g = load<f32>(dyo + (<usize>c << 2)) / divisor;
            for (let kh = 0; kh < khHi - khLo; kh++) {
              let p = first + (<usize>(kh * W * C + c) << 2);
              for (let kw = kwLo; kw < kwHi; kw++) {
                store<f32>(p, load<f32>(p) + g);
                p += rowBytes;
              }
            }
          }
        }
        dyo += rowBytes;
      }
    }
  }
}

// y (B, C) = mean of x (B, HW, C) over its HW positions.
export function global_avg_pool_forward(y: usize, x: usize, B: i32, HW: i32, C: i32): void {
  const rowBytes = <usize>C << 2;
  const divisor = <f32>HW;
  for (let n = 0; n < B; n++) {
    const xb = x + <usize>(n * HW) * rowBytes;
    const yb = y + <usize>n * rowBytes;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const dv = f32x4.splat(divisor);
      // Four channel groups at once: four independent sums per position, one pass down the rows.
      for (; c + 16 <= C; c += 16) {
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        let p = xb + (<usize>c << 2);
        for (let i = 0; i < HW; i++) {
          s0 = f32x4.add(s0, v128.load(p));
          s1 = f32x4.add(s1, v128.load(p, 16));
          s2 = f32x4.add(s2, v128.load(p, 32));
          s3 = f32x4.add(s3, v128.load(p, 48));
          p += rowBytes;
        }
        const q = yb + (<usize>c << 2);
        v128.store(q, f32x4.div(s0, dv));
        v128.store(q, f32x4.div(s1, dv), 16);
        v128.store(q, f32x4.div(s2, dv), 32);
        v128.store(q, f32x4.div(s3, dv), 48);
      }
      for (; c + 4 <= C; c += 4) {
        let s = f32x4.splat(0);
        let p = xb + (<usize>c << 2);
        for (let i = 0; i < HW; i++) {
          s = f32x4.add(s, v128.load(p));
          p += rowBytes;
        }
        v128.store(yb + (<usize>c << 2), f32x4.div(s, dv));
      }
    }
    for (; c < C; c++) {
      let s: f32 = 0;
      let p = xb + (<usize>c << 2);
      for (let i = 0; i < HW; i++) {
        s += load<f32>(p);
        p += rowBytes;
      }
      store<f32>(yb + (<usize>c << 2), s / divisor);
    }
  }
}

// dx (B, HW, C) [+]= dy (B, C) / HW at every position.
export function global_avg_pool_backward(dx: usize, dy: usize, B: i32, HW: i32, C: i32, accumulate: i32): void {
  if (dx == 0) return;
  const rowBytes = <usize>C << 2;
  const divisor = <f32>HW;
  for (let n = 0; n < B; n++) {
    const dyb = dy + <usize>n * rowBytes;
    let p = dx + <usize>(n * HW) * rowBytes;
    for (let i = 0; i < HW; i++) {
      let c = 0;
      if (ASC_FEATURE_SIMD) {
        const dv = f32x4.splat(divisor);
        for (; c + 4 <= C; c += 4) {
          const q = p + (<usize>c << 2);
          const g = f32x4.div(v128.load(dyb + (<usize>c << 2)), dv);
          v128.store(q, accumulate ? f32x4.add(v128.load(q), g) : g);
        }
      }
      for (; c < C; c++) {
        const q = p + (<usize>c << 2);
        const g = load<f32>(dyb + (<usize>c << 2)) / divisor;
        store<f32>(q, accumulate ? load<f32>(q) + g : g);
      }
      p += rowBytes;
    }
  }
}
