// ONNX's shape ops on computed tensors. Reshape, Flatten, Squeeze, Unsqueeze and Transpose change
// only the layout (onnx-layout.ts) unless the memory order cannot express the result, and then a
// single permute moves the data; Concat, Slice, Split, Gather and Pad act on the our-axis that holds
// the ONNX axis.
import { layers } from '../layers/index';
import type { Converter, OpFn, Value } from './onnx-convert';
import { axesOf, type FoldContext, normAxis, sliceRanges } from './onnx-fold';
import { IMAGE_PERM, type Layout, ourAxis, ourShape, sizeOf, transposed } from './onnx-layout';
import { L } from './onnx-layers';
import type { OnnxNode } from './onnx-proto';

const fold = (c: Converter, node: OnnxNode): FoldContext => ({
  input: (i: number) => (node.inputs[i] ? c.constant(node, i, 'axes') : undefined), shapeOf: () => undefined,
  attr: (n, f) => c.attr(node, n, f as never), fail: (w: string) => c.fail(node, w), opset: c.opset,
});

// ONNX axis (with the batch) -> per-sample axis.
function sampleAxis(c: Converter, node: OnnxNode, axis: number, rank: number): number {
  const a = normAxis(axis, rank + 1, (w) => c.fail(node, w));
  if (a === 0) throw c.fail(node, `axis ${axis} is the batch; edgetune layers act per sample`);
  return a - 1;
}

// v with ONNX axis `a` (per sample) as one of our axes: [value, our axis].
function single(c: Converter, node: OnnxNode, v: Value, a: number): [Value, number] {
  const j = ourAxis(v.layout, a);
  if (j !== null) return [{ ...v, t: c.exact(node, v) }, j];
  const w = c.inCanonical(node, v);
  return [w, ourAxis(w.layout, a)!];
}

const reshape: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const target = Array.from(c.constant(node, 1, 'shape').data);
  const allowZero = c.attr(node, 'allowzero', 0) === 1;
  const full = target.map((d, i) => (d === 0 && !allowZero ? (i === 0 ? NaN : x.shape[i - 1]) : d));
  // the first entry is the batch (0, -1, NaN from a Shape, or a number that the file fixed)
  if (full.length < 1) throw c.fail(node, `cannot reshape [N, ${x.shape}] to [${target}] keeping the batch first`);
  const rest = full.slice(1);
  if (rest.some((d) => Number.isNaN(d))) throw c.fail(node, `target shape [${target}] depends on the batch size beyond its first entry; not supported`);
  const size = sizeOf(x.shape);
  const known = sizeOf(rest.filter((d) => d !== -1));
  const resolved = rest.map((d) => (d === -1 ? size / known : d));
  const batchKept = Number.isNaN(full[0]) || full[0] === -1 || resolved.length === rest.length;
  if (!batchKept || !resolved.every((d) => Number.isInteger(d) && d > 0) || sizeOf(resolved) !== size) {
    throw c.fail(node, `cannot reshape [N, ${x.shape}] to [${target}] keeping the batch dimension first`);
  }
  c.set(node, c.reshapeValue(node, x, resolved));
};

const flatten: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const axis = normAxis(c.attr(node, 'axis', 1), x.shape.length + 2, (w) => c.fail(node, w));
  if (axis === 0) throw c.fail(node, 'Flatten with axis 0 merges the batch into the features; not supported');
  const v = c.reshapeValue(node, x, [sizeOf(x.shape.slice(0, axis - 1)), sizeOf(x.shape.slice(axis - 1))].slice(axis === 1 ? 1 : 0));
  // a flatten layer keeps the model readable (Keras's Flatten); the memory is unchanged
  const t = v.shape.length === 1 && v.t.shape.length > 1 ? c.apply(layers.flatten({ name: c.layerName(node) }), [v.t]) : v.t;
  c.set(node, { ...v, t });
};

const squeeze: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const given = axesOf(fold(c, node), 1);
  const axes = given ? given.map((a) => sampleAxis(c, node, a, x.shape.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (axes.some((a) => x.shape[a] !== 1)) throw c.fail(node, `cannot squeeze axes [${given}] of [N, ${x.shape}]`);
  c.set(node, c.reshapeValue(node, x, x.shape.filter((_, i) => !axes.includes(i))));
};

const unsqueeze: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const given = axesOf(fold(c, node), 1);
  if (!given) throw c.fail(node, 'no axes');
  const r = x.shape.length + given.length;
  const axes = given.map((a) => sampleAxis(c, node, a, r));
  const shape: number[] = [];
  for (let i = 0, j = 0; i < r; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]);
  c.set(node, c.reshapeValue(node, x, shape));
};

const transpose: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const r = x.shape.length + 1;
  const perm = c.attr<number[]>(node, 'perm', Array.from({ length: r }, (_, i) => r - 1 - i));
  if (perm.length !== r || perm[0] !== 0 || [...perm].sort().some((p, i) => p !== i)) {
    throw c.fail(node, `perm [${perm}] of a rank-${r} tensor must keep the batch (axis 0) first and list every axis once`);
  }
  const p = perm.slice(1).map((q) => q - 1);
  c.set(node, { t: x.t, shape: p.map((q) => x.shape[q]), layout: transposed(x.layout, p) });
};

const concat: OpFn = (c, node) => {
  const xs = node.inputs.filter((i) => i).map((i) => c.value(node, i));
  if (xs.length === 1) return c.set(node, xs[0]); // DenseNet's first layer concatenates one tensor
  const a = sampleAxis(c, node, c.attr(node, 'axis', 1), xs[0].shape.length);
  const [first, j] = single(c, node, xs[0], a);
  // the others in the first one's layout (its entries, the concatenated axis at its own size)
  const entry = first.layout.perm[j];
  const like = (v: Value): Layout => ({ ...first.layout, dims: first.layout.dims.map((d, i) => (i === entry ? v.shape[a] : d)) });
  const ts = [first.t, ...xs.slice(1).map((v) => c.relayout(node, v, like(v)).t)];
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((n, v) => n + v.shape[a], 0);
  const rank = first.layout.perm.length;
  const t = c.apply(layers.concatenate({ axis: j === rank - 1 ? -1 : j + 1, name: c.layerName(node) }), ts);
  c.set(node, { t, shape, layout: like({ ...first, shape }) });
};

// A static slice of our axes: begin/end/strides per our axis.
function sliceValue(c: Converter, node: OnnxNode, v: Value, ranges: [number, number, number][], index = 0, suffix = ''): void {
  const changed = ranges.flatMap(([s, e, st], a) => (s === 0 && e === v.shape[a] && st === 1 ? [] : [a]));
  if (!changed.length) return c.set(node, v, index);
  let x = v;
  for (const a of changed) if (ourAxis(x.layout, a) === null) x = c.inCanonical(node, x);
  const xt = c.exact(node, x);
  const ours = ourShape(x.layout);
  const begin = ours.map(() => 0);
  const end = [...ours];
  const strides = ours.map(() => 1);
  const shape = [...x.shape];
  for (const a of changed) {
    const [s, e, st] = ranges[a];
    if (st < 0) throw c.fail(node, `negative step ${st}: reversing an axis is not supported`);
    const j = ourAxis(x.layout, a)!;
    [begin[j], end[j], strides[j]] = [s, e, st];
    shape[a] = Math.max(Math.ceil((e - s) / st), 0);
    if (!shape[a]) throw c.fail(node, `an empty slice of axis ${a + 1}`);
  }
  const t = c.apply(L.slice({ begin, end, strides, name: c.layerName(node, suffix) }), [xt]);
  c.set(node, { t, shape, layout: { ...x.layout, dims: x.layout.dims.map((d, i) => (x.layout.axisOf[i] !== undefined && changed.includes(x.layout.axisOf[i]) ? shape[x.layout.axisOf[i]] : d)) } }, index);
}

const slice: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const full = sliceRanges({ ...fold(c, node), input: (i) => (node.inputs[i] ? c.constant(node, i, ['data', 'starts', 'ends', 'axes', 'steps'][i]) : undefined) }, [1, ...x.shape]);
  if (full[0][0] !== 0 || full[0][1] !== 1 || full[0][2] !== 1) {
    // a slice of the batch axis is only allowed as the whole axis (INT64 max ends)
    const [s, e, st] = full[0];
    if (!(s === 0 && st === 1 && e >= 1)) throw c.fail(node, 'slicing the batch axis is not supported');
  }
  sliceValue(c, node, x, full.slice(1));
};

const split: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const a = sampleAxis(c, node, c.attr(node, 'axis', 0), x.shape.length);
  const n = node.outputs.length;
  const given = c.opset >= 13 ? c.optionalConstant(node, 1, 'split') : undefined;
  const sizes = given ? Array.from(given.data) : c.attr<number[]>(node, 'split', []);
  const parts = sizes.length ? sizes : Array.from({ length: n }, (_, i) => Math.ceil(x.shape[a] / n) * (i + 1) > x.shape[a] ? x.shape[a] - Math.ceil(x.shape[a] / n) * i : Math.ceil(x.shape[a] / n));
  if (parts.length !== n || parts.reduce((s, p) => s + p, 0) !== x.shape[a]) throw c.fail(node, `split [${parts}] does not divide axis ${a + 1} of size ${x.shape[a]} into ${n} outputs`);
  const [v] = single(c, node, x, a);
  let at = 0;
  parts.forEach((p, i) => {
    const ranges = x.shape.map((d, k): [number, number, number] => (k === a ? [at, at + p, 1] : [0, d, 1]));
    sliceValue(c, node, v, ranges, i, `_${i}`);
    at += p;
  });
};

const gather: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const idx = c.constant(node, 1, 'indices');
  const a = sampleAxis(c, node, c.attr(node, 'axis', 0), x.shape.length);
  if (idx.dims.length > 1) throw c.fail(node, `indices of shape [${idx.dims}]: only a scalar or a list is supported`);
  const indices = Array.from(idx.data, (i) => (i < 0 ? i + x.shape[a] : i));
  if (indices.some((i) => !(i >= 0 && i < x.shape[a]))) throw c.fail(node, `indices [${Array.from(idx.data)}] out of range for axis ${a + 1} of size ${x.shape[a]}`);
  const [v, j] = single(c, node, x, a);
  const t = c.apply(L.gather({ indices, axis: j + 1, name: c.layerName(node) }), [v.t]);
  const shape = [...x.shape];
  shape[a] = indices.length;
  const entry = v.layout.perm[j];
  const g: Value = { t, shape, layout: { ...v.layout, dims: v.layout.dims.map((d, i) => (i === entry ? indices.length : d)) } };
  c.set(node, idx.dims.length === 0 ? c.reshapeValue(node, g, shape.filter((_, k) => k !== a)) : g);
};

const pad: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const r = x.shape.length + 1;
  const pads = c.opset >= 11 ? Array.from(c.constant(node, 1, 'pads').data) : c.attr<number[]>(node, 'pads', []);
  const value = c.opset >= 11 ? (c.optionalConstant(node, 2, 'constant_value')?.data[0] ?? 0) : c.attr(node, 'value', 0);
  const axesT = c.opset >= 18 ? c.optionalConstant(node, 3, 'axes') : undefined;
  const axes = axesT ? Array.from(axesT.data, (ax) => normAxis(ax, r, (w) => c.fail(node, w))) : Array.from({ length: r }, (_, i) => i);
  if (pads.length !== 2 * axes.length || pads.some((p) => !Number.isInteger(p))) throw c.fail(node, `pads [${pads}] must be ${2 * axes.length} integers`);
  const mode = c.attr<string>(node, 'mode', 'constant');
  if (!['constant', 'reflect', 'edge'].includes(mode)) throw c.fail(node, `mode '${mode}' is not supported`);
  if (pads.some((p) => p < 0)) throw c.fail(node, 'negative pads (cropping) are not supported');
  const per = x.shape.map(() => [0, 0] as [number, number]);
  axes.forEach((ax, i) => {
    if (ax === 0) { if (pads[i] || pads[i + axes.length]) throw c.fail(node, 'padding the batch axis is not supported'); return; }
    per[ax - 1] = [pads[i], pads[i + axes.length]];
  });
  let v = x;
  for (let a = 0; a < per.length; a++) if ((per[a][0] || per[a][1]) && ourAxis(v.layout, a) === null) v = c.inCanonical(node, v);
  const ours = ourShape(v.layout);
  const paddings = ours.map((_, j) => {
    const e = v.layout.perm[j];
    return v.layout.axisOf.filter((ax) => ax === v.layout.axisOf[e]).length === 1 ? per[v.layout.axisOf[e]] : [0, 0] as [number, number];
  });
  const shape = x.shape.map((d, a) => d + per[a][0] + per[a][1]);
  const name = c.layerName(node);
  const spatialZero = mode === 'constant' && value === 0 && ours.length === 3 && paddings[2][0] === 0 && paddings[2][1] === 0;
  const layer = spatialZero ? layers.zeroPadding2d({ padding: [paddings[0], paddings[1]], name })
    : L.pad({ paddings, ...(mode === 'constant' ? { constantValue: value } : {}), mode: mode as 'constant' | 'reflect' | 'edge', name });
  const t = c.apply(layer, [c.exact(node, v)]);
  c.set(node, { t, shape, layout: { ...v.layout, dims: v.layout.dims.map((d, i) => d + per[v.layout.axisOf[i]][0] + per[v.layout.axisOf[i]][1]) } });
};

const depthToSpace: OpFn = (c, node) => {
  const x = c.image(node, c.value(node, node.inputs[0]));
  const b = c.attr(node, 'blocksize', 0);
  const [ch, h, w] = x.shape;
  const name = c.layerName(node);
  if (node.op === 'DepthToSpace') {
    if (!(b > 0) || ch % (b * b)) throw c.fail(node, `blocksize ${b} does not divide ${ch} channels into blocks`);
    const mode = c.attr<string>(node, 'mode', 'DCR');
    if (mode !== 'DCR' && mode !== 'CRD') throw c.fail(node, `mode '${mode}' is not DCR or CRD`);
    const t = c.apply(L.depthToSpace({ blockSize: b, mode, name }), [x.t]);
    c.set(node, c.make(t, [ch / (b * b), h * b, w * b], IMAGE_PERM));
  } else {
    if (!(b > 0) || h % b || w % b) throw c.fail(node, `blocksize ${b} does not divide ${h}x${w}`);
    const t = c.apply(L.spaceToDepth({ blockSize: b, name }), [x.t]);
    c.set(node, c.make(t, [ch * b * b, h / b, w / b], IMAGE_PERM));
  }
};

// Expand / Tile of a computed tensor: a tile layer in canonical order.
const tile: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const arg = Array.from(c.constant(node, 1, node.op === 'Tile' ? 'repeats' : 'shape').data);
  const r = Math.max(arg.length - 1, x.shape.length);
  const xs = [...Array(r - x.shape.length).fill(1), ...x.shape];
  const target = node.op === 'Tile' ? xs.map((d, i) => d * arg[i + 1]) : xs.map((d, i) => { const t = arg[arg.length - r + i] ?? 1; return d === 1 ? t : d; });
  if (node.op === 'Tile' && arg[0] !== 1) throw c.fail(node, 'tiling the batch axis is not supported');
  const v = c.inCanonical(node, c.reshapeValue(node, x, xs), xs.length === 3 ? IMAGE_PERM : xs.map((_, i) => i));
  const multiples = v.layout.perm.map((a) => target[a] / xs[a]);
  if (multiples.some((m) => !Number.isInteger(m) || m < 1)) throw c.fail(node, `cannot expand [N, ${x.shape}] to [${arg}]`);
  const t = multiples.every((m) => m === 1) ? v.t : c.apply(L.tile({ multiples, name: c.layerName(node) }), [v.t]);
  c.set(node, c.make(t, target, v.layout.perm));
};

export const SHAPE_OPS: Record<string, OpFn> = {
  Reshape: reshape, Flatten: flatten, Squeeze: squeeze, Unsqueeze: unsqueeze, Transpose: transpose, Concat: concat, Slice: slice, Split: split,
  Gather: gather, Pad: pad, DepthToSpace: depthToSpace, SpaceToDepth: depthToSpace, Expand: tile, Tile: tile,
};
