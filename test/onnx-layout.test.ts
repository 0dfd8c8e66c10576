// The ONNX importer's layout arithmetic (host/import/onnx-layout.ts): which ONNX reshapes and
// transposes of an NHWC image move no data, and that a channel shuffle costs exactly one permute.
// Checked against the definition: our memory = transpose(reshape(onnx value, dims), perm).
import { describe, expect, it } from 'vitest';
import { canonical, conversion, IMAGE_PERM, memoryOrder, ourShape, reshaped, transposed, type Layout } from '../host/import/onnx-layout';
import { transposeData } from '../host/import/onnx-fold';

// ONNX flat index of each of our positions, from the definition (independent of memoryOrder's
// shortcut only in that it is computed on explicit data).
const order = (l: Layout) => Array.from(transposeData(Float32Array.from({ length: l.dims.reduce((a, b) => a * b, 1) }, (_, i) => i), l.dims, l.perm));

// Applies a conversion plan to our memory: reshape to source, permute.
function apply(plan: { source: number[]; perm: number[] | null }, data: number[]): number[] {
  if (!plan.perm) return data;
  return Array.from(transposeData(data, plan.source, plan.perm));
}

describe('ONNX layouts', () => {
  const [c, h, w] = [6, 3, 2];
  const image = canonical([c, h, w], IMAGE_PERM);

  it('an NHWC image is [H, W, C] in our memory; its Flatten moves nothing and keeps the order', () => {
    expect(ourShape(image)).toEqual([h, w, c]);
    const flat = reshaped(image, [c * h * w])!;
    expect(order(flat)).toEqual(order(image));
    expect(Array.from(memoryOrder(flat))).toEqual(order(image));
  });

  it('channel shuffle (Reshape [g, C/g, H, W] -> Transpose -> Reshape [C, H, W]) is one rank-3 permute', () => {
    const g = 2;
    const split = reshaped(image, [g, c / g, h, w])!;
    const swapped = transposed(split, [1, 0, 2, 3]);
    const merged = reshaped(swapped, [c, h, w])!;
    expect(merged).not.toBeNull();
    // ONNX reference: element (ci, y, x) of the shuffled tensor is input channel (ci % g) * (C/g) + floor(ci / g)
    const plan = conversion(merged, image)!;
    expect(plan.perm).not.toBeNull();
    expect(plan.perm!.length).toBe(3);
    const input = order(image); // our memory of the input holds its ONNX indices
    const moved = apply(plan, input);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ci = 0; ci < c; ci++) {
      const src = (ci % g) * (c / g) + Math.floor(ci / g);
      expect(moved[(y * w + x) * c + ci]).toBe((src * h + y) * w + x);
    }
  });

  it('NCHW <-> NHWC transposes are relabellings; a reshape that splits H is too', () => {
    const nhwc = transposed(image, [1, 2, 0]);
    expect(conversion(nhwc, canonical([h, w, c]))!.perm).toBeNull();
    const splitH = reshaped(image, [c, h, 1, w])!;
    expect(conversion(splitH, canonical([c, h, 1, w], [1, 2, 3, 0]))!.perm).toBeNull();
  });

  it('a transpose the memory cannot express as a relabelling of the target is one permute', () => {
    const hwSwapped = transposed(image, [0, 2, 1]); // ONNX [C, W, H]
    const plan = conversion(hwSwapped, canonical([c, w, h], IMAGE_PERM))!;
    expect(plan.perm).toEqual([1, 0, 2]);
    expect(plan.source).toEqual([h, w, c]);
  });
});
