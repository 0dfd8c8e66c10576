// TF.js graph import of the shape ops (StridedSlice with every mask, Slice, Pad on any axis,
// MirrorPad, ConcatV2 on any axis, Pack, Unpack, Split, SplitV, GatherV2, GatherNd, Transpose, Tile,
// BroadcastTo, DepthToSpace; Unpack and Squeeze of a batch fixed to 1), one small graph per case, against
// tf.loadGraphModel.
import { describe, expect, it } from 'vitest';
import { importTfjsGraphModel, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { GraphBuilder, int, ints, relDiff, str, tfjsOutputs, type } from './support/tfjs-graph-builder';

const slice = (g: GraphBuilder, name: string, x: string, b: number[], e: number[], s: number[], masks: Partial<Record<'begin_mask' | 'end_mask' | 'ellipsis_mask' | 'new_axis_mask' | 'shrink_axis_mask', number>>) => {
  const m = Object.fromEntries(['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'].map((k) => [k, int(masks[k as keyof typeof masks] ?? 0)]));
  return g.node(name, 'StridedSlice', [x, g.ints(`${name}/b`, b), g.ints(`${name}/e`, e), g.ints(`${name}/s`, s)], { ...m, Index: type('DT_INT32') });
};
const expand = (g: GraphBuilder, name: string, x: string, axis: number) => g.node(name, 'ExpandDims', [x, g.ints(`${name}/a`, [axis], [])], { Tdim: type('DT_INT32') });

// Each case: the op chain on x [batch, 4, 6, 8] (the sink is the output), and the output's per-sample shape.
const CASES: [string, (g: GraphBuilder, x: string) => void, number[]][] = [
  ['StridedSlice with begin/end masks and strides', (g, x) => slice(g, 'ss', x, [0, 1, 0, 2], [0, 4, 6, 8], [1, 1, 2, 3], { begin_mask: 1, end_mask: 1 }), [3, 3, 2]],
  ['StridedSlice x[..., -1] (ellipsis, shrink), then ExpandDims', (g, x) => expand(g, 'e', slice(g, 'ss', x, [0, -1], [0, 0], [1, 1], { ellipsis_mask: 1, shrink_axis_mask: 2 }), -1), [4, 6, 1]],
  ['StridedSlice x[:, 0, 0, 0] (one value per sample), squared, then ExpandDims: [batch, 1]', (g, x) => {
    const ss = slice(g, 'ss', x, [0, 0, 0, 0], [0, 1, 1, 1], [1, 1, 1, 1], { begin_mask: 1, end_mask: 1, shrink_axis_mask: 14 });
    expand(g, 'e', g.node('m', 'Mul', [ss, ss]), -1);
  }, [1]],
  ['StridedSlice x[:, newaxis, 1:3] (new axis)', (g, x) => slice(g, 'ss', x, [0, 0, 1], [0, 0, 3], [1, 1, 1], { begin_mask: 1, end_mask: 1, new_axis_mask: 2 }), [1, 2, 6, 8]],
  ['StridedSlice with negative begin and a clamped end', (g, x) => slice(g, 'ss', x, [0, -3, 2, 0], [0, 100, -1, 8], [1, 1, 1, 2], { begin_mask: 1, end_mask: 1 }), [3, 3, 4]],
  ['Slice with size -1', (g, x) => g.node('sl', 'Slice', [x, g.ints('sl/b', [0, 1, 2, 0]), g.ints('sl/s', [-1, 2, 3, -1])], { Index: type('DT_INT32') }), [2, 3, 8]],
  ['Pad on the channel axis', (g, x) => g.node('p', 'Pad', [x, g.ints('p/p', [0, 0, 0, 0, 1, 0, 0, 3], [4, 2])], { Tpaddings: type('DT_INT32') }), [4, 7, 11]],
  ['PadV2 with a value, on H and C', (g, x) => g.node('p', 'PadV2', [x, g.ints('p/p', [0, 0, 2, 1, 0, 0, 1, 1], [4, 2]), g.konst('p/v', [], [-1.5])], { Tpaddings: type('DT_INT32') }), [7, 6, 10]],
  ['MirrorPad REFLECT and SYMMETRIC', (g, x) => g.node('m2', 'MirrorPad', [g.node('m1', 'MirrorPad', [x, g.ints('m1/p', [0, 0, 1, 2, 2, 1, 0, 0], [4, 2])], { mode: str('REFLECT'), Tpaddings: type('DT_INT32') }), g.ints('m2/p', [0, 0, 0, 0, 0, 0, 2, 1], [4, 2])], { mode: str('SYMMETRIC'), Tpaddings: type('DT_INT32') }), [7, 9, 11]],
  ['ConcatV2 on axis 1 and axis -2', (g, x) => {
    const a = slice(g, 'a', x, [0, 0], [0, 1], [1, 1], { begin_mask: 1, end_mask: 1 });
    const c = g.node('c1', 'ConcatV2', [x, a, g.ints('c1/axis', [1], [])], { N: int(2), Tidx: type('DT_INT32') });
    g.node('c2', 'ConcatV2', [c, c, g.ints('c2/axis', [-2], [])], { N: int(2), Tidx: type('DT_INT32') });
  }, [5, 12, 8]],
  ['Pack on axis 1 and -1', (g, x) => {
    const p = g.node('p', 'Pack', [x, x], { axis: int(1), N: int(2) });
    g.node('q', 'Pack', [p, p, p], { axis: int(-1), N: int(3) });
  }, [2, 4, 6, 8, 3]],
  ['Unpack on axis 2, reading outputs 1 and 5', (g, x) => {
    const u = g.node('u', 'Unpack', [x], { axis: int(2), num: int(6) });
    g.node('s', 'Sub', [`${u}:5`, `${u}:1`]);
  }, [4, 8]],
  ['Split and SplitV, reading outputs 1 and 2', (g, x) => {
    const s = g.node('s', 'Split', [g.ints('s/axis', [3], []), x], { num_split: int(2) });
    const v = g.node('v', 'SplitV', [`${s}:1`, g.ints('v/sizes', [1, -1, 2]), g.ints('v/axis', [1], [])], { num_split: int(3), Tlen: type('DT_INT32') });
    g.node('o', 'Identity', [`${v}:2`]);
  }, [2, 6, 4]],
  ['GatherV2 with repeated and scalar indices', (g, x) => {
    const a = g.node('a', 'GatherV2', [x, g.ints('a/i', [3, 0, 3]), g.ints('a/axis', [3], [])], { batch_dims: int(0), Tindices: type('DT_INT32'), Taxis: type('DT_INT32') });
    g.node('b', 'GatherV2', [a, g.ints('b/i', [3], []), g.ints('b/axis', [1], [])], { batch_dims: int(0), Tindices: type('DT_INT32'), Taxis: type('DT_INT32') });
  }, [6, 3]],
  ['Transpose [0, 3, 1, 2]', (g, x) => g.node('t', 'Transpose', [x, g.ints('t/p', [0, 3, 1, 2])], { Tperm: type('DT_INT32') }), [8, 4, 6]],
  ['Tile and BroadcastTo', (g, x) => {
    const c = slice(g, 'c', x, [0, 0, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1], { begin_mask: 7, end_mask: 7 }); // x[..., 0:1]
    const batch = slice(g, 'n', g.node('shape', 'Shape', [x], { out_type: type('DT_INT32') }), [0], [1], [1], { shrink_axis_mask: 1 });
    const target = g.node('target', 'Pack', [batch, g.ints('four', [4], []), g.ints('six', [6], []), g.ints('five', [5], [])], { axis: int(0), N: int(4), T: type('DT_INT32') });
    const b = g.node('b', 'BroadcastTo', [c, target], { Tidx: type('DT_INT32') });
    g.node('t', 'Tile', [b, g.ints('t/m', [1, 1, 2, 1])], { Tmultiples: type('DT_INT32') });
  }, [4, 12, 5]],
  ['DepthToSpace', (g, x) => g.node('d', 'DepthToSpace', [x], { block_size: int(2), data_format: str('NHWC') }), [8, 12, 2]], // (TF.js has no SpaceToDepth)
];

describe.each(CASES)('%s', (_, build, shape) => {
  it.each([1, 3])('matches tf.loadGraphModel at batch %i', async (batch) => {
    const g = new GraphBuilder();
    build(g, g.placeholder('x', [-1, 4, 6, 8]));
    const graph = g.build();
    const model = await importTfjsGraphModel(graph.json, async () => graph.bin, 'shape.json');
    expect(model.outputShape).toEqual(shape);
    const x = randomArray(batch * 192, 31 + batch);
    const [theirs] = await tfjsOutputs(graph, { x: { data: x, shape: [batch, 4, 6, 8] } });
    expect(relDiff(model.predict(tensor(x, [batch, 4, 6, 8])).data, theirs)).toBe(0); // pure data movement: exact
  });
});

// movenet's preprocessing: its input has a batch fixed to 1, unpacked to the one image, resized,
// squeezed and expanded back. Any other batch cannot be unpacked per sample: refused by name.
describe('Unpack and Squeeze on the batch axis of a batch fixed to 1', () => {
  const build = (batch: number) => {
    const g = new GraphBuilder();
    const u = g.node('u', 'Unpack', [g.placeholder('x', [batch, 4, 6, 8])], { axis: int(0), num: int(batch) });
    const e = g.node('e', 'ExpandDims', [u, g.ints('e/a', [0], [])]);
    const r = g.node('r', 'ResizeBilinear', [e, g.ints('r/s', [5, 7])], { align_corners: { b: false }, half_pixel_centers: { b: true } });
    const q = g.node('q', 'Squeeze', [r], { squeeze_dims: ints(0) });
    g.node('y', 'ExpandDims', [q, g.ints('y/a', [-4], [])]);
    return g.build();
  };
  it('is the one sample: matches tf.loadGraphModel', async () => {
    const graph = build(1);
    const model = await importTfjsGraphModel(graph.json, async () => graph.bin, 'unpack.json');
    expect(model.outputShape).toEqual([5, 7, 8]);
    const x = randomArray(192, 37);
    const [theirs] = await tfjsOutputs(graph, { x: { data: x, shape: [1, 4, 6, 8] } });
    expect(relDiff(model.predict(tensor(x, [1, 4, 6, 8])).data, theirs)).toBeLessThan(1e-6);
  });
  it('a batch of 2 unpacked into two tensors is refused, naming the node', async () => {
    const graph = build(2);
    await expect(importTfjsGraphModel(graph.json, async () => graph.bin, 'unpack2.json')).rejects.toThrow(/unpack2\.json.*'u'.*Unpack.*unpacks the batch axis of \[2, 4,6,8\] into 2 tensors/);
  });
});

