// Output sizes, padding and scratch for the convolution kernels (assembly/kernels/conv.ts), so that the
// planner can lay them out. Geometry convention: see the header of assembly/kernels/conv.ts.
import { callSize } from './size-expr';

export type Padding = 'same' | 'valid';

// TensorFlow's rule for one spatial axis: 'valid' -> out = floor((I - (K-1)*D - 1)/S) + 1 (0 when the
// dilated kernel does not fit), no padding; 'same' -> out = ceil(I/S), total padding
// max((out-1)*S + (K-1)*D + 1 - I, 0), of which floor(total/2) goes before (top/left), the rest after.
export function conv2dOutputSize(inSize: number, k: number, stride: number, dilation: number, padding: Padding): { out: number; padBefore: number } {
  const span = (k - 1) * dilation + 1;
  if (padding === 'valid') {
    return { out: inSize >= span ? Math.floor((inSize - span) / stride) + 1 : 0, padBefore: 0 };
  }
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + span - inSize, 0);
  return { out, padBefore: Math.floor(total / 2) };
}

// Explicit padding of one axis: [before, after] rows or columns of zeros.
export type AxisPads = readonly [number, number];

// One spatial axis of a windowed layer with 'valid', 'same' or explicit [before, after] padding.
// Explicit pads: out = floor((I + before + after - span)/S) + 1; with ceilMode, PyTorch's rule:
// ceil instead of floor, then one fewer if the last window would start past the input and its
// before-padding ((out-1)*S >= I + before). padAfter is the padding the caller declared ('same':
// total - before); the kernels need only padBefore and out, and read outside the input as absent.
export function windowAxis(inSize: number, k: number, stride: number, dilation: number, padding: Padding | AxisPads, ceilMode = false):
  { out: number; padBefore: number; padAfter: number } {
  const span = (k - 1) * dilation + 1;
  if (typeof padding === 'string') {
    const { out, padBefore } = conv2dOutputSize(inSize, k, stride, dilation, padding);
    const total = padding === 'same' ? Math.max((out - 1) * stride + span - inSize, 0) : 0;
    if (padding === 'valid' && ceilMode) return windowAxis(inSize, k, stride, dilation, [0, 0], true);
    return { out, padBefore, padAfter: total - padBefore };
  }
  const [before, after] = padding;
  const room = inSize + before + after - span;
  if (room < 0) return { out: 0, padBefore: before, padAfter: after };
  let out = Math.floor((room + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= inSize + before) out--;
  return { out, padBefore: before, padAfter: after };
}

// The filter gradient's fixed partial sums and its unfold shares (one a thread the host allows):
// FILTER_PARTS and FILTER_SHARES of assembly/kernels/conv-filter-parts.ts.
export const FILTER_PARTS = 8;
export const FILTER_SHARES = 8;

// Bytes of the im2col buffer `cols`: chunkRows output positions by KH*KW*C patch values.
export function convColsBytes(chunkRows: number, KH: number, KW: number, C: number): number {
  return callSize('convCols', [chunkRows, KH, KW, C]);
}

// Bytes of the GEMM `pack` scratch that conv2d_forward_fused, conv2d_backward_filter and
// conv2d_backward_input need with this chunkRows: the largest of their three products,
// (rows, F, K), (K, F, rows) and (rows, K, F), K = KH*KW*C. At most 132 KiB. Both formulas are
// SIZE_FUNCTIONS in host/compile/size-expr.ts, which the WASI plan verifier runs too.
export function conv2dPackBytes(chunkRows: number, KH: number, KW: number, C: number, F: number): number {
  return callSize('convPack', [chunkRows, KH, KW, C, F]);
}
