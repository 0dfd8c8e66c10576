// ZeroPadding2D folded into the convolutions that read it (issue 12): torchvision's ONNX exports
// pad explicitly in front of a 'valid' convolution or depthwise convolution, and a zero pad is
// what the kernels' own padding reads anyway. A pad read only by such layers, with no gradient
// through it or them, emits nothing: it passes its input on with its padding, and each reader
// runs with its padding grown by it (explicit [[top, bottom], [left, right]], the same output size).
import { type GraphNode, isOutput } from './graph';
import { windowAxes } from './conv-lowering';
import type { CompileContext, NodeValue, ProgramBuilder } from './program';
import type { Layer } from '../layers/layer';

export type Pads2d = [[number, number], [number, number]];

// The kernels that take explicit padding (pt, pl, and the output size) in every form they lower to.
const padsInKernel = (l: Layer | null) => l !== null && (l.kind === 'depthwiseConv2d' || (l.kind === 'conv2d' && l.config.groups === 1));

// `layer` with padding of its own plus `pad` on an input of height h, width w (unpadded): a view
// of the layer (the same weights, name and activation) whose config says the summed padding.
export function withPadding(layer: Layer, pad: Pads2d, h: number, w: number): Layer {
  const [[t, b], [l, r]] = pad;
  const { y, x } = windowAxes(layer.config, h + t + b, w + l + r);
  const padding: Pads2d = [[t + y.padBefore, b + y.padAfter], [l + x.padBefore, r + x.padAfter]];
  return Object.create(layer, { config: { value: { ...layer.config, padding } } }) as Layer;
}

// Whether pad node `node` folds into all its readers in program p: a ZeroPadding2D, not an
// output, no gradient through it or a reader, every reader a convolution reading only it whose
// output size is unchanged by the fold.
export function foldsIntoReaders(ctx: CompileContext, p: ProgramBuilder, node: GraphNode, input: NodeValue): boolean {
  if (node.layer?.kind !== 'zeroPadding2d' || isOutput(ctx.graph, node.id) || p.gradNodes.has(node.id) || input.gather) return false;
  const pad = node.layer.config.padding as Pads2d;
  const [h, w] = input.shape;
  const next = ctx.consumers.get(node.id) ?? [];
  return next.length > 0 && next.every((id) => {
    const n = ctx.graph.nodes[id];
    if (!padsInKernel(n.layer) || n.inputs.length !== 1 || p.gradNodes.has(id)) return false;
    const { y, x } = windowAxes(withPadding(n.layer!, pad, h, w).config, h, w);
    return y.out === n.shape[0] && x.out === n.shape[1];
  });
}
