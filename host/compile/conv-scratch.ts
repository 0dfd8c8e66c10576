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
