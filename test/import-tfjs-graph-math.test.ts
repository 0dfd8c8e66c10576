// TF.js graph import of the arithmetic ops on the nd-math and pointwise layers: broadcasting between
// computed tensors (the squeeze-and-excitation gate), constants that do not fold (constantOp), unary
// ops, PReLU (as an op and fused into a convolution), reductions, softmax, the resize variants,
// and BatchMatMulV2 / Atan2 of two computed tensors; one small graph per case against tf.loadGraphModel.
import { describe, expect, it } from 'vitest';
import { importTfjsGraphModel, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { conv2dAttrs, GraphBuilder, int, relDiff, str, tfjsOutputs, type } from './support/tfjs-graph-builder';

const keep = (b: boolean) => ({ keep_dims: { b }, Tidx: type('DT_INT32') });
const mean = (g: GraphBuilder, name: string, x: string, axes: number[], k = true) => g.node(name, 'Mean', [x, g.ints(`${name}/a`, axes)], keep(k));

// Each case: the chain on x [batch, 4, 6, 3] (the sink is the output), its per-sample shape and the
// layer kinds expected among the model's layers.
const CASES: [string, (g: GraphBuilder, x: string) => void, number[], string[]][] = [
  ['clip_by_value: Minimum(x, 6) then Maximum(., 0) with constants', (g, x) => {
    const s = g.node('s', 'Mul', [x, g.konst('s/c', [], [8])]);
    g.node('max', 'Maximum', [g.node('min', 'Minimum', [s, g.konst('six', [], [6])]), g.konst('zero', [], [0])]);
  }, [4, 6, 3], ['constantOp']],
  ['squeeze-and-excitation: x * sigmoid(conv(mean(x))) broadcast over H and W', (g, x) => {
    const se = g.node('fc', '_FusedConv2D', [mean(g, 'pool', x, [1, 2]), g.konst('fc/w', [1, 1, 3, 3]), g.konst('fc/b', [3])], { ...conv2dAttrs(), fused_ops: { list: { s: [str('BiasAdd').s, str('Sigmoid').s] } }, num_args: int(1) });
    g.node('gate', 'Mul', [x, se]);
  }, [4, 6, 3], ['multiply']],
  ['RealDiv, Maximum, Minimum, SquaredDifference and Sub of broadcast tensors', (g, x) => {
    const m = mean(g, 'm', x, [2]); // [4, 1, 3]
    const a = g.node('abs', 'Abs', [m]);
    const div = g.node('div', 'RealDiv', [x, g.node('den', 'AddV2', [a, g.konst('one', [], [1])])]);
    const mx = g.node('mx', 'Maximum', [div, m]);
    const mn = g.node('mn', 'Minimum', [mx, g.node('neg', 'Neg', [m])]);
    g.node('sq', 'SquaredDifference', [mn, div]);
  }, [4, 6, 3], ['divide', 'maximum', 'minimum', 'subtract']],
  ['a constant that is not per channel: Sub and RealDiv by [4, 1, 3] constants, c / x', (g, x) => {
    const s = g.node('s', 'Sub', [x, g.konst('s/c', [4, 1, 3])]);
    const d = g.node('d', 'RealDiv', [s, g.konst('d/c', [1, 4, 1, 3], Array.from({ length: 12 }, (_, i) => 1 + i / 4))]);
    g.node('r', 'RealDiv', [g.konst('r/c', [], [2]), g.node('e', 'Exp', [d])]);
  }, [4, 6, 3], ['constantOp']],
  ['unary ops: Abs, Sqrt, Rsqrt, Square, Exp, Reciprocal, Neg, Softplus', (g, x) => {
    const a = g.node('abs', 'Abs', [x]);
    const b = g.node('sqrt', 'Sqrt', [g.node('a1', 'AddV2', [a, g.konst('c1', [], [0.5])])]);
    const c = g.node('rsqrt', 'Rsqrt', [g.node('a2', 'AddV2', [g.node('sq', 'Square', [x]), g.konst('c2', [], [1])])]);
    const e = g.node('recip', 'Reciprocal', [g.node('a3', 'AddV2', [g.node('exp', 'Exp', [x]), g.konst('c3', [], [1])])]);
    const f = g.node('sp', 'Softplus', [g.node('neg', 'Neg', [x])]);
    g.node('sum', 'AddN', [b, c, e, f], { N: int(4) });
  }, [4, 6, 3], ['unary', 'add']],
  ['Prelu as an op and fused into a convolution', (g, x) => {
    const p = g.node('p', 'Prelu', [x, g.konst('p/a', [3])]);
    g.node('c', '_FusedConv2D', [p, g.konst('c/w', [3, 3, 3, 5]), g.konst('c/b', [5]), g.konst('c/a', [5], [0.1, -0.2, 0.3, 0.25, 2])], { ...conv2dAttrs('SAME'), fused_ops: { list: { s: [str('BiasAdd').s, str('Prelu').s] } }, num_args: int(2) });
  }, [4, 6, 5], ['prelu', 'conv2d']],
  ['reductions: Sum, Max, Min (keep_dims both ways), Mean over an inner axis, then Softmax', (g, x) => {
    const s = g.node('sum', 'Sum', [x, g.ints('sum/a', [-1])], keep(true)); // [4, 6, 1]
    const m = g.node('max', 'Max', [x, g.ints('max/a', [2])], keep(false)); // [4, 3]
    const n = g.node('nsq', 'Squeeze', [g.node('min', 'Min', [x, g.ints('min/a', [1, 2])], keep(true))], { squeeze_dims: { list: { i: ['1'] } } }); // [1, 3]
    const t = g.node('msq', 'Squeeze', [mean(g, 'mean', s, [2])], { squeeze_dims: { list: { i: ['3'] } } }); // [4, 1]
    g.node('o', 'Softmax', [g.node('a', 'AddV2', [g.node('b', 'Mul', [m, n]), t])]);
  }, [4, 3], ['reduce']],
  ['Conv2DBackpropInput SAME stride 2 and VALID stride 1, bias and scale folded in', (g, x) => {
    const batch = g.node('n', 'StridedSlice', [g.node('shape', 'Shape', [x], { out_type: type('DT_INT32') }), g.ints('n/b', [0]), g.ints('n/e', [1]), g.ints('n/s', [1])], { shrink_axis_mask: int(1), begin_mask: int(0), end_mask: int(0), ellipsis_mask: int(0), new_axis_mask: int(0), T: type('DT_INT32') });
    const size = (name: string, dims: number[]) => g.node(name, 'Pack', [batch, ...dims.map((d, i) => g.ints(`${name}/${i}`, [d], []))], { axis: int(0), N: int(4), T: type('DT_INT32') });
    const t1 = g.node('t1', 'Conv2DBackpropInput', [size('t1/size', [8, 12, 4]), g.konst('t1/w', [3, 3, 4, 3]), x], { ...conv2dAttrs('SAME'), strides: { list: { i: ['1', '2', '2', '1'] } } });
    const b1 = g.node('b1', 'BiasAdd', [t1, g.konst('b1/b', [4])], { data_format: str('NHWC') });
    const m1 = g.node('m1', 'Mul', [b1, g.konst('m1/s', [4], [0.5, -1, 2, 3])]);
    g.node('t2', 'Conv2DBackpropInput', [size('t2/size', [9, 13, 2]), g.konst('t2/w', [2, 2, 2, 4]), g.node('r', 'Relu', [m1])], conv2dAttrs('VALID'));
  }, [9, 13, 2], ['conv2dTranspose']],
  ['BatchMatMulV2 of two computed tensors: x . x^T (adj_y), adj_x, and Atan2 of computed tensors', (g, x) => {
    const y = g.node('y', 'Tanh', [x]); // [4, 6, 3]
    const gram = g.node('gram', 'BatchMatMulV2', [x, y], { adj_x: { b: false }, adj_y: { b: true } }); // [4, 6, 6]
    const back = g.node('back', 'BatchMatMulV2', [gram, x], { adj_x: { b: true }, adj_y: { b: false } }); // [4, 6, 3]
    g.node('ang', 'Atan2', [back, g.node('m', 'Mean', [y, g.ints('m/a', [2])], keep(true))]); // [4, 6, 3] with [4, 1, 3]
  }, [4, 6, 3], ['matMul', 'atan2']],
  ['ResizeBilinear align_corners and asymmetric, ResizeNearestNeighbor in all three modes', (g, x) => {
    const size = (n: string, h: number, w: number) => g.ints(n, [h, w]);
    const a = g.node('a', 'ResizeBilinear', [x, size('a/s', 7, 9)], { align_corners: { b: true }, half_pixel_centers: { b: false } });
    const b = g.node('b', 'ResizeBilinear', [a, size('b/s', 5, 11)], { align_corners: { b: false }, half_pixel_centers: { b: false } });
    const c = g.node('c', 'ResizeNearestNeighbor', [b, size('c/s', 8, 8)], { align_corners: { b: false }, half_pixel_centers: { b: true } });
    const d = g.node('d', 'ResizeNearestNeighbor', [c, size('d/s', 11, 5)], { align_corners: { b: true }, half_pixel_centers: { b: false } });
    g.node('e', 'ResizeNearestNeighbor', [d, size('e/s', 6, 7)], { align_corners: { b: false }, half_pixel_centers: { b: false } });
  }, [6, 7, 3], ['resizing']],
];

describe.each(CASES)('%s', (_, build, shape, kinds) => {
  it.each([1, 3])('matches tf.loadGraphModel at batch %i', async (batch) => {
    const g = new GraphBuilder();
    build(g, g.placeholder('x', [-1, 4, 6, 3]));
    const graph = g.build();
    const model = await importTfjsGraphModel(graph.json, async () => graph.bin, 'math.json');
    expect(model.outputShape).toEqual(shape);
    for (const k of kinds) expect(model.layers.map((l) => l.kind)).toContain(k);
    const x = randomArray(batch * 72, 41 + batch).map((v) => v * 2);
    const [theirs] = await tfjsOutputs(graph, { x: { data: x, shape: [batch, 4, 6, 3] } });
    expect(relDiff(model.predict(tensor(x, [batch, 4, 6, 3])).data, theirs)).toBeLessThan(1e-5);
    expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1e-3); // not a degenerate comparison
  });
});
