// The taps of a dilated convolution window that fall inside the input (conv.ts, depthwise.ts).

// First tap t (of K, spacing D) with i0 + t*D >= 0.
// @ts-ignore: decorator
@inline
export function firstTap(i0: i32, d: i32, k: i32): i32 {
  return i0 >= 0 ? 0 : min(k, (d - 1 - i0) / d);
}

// One past the last tap t (of K, spacing D) with i0 + t*D < size; never below `lo`.
// @ts-ignore: decorator
@inline
export function endTap(i0: i32, d: i32, size: i32, k: i32, lo: i32): i32 {
  return i0 >= size ? lo : max(lo, min(k, (size - i0 + d - 1) / d));
}
