// Lowering of the shape and re-layout layers onto the strided N-D copy (op nd_copy,
// assembly/kernels/nd-copy.ts). A layer describes its forward as a re-layout: an optional fill of
// the output, then copy boxes, each writing part of the output from the input or from parts of the
// output already written (pad's mirrored borders). Its backward is the transpose, derived here:
// the boxes in reverse order with the two sides swapped, accumulating.
import { sizeOf } from './graph';
import { ND_AXES } from './op-table';
import { type BackwardArgs, type ForwardArgs, type NodeValue, type ProgramBuilder, type Ref, inputGrad } from './program';

// One side of a box: element (i_0, ...) at offset + sum_k i_k * strides[k] floats into a sample.
// Strides may be negative (walking an axis backwards) or 0 (reading one element repeatedly).
export interface Side { offset: number; strides: number[] }

// y [+]= x over the box `dims` (per sample; the batch is added as the outermost axis).
export interface CopyBox { dims: number[]; y: Side; x: Side }

// A box of the forward re-layout: `from` says whether x is the layer's input or its output.
export interface CopyStep extends CopyBox { from: 'input' | 'output' }

export interface Relayout {
  fill?: number; // the output starts as this value (pad 'constant'); else the boxes cover it
  steps: CopyStep[];
  // The input boxes together read every input element exactly once (a permutation of the input's
  // elements): the backward then writes the input gradient without zeroing it first.
  readsInputOnce: boolean;
}

export function rowMajor(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let k = shape.length - 1, step = 1; k >= 0; k--) { s[k] = step; step *= shape[k]; }
  return s;
}

// Drops axes of one element and merges neighbours that are contiguous on both sides, so that a
// transpose of the inner axes only keeps the innermost run contiguous for the kernel's fast path.
function simplify(box: CopyBox): CopyBox {
  const dims: number[] = [], ys: number[] = [], xs: number[] = [];
  box.dims.forEach((d, k) => {
    if (d === 1) return;
    const last = dims.length - 1;
    if (last >= 0 && ys[last] === box.y.strides[k] * d && xs[last] === box.x.strides[k] * d) {
      dims[last] *= d;
      ys[last] = box.y.strides[k];
      xs[last] = box.x.strides[k];
      return;
    }
    dims.push(d); ys.push(box.y.strides[k]); xs.push(box.x.strides[k]);
  });
  if (dims.length === 0) return { dims: [1], y: { offset: box.y.offset, strides: [1] }, x: { offset: box.x.offset, strides: [1] } };
  return { dims, y: { offset: box.y.offset, strides: ys }, x: { offset: box.x.offset, strides: xs } };
}

export const at = (ref: Ref, floats: number): Ref => (typeof ref === 'number' ? [ref, 4 * floats] : [ref[0], ref[1] + 4 * floats]);

// Emits y [+]= x over the box for every sample of the batch; ySample and xSample are the floats
// per sample of each side's buffer (its batch stride). Boxes of more per-sample axes than the op
// takes run as several ops over their outermost axis.
export function emitNdCopy(p: ProgramBuilder, layer: string, y: Ref, x: Ref, box: CopyBox, ySample: number, xSample: number, accumulate: number): void {
  const b = simplify(box);
  if (b.dims.length > ND_AXES - 1) {
    for (let i = 0; i < b.dims[0]; i++) {
      const inner = (s: Side): Side => ({ offset: s.offset + i * s.strides[0], strides: s.strides.slice(1) });
      emitNdCopy(p, layer, y, x, { dims: b.dims.slice(1), y: inner(b.y), x: inner(b.x) }, ySample, xSample, accumulate);
    }
    return;
  }
  const pad = ND_AXES - 1 - b.dims.length;
  const dims = [...new Array<number>(pad).fill(1), ...b.dims];
  const args: Record<string, number> = { accumulate };
  dims.forEach((d, k) => { args[`d${k + 1}`] = d; });
  // The kernel takes each side's lowest address: a backward axis starts (d - 1) * |s| further on.
  const side = (s: Side, sample: number, name: string): number => {
    const strides = [sample, ...new Array<number>(pad).fill(0), ...s.strides];
    strides.forEach((v, k) => { args[`${name}${k}`] = v; });
    return s.offset + s.strides.reduce((t, v, k) => t + (v < 0 ? (b.dims[k] - 1) * v : 0), 0);
  };
  const yLow = side(b.y, ySample, 'ys');
  const xLow = side(b.x, xSample, 'xs');
  p.emit('nd_copy', layer, { y: at(y, yLow), x: at(x, xLow) }, args);
}

// The forward of a re-layout layer: its output region, filled and copied into.
export function relayoutForward({ ctx, p, node, layer, x, count, shape }: ForwardArgs, r: Relayout): NodeValue {
  const y = p.activation(node.name, count * ctx.batch);
  if (r.fill !== undefined) p.emit('fill', layer.name, { y }, { value: r.fill, count, perSample: 1 });
  const xCount = sizeOf(x.shape);
  for (const s of r.steps) {
    if (s.from === 'input') emitNdCopy(p, layer.name, y, x.region, s, count, xCount, 0);
    else emitNdCopy(p, layer.name, y, y, s, count, count, 0);
  }
  return { region: y, shape };
}

const swap = (s: CopyStep): CopyBox => ({ dims: s.dims, y: s.x, x: s.y });

// The backward: dy's copy takes the output boxes' contributions back in reverse order (each adds
// what a box wrote to where it read it), then the input boxes scatter it into dx, adding.
export function relayoutBackward(a: BackwardArgs, r: Relayout): void {
  const { ctx, p, node, layer, x, count } = a;
  if (!a.needsInputGrad) return;
  let g: number = a.dy;
  const outputSteps = r.steps.filter((s) => s.from === 'output');
  if (outputSteps.length > 0) {
    g = p.activation(`d${node.name} (folded)`, count * ctx.batch);
    p.emit('copy', layer.name, { y: g, x: a.dy }, { count, accumulate: 0 });
    for (const s of [...outputSteps].reverse()) emitNdCopy(p, layer.name, g, g, swap(s), count, count, 1);
  }
  const xCount = sizeOf(x.shape);
  const dx = inputGrad(a);
  if (!r.readsInputOnce && !dx.accumulate) p.emit('fill', layer.name, { y: dx.region }, { value: 0, count: xCount, perSample: 1 });
  const accumulate = r.readsInputOnce ? dx.accumulate : 1;
  for (const s of r.steps) if (s.from === 'input') emitNdCopy(p, layer.name, dx.region, g, swap(s), xCount, count, accumulate);
}
