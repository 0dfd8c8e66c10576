// A residual block's max pooling and its add as one maxpool_add op (issue 12,
// assembly/kernels/pool-add.ts): mini-Xception pools each block's branch (3x3, stride 2) and adds
// the strided 1x1 shortcut, then a ReLU; lowered apart that is the pooling, a copy, an
// accumulating copy and the ReLU, four passes over the batch. A max pooling read only by an add of
// two inputs of one shape, with no gradient through either in this program, emits nothing: it
// passes its input on with its geometry, and the add pools, adds and (absorbing a ReLU layer that
// alone reads the sum) clamps image by image, with the same bits.
import { type GraphNode, isOutput } from './graph';
import { poolGeometry } from './conv-lowering';
import type { ForwardArgs, NodeValue } from './program';

// Whether max pooling node a.node runs inside the add that alone reads it.
function poolsIntoAdd(a: ForwardArgs): boolean {
  const { ctx, p, node } = a;
  if (node.layer?.kind !== 'maxPooling2d' || isOutput(ctx.graph, node.id) || p.gradNodes.has(node.id)) return false;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return false;
  const add = ctx.graph.nodes[next[0]];
  if (add.layer?.kind !== 'add' || add.inputs.length !== 2 || p.gradNodes.has(add.id) || add.inputs[0] === add.inputs[1]) return false;
  const shapes = add.inputs.map((i) => ctx.graph.nodes[i].shape.join());
  return shapes[0] === shapes[1];
}

// At the max pooling: its input and geometry passed on to the add (no op), or null.
export function deferredPool(a: ForwardArgs): NodeValue | null {
  if (!poolsIntoAdd(a)) return null;
  return { region: a.x.region, shape: a.shape, pooledBy: poolGeometry(a.layer, a.x.shape) };
}

// At the add: maxpool_add when one input is a deferred pooling, or null.
export function poolAddForward(a: ForwardArgs): NodeValue | null {
  const { ctx, p, node, layer, inputs, shape, count } = a;
  if (layer.kind !== 'add') return null;
  const at = inputs.findIndex((v) => v.pooledBy);
  if (at < 0) return null;
  const pooled = inputs[at], other = inputs[1 - at];
  const relu = reluAfter(a);
  const y = p.activation(node.name, count * ctx.batch);
  p.emit('maxpool_add', layer.name, { y, x: pooled.region, s: other.region }, { ...pooled.pooledBy!, relu: relu ? 1 : 0 });
  if (relu) p.absorbed.add(relu.id);
  return { region: y, shape };
}

// The ReLU activation layer that alone reads the add, when it is no output and no gradient flows.
function reluAfter({ ctx, p, node }: ForwardArgs): GraphNode | null {
  if (isOutput(ctx.graph, node.id)) return null;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return null;
  const r = ctx.graph.nodes[next[0]];
  return r.layer?.kind === 'activation' && r.layer.config.activation === 'relu' && !isOutput(ctx.graph, r.id) && !p.gradNodes.has(r.id) ? r : null;
}
