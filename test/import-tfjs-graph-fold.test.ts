// TF.js graph import: constant folding of shape arithmetic, reading any output of a node, the
// inputs / outputs / inputShape options, TF's dilated-convolution pattern and the refusal of
// data-dependent post-processing; each graph against tf.loadGraphModel on the same files.
import { describe, expect, it } from 'vitest';
import { importTfjsGraphModel, InvalidArgumentError, ModelFormatError, tensor, UnsupportedOpError } from '../dist/node.js';
import { randomArray } from './support/harness';
import { conv2dAttrs, GraphBuilder, int, ints, relDiff, str, tfjsOutputs, type } from './support/tfjs-graph-builder';

const reader = (bin: Uint8Array) => async () => bin;

// conv -> Reshape to [batch, H*W, C] with the target computed from Shape, StridedSlice, Prod,
// FloorDiv, Cast and Pack; a Fill and a Range of folded sizes scale and shift it.
function shapeArithmetic() {
  const g = new GraphBuilder();
  const x = g.placeholder('x', [-1, 4, 4, 3]);
  const c = g.node('conv', 'Conv2D', [x, g.konst('conv/w', [1, 1, 3, 6])], conv2dAttrs());
  const s = g.node('shape', 'Shape', [c], { out_type: type('DT_INT32') });
  const slice = (name: string, b: number, e: number, shrink: number) => g.node(name, 'StridedSlice', [s, g.ints(`${name}/b`, [b]), g.ints(`${name}/e`, [e]), g.ints(`${name}/s`, [1])], { shrink_axis_mask: int(shrink), begin_mask: int(0), end_mask: int(0), ellipsis_mask: int(0), new_axis_mask: int(0), Index: type('DT_INT32'), T: type('DT_INT32') });
  const batch = slice('batch', 0, 1, 1);
  const hw = g.node('hw', 'Prod', [slice('hw_dims', 1, 3, 0), g.ints('hw/axis', [0], [])], { keep_dims: { b: false }, T: type('DT_INT32') });
  const ch = g.node('ch', 'FloorDiv', [g.node('ch2', 'Mul', [slice('ch1', 3, 4, 1), g.ints('two', [2], [])], { T: type('DT_INT32') }), g.ints('two_b', [2], [])], { T: type('DT_INT32') });
  const target = g.node('target', 'Pack', [batch, hw, ch], { axis: int(0), N: int(3), T: type('DT_INT32') });
  const r = g.node('reshape', 'Reshape', [c, target]);
  const fill = g.node('fill', 'Fill', [g.node('fill/dims', 'Pack', [ch], { axis: int(0), N: int(1), T: type('DT_INT32') }), g.konst('fill/v', [], [0.5])], { index_type: type('DT_INT32') });
  const range = g.node('range', 'Cast', [g.node('range/i', 'Range', [g.ints('r0', [0], []), ch, g.ints('r1', [1], [])], { Tidx: type('DT_INT32') })], { SrcT: type('DT_INT32'), DstT: type('DT_FLOAT') });
  const scaled = g.node('scaled', 'Mul', [r, fill]);
  g.node('out', 'AddV2', [scaled, range]);
  return g.build();
}

describe('constant folding at import', () => {
  it.each([1, 3])('Shape -> StridedSlice -> Pack -> Reshape, Fill, Range and Cast fold away (batch %i)', async (batch) => {
    const graph = shapeArithmetic();
    const model = await importTfjsGraphModel(graph.json, reader(graph.bin), 'shapes.json');
    expect(model.layers.map((l) => l.kind)).toEqual(['conv2d', 'reshape', 'rescaling']); // the folded scale and shift: one Rescaling
    expect(model.outputShape).toEqual([16, 6]);
    expect(model.layers[2].getWeights().map((w) => Array.from(w))).toEqual([[0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [0, 1, 2, 3, 4, 5]]);
    const x = randomArray(batch * 48, 5);
    const [theirs] = await tfjsOutputs(graph, { x: { data: x, shape: [batch, 4, 4, 3] } });
    const ours = model.predict(tensor(x, [batch, 4, 4, 3])).data;
    expect(relDiff(ours, theirs)).toBeLessThan(1e-5);
    expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1); // the Range shift is there
  });
});

// x -> conv -> relu -> IdentityN(relu, conv) -> [1] -> conv2 -> TopKV2 (data-dependent).
function cutGraph() {
  const g = new GraphBuilder();
  const x = g.placeholder('x', [-1, 5, 5, 2]);
  const c = g.node('conv', 'Conv2D', [x, g.konst('conv/w', [3, 3, 2, 4])], conv2dAttrs('SAME'));
  const r = g.node('relu', 'Relu', [c]);
  const both = g.node('both', 'IdentityN', [r, c], { T: { list: { type: ['DT_FLOAT', 'DT_FLOAT'] } } });
  const c2 = g.node('conv2', '_FusedConv2D', [`${both}:1`, g.konst('conv2/w', [1, 1, 4, 3]), g.konst('conv2/b', [3])], { ...conv2dAttrs(), fused_ops: { list: { s: [str('BiasAdd').s, str('Relu6').s] } }, num_args: int(1) });
  const flat = g.node('flat', 'Reshape', [c2, g.ints('flat/shape', [-1, 75])]);
  g.node('top', 'TopKV2', [flat, g.ints('top/k', [5], [])], { sorted: { b: true } });
  return g.build();
}

describe('cutting the graph and reading any output', () => {
  it('refuses data-dependent post-processing by node, op and file, suggesting the outputs cut', async () => {
    const graph = cutGraph();
    const err = await importTfjsGraphModel(graph.json, reader(graph.bin), 'cut.json').catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedOpError);
    expect(err.message).toMatch(/^cut\.json: node 'top' uses op 'TopKV2'.*depends on the input data.*'outputs' option \(e\.g\. \{ outputs: \['flat'/);
  });

  it('refuses a boolean mask of computed tensors (a peak mask: Equal(maxpool(h), h)) the same way', async () => {
    const g = new GraphBuilder();
    const h = g.node('heat', 'Conv2D', [g.placeholder('x', [-1, 5, 5, 2]), g.konst('heat/w', [1, 1, 2, 2])], conv2dAttrs());
    const pool = g.node('pool', 'MaxPool', [h], { ksize: ints(1, 3, 3, 1), strides: ints(1, 1, 1, 1), padding: str('SAME'), data_format: str('NHWC') });
    const peak = g.node('peak', 'Cast', [g.node('eq', 'Equal', [pool, h])], { SrcT: { type: 'DT_BOOL' }, DstT: type('DT_FLOAT') });
    g.node('out', 'Mul', [h, peak]);
    const graph = g.build();
    const err = await importTfjsGraphModel(graph.json, reader(graph.bin), 'peaks.json').catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedOpError);
    expect(err.message).toMatch(/^peaks\.json: node 'eq' uses op 'Equal'.*boolean mask of computed tensors.*\{ outputs: \['pool', 'heat'\] \}/);
  });

  it.each([1, 2])('outputs: [flat] imports the network before it; IdentityN:1 is its second input (batch %i)', async (batch) => {
    const graph = cutGraph();
    const model = await importTfjsGraphModel(graph.json, reader(graph.bin), 'cut.json', { outputs: ['flat'] });
    expect(model.layers.map((l) => l.kind)).toEqual(['conv2d', 'conv2d', 'flatten']); // relu is not on the path (IdentityN:1 is the conv)
    const x = randomArray(batch * 50, 9);
    const [theirs] = await tfjsOutputs(graph, { x: { data: x, shape: [batch, 5, 5, 2] } }, ['flat']);
    expect(relDiff(model.predict(tensor(x, [batch, 5, 5, 2])).data, theirs)).toBeLessThan(1e-5);
  });

  it('inputs: cuts on the way in; an internal input needs its inputShape', async () => {
    const graph = cutGraph();
    await expect(importTfjsGraphModel(graph.json, reader(graph.bin), 'cut.json', { inputs: ['conv'], outputs: ['conv2'] })).rejects.toThrow(/cut\.json: input 'conv' has no static shape in the file; pass its per-sample shape with the inputShape option/);
    const model = await importTfjsGraphModel(graph.json, reader(graph.bin), 'cut.json', { inputs: ['conv'], outputs: ['conv2'], inputShape: [5, 5, 4] });
    expect(model.inputShape).toEqual([5, 5, 4]);
    const h = randomArray(2 * 100, 4);
    const [theirs] = await tfjsOutputs(graph, { conv: { data: h, shape: [2, 5, 5, 4] } }, ['conv2']);
    expect(relDiff(model.predict(tensor(h, [2, 5, 5, 4])).data, theirs)).toBeLessThan(1e-5);
  });

  it('checks its options strictly and names what is missing', async () => {
    const graph = cutGraph();
    await expect(importTfjsGraphModel(graph.json, reader(graph.bin), 'cut.json', { output: ['flat'] } as never)).rejects.toThrow(/unknown option 'output' for importTfjsGraphModel; did you mean 'outputs'\?/);
    await expect(importTfjsGraphModel(graph.json, reader(graph.bin), 'cut.json', { outputs: 'flat' } as never)).rejects.toThrow(InvalidArgumentError);
    await expect(importTfjsGraphModel(graph.json, reader(graph.bin), 'cut.json', { outputs: ['nope'] })).rejects.toThrow(/cut\.json: there is no node 'nope' in the graph \(named by outputs\)/);
  });
});

// A dynamic-size input: convs, then a global mean.
function dynamicGraph() {
  const g = new GraphBuilder();
  const x = g.placeholder('img', [-1, -1, -1, 3]);
  const c = g.node('conv', 'Conv2D', [x, g.konst('conv/w', [3, 3, 3, 4])], { ...conv2dAttrs('SAME'), strides: ints(1, 2, 2, 1) });
  g.node('pool', 'Mean', [c, g.ints('pool/axes', [1, 2])], { keep_dims: { b: true }, Tidx: type('DT_INT32') });
  return g.build();
}

describe('inputs of dynamic size', () => {
  it('refuses without inputShape, saying how to pass it', async () => {
    const graph = dynamicGraph();
    const err = await importTfjsGraphModel(graph.json, reader(graph.bin), 'dyn.json').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toMatch(/dyn\.json: input 'img' has shape \[-1,-1,-1,3\]; its unknown sizes \(-1\) need the inputShape option/);
    await expect(importTfjsGraphModel(graph.json, reader(graph.bin), 'dyn.json', { inputShape: [7, 5, 4] })).rejects.toThrow(/input 'img' has shape \[-1,-1,-1,3\] in the file; inputShape \[7,5,4\] does not fit it/);
    await expect(importTfjsGraphModel(graph.json, reader(graph.bin), 'dyn.json', { inputShape: { image: [7, 5, 3] } })).rejects.toThrow(/inputShape names 'image', which is not an input/);
  });

  it.each([[[7, 5, 3]], [[4, 9, 3]]])('takes its shape from inputShape %j and matches TF.js', async (shape) => {
    const graph = dynamicGraph();
    const model = await importTfjsGraphModel(graph.json, reader(graph.bin), 'dyn.json', { inputShape: { img: shape } });
    const x = randomArray(2 * shape[0] * shape[1] * 3, 3);
    const [theirs] = await tfjsOutputs(graph, { img: { data: x, shape: [2, ...shape] } });
    expect(model.outputShape).toEqual([1, 1, 4]);
    expect(relDiff(model.predict(tensor(x, [2, ...shape])).data, theirs)).toBeLessThan(1e-5);
  });
});

// SpaceToBatchND -> conv -> BatchToSpaceND, as TF writes a dilated convolution.
function dilatedGraph() {
  const g = new GraphBuilder();
  const x = g.placeholder('x', [-1, 9, 9, 2]);
  const s2b = (name: string, input: string, pads: number[]) => g.node(name, 'SpaceToBatchND', [input, g.ints(`${name}/block`, [2, 2]), g.ints(`${name}/pads`, pads, [2, 2])], { Tblock_shape: type('DT_INT32'), Tpaddings: type('DT_INT32') });
  const b2s = (name: string, input: string, crops: number[]) => g.node(name, 'BatchToSpaceND', [input, g.ints(`${name}/block`, [2, 2]), g.ints(`${name}/crops`, crops, [2, 2])], { Tblock_shape: type('DT_INT32'), Tcrops: type('DT_INT32') });
  // SAME: pads 2 each side, one more to make 13 divisible by 2, cropped again.
  const a = b2s('a/b2s', g.node('a/conv', 'Conv2D', [s2b('a/s2b', x, [2, 3, 2, 3]), g.konst('a/w', [3, 3, 2, 4])], conv2dAttrs()), [0, 1, 0, 1]);
  const ab = g.node('a/bias', 'BiasAdd', [a, g.konst('a/b', [4])], { data_format: str('NHWC') });
  // Asymmetric: one row and column at the end only (a padding layer, then a valid dilated conv).
  const dw = g.node('b/dw', 'DepthwiseConv2dNative', [s2b('b/s2b', ab, [0, 1, 0, 1]), g.konst('b/w', [3, 3, 4, 1])], conv2dAttrs());
  g.node('out', 'Relu', [b2s('b/b2s', dw, [0, 0, 0, 0])]);
  return g.build();
}

describe("TF's dilated convolution (SpaceToBatchND -> conv -> BatchToSpaceND)", () => {
  it.each([1, 2])('becomes dilated convolutions and matches TF.js (batch %i)', async (batch) => {
    const graph = dilatedGraph();
    const model = await importTfjsGraphModel(graph.json, reader(graph.bin), 'dilated.json');
    expect(model.layers.map((l) => [l.kind, l.config.padding, l.config.dilationRate, l.config.activation])).toEqual([
      ['conv2d', 'same', [2, 2], 'linear'], ['zeroPadding2d', [[0, 1], [0, 1]], undefined, undefined], ['depthwiseConv2d', 'valid', [2, 2], 'relu']]);
    const x = randomArray(batch * 162, 21);
    const [theirs] = await tfjsOutputs(graph, { x: { data: x, shape: [batch, 9, 9, 2] } });
    expect(model.outputShape).toEqual([6, 6, 4]);
    expect(relDiff(model.predict(tensor(x, [batch, 9, 9, 2])).data, theirs)).toBeLessThan(1e-5);
  });
});

// Ops that become the existing layers: Neg, Pad of H/W, RealDiv and c - x by constants, ExpandDims,
// Squeeze, Mean with keep_dims, Reshape with the batch first, an identity Transpose, Relu6.
function smallOps() {
  const g = new GraphBuilder();
  const x = g.placeholder('x', [-1, 4, 4, 2]);
  const n = g.node('neg', 'Neg', [x]);
  const p = g.node('pad', 'Pad', [n, g.ints('pad/p', [0, 0, 1, 0, 0, 1, 0, 0], [4, 2])], { Tpaddings: type('DT_INT32') });
  const c = g.node('conv', 'Conv2D', [p, g.konst('conv/w', [2, 2, 2, 3])], conv2dAttrs());
  const dv = g.node('div', 'RealDiv', [c, g.konst('div/c', [3], [2, -4, 0.5])]);
  const flip = g.node('flip', 'Sub', [g.konst('flip/c', [], [1]), dv]);
  const e = g.node('expand', 'ExpandDims', [flip, g.ints('expand/a', [1], [])], { Tdim: type('DT_INT32') });
  const s = g.node('squeeze', 'Squeeze', [e], { squeeze_dims: ints(1) });
  const t = g.node('perm', 'Transpose', [s, g.ints('perm/p', [0, 1, 2, 3])], { Tperm: type('DT_INT32') });
  const m = g.node('mean', 'Mean', [t, g.ints('mean/a', [-3, -2])], { keep_dims: { b: true }, Tidx: type('DT_INT32') });
  const r = g.node('flat', 'Reshape', [m, g.ints('flat/s', [-1, 3])]);
  g.node('out', 'Relu6', [r]);
  return g.build();
}

describe('small ops on the existing layers', () => {
  it.each([1, 4])('Neg, Pad, RealDiv, c - x, ExpandDims, Squeeze, Transpose, Mean keep_dims, Reshape, Relu6 (batch %i)', async (batch) => {
    const graph = smallOps();
    const model = await importTfjsGraphModel(graph.json, reader(graph.bin), 'small.json');
    // ExpandDims then Squeeze, and Mean's [1, 1, C] then Reshape [-1, C], cancel out
    expect(model.layers.map((l) => l.kind)).toEqual(['rescaling', 'zeroPadding2d', 'conv2d', 'rescaling', 'globalAveragePooling2d', 'activation']);
    const x = randomArray(batch * 32, 8).map((v) => v * 4);
    const [theirs] = await tfjsOutputs(graph, { x: { data: x, shape: [batch, 4, 4, 2] } });
    expect(relDiff(model.predict(tensor(x, [batch, 4, 4, 2])).data, theirs)).toBeLessThan(1e-5);
  });
});
