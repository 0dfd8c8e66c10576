// The taps of a dilated convolution window that fall inside the input (conv.ts, depthwise.ts).
// Spacing 1 (no dilation) takes no division: an im2col row computes both ends for every output
// position, and two integer divisions a position were most of the bench CNN's first-layer unfold
// (50176 positions of 9 floats).

// First tap t (of K, spacing D) with i0 + t*D >= 0.
// @ts-ignore: decorator
@inline
export function firstTap(i0: i32, d: i32, k: i32): i32 {
  return i0 >= 0 ? 0 : min(k, d == 1 ? -i0 : (d - 1 - i0) / d);
}

// One past the last tap t (of K, spacing D) with i0 + t*D < size; never below `lo`.
// @ts-ignore: decorator
@inline
export function endTap(i0: i32, d: i32, size: i32, k: i32, lo: i32): i32 {
  return i0 >= size ? lo : max(lo, min(k, d == 1 ? size - i0 : (size - i0 + d - 1) / d));
}
