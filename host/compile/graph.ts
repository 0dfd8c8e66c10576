// The model graph: nodes in topological order, each a layer applied to earlier nodes' outputs.
// A sequential model is the chain case; functional models add fan-out, merges and shared layers.
import { InvalidArgumentError, ShapeError } from '../core/errors';
import type { Layer, SymbolicTensor } from '../layers/layer';

export interface GraphNode {
  id: number;
  name: string;
  layer: Layer | null; // null for the model input
  inputs: number[]; // node ids, all smaller than id
  shape: number[]; // output shape per sample
}

export interface Graph {
  nodes: GraphNode[];
  input: number;
  output: number;
}

export function sequentialGraph(layerList: readonly Layer[], inputShape: readonly number[] | null): Graph {
  if (layerList.length === 0) throw new InvalidArgumentError('a sequential model needs at least one layer');
  const shape0 = inputShape ?? layerList[0].inputShape ?? layerList[0].builtInputShape;
  if (!shape0) {
    throw new ShapeError(`the first layer (${layerList[0].name}) needs an inputShape, e.g. layers.dense(10, {inputShape: [784]})`, layerList[0].name);
  }
  const nodes: GraphNode[] = [{ id: 0, name: 'input', layer: null, inputs: [], shape: [...shape0] }];
  const seen = new Set<string>();
  for (const layer of layerList) {
    if (seen.has(layer.name)) throw new InvalidArgumentError(`layer name '${layer.name}' appears twice in the model; layer names must be unique`);
    if (layer.def.multiInput) throw new InvalidArgumentError(`layer ${layer.name} (${layer.kind}) merges several inputs: use the functional API (input(), layer.apply(), model())`);
    seen.add(layer.name);
    const prev = nodes[nodes.length - 1];
    layer.build([prev.shape]);
    nodes.push({ id: nodes.length, name: layer.name, layer, inputs: [prev.id], shape: layer.outputShape([prev.shape]) });
  }
  return { nodes, input: 0, output: nodes.length - 1 };
}

// From symbolic tensors: every tensor reachable backwards from `output` becomes a node, inputs first.
// The walk keeps its own stack (a depth-first post-order), so a chain of any length fits.
export function functionalGraph(input: SymbolicTensor, output: SymbolicTensor): Graph {
  const nodes: GraphNode[] = [];
  const ids = new Map<SymbolicTensor, number>();
  const visiting = new Set<SymbolicTensor>();
  const names = new Map<string, Layer>();
  const calls = new Map<Layer, number>(); // how many nodes each layer has so far (shared layers)
  const stack: { t: SymbolicTensor; next: number }[] = [{ t: output, next: 0 }];
  visiting.add(output);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const t = top.t;
    if (top.next === 0 && !t.layer && t !== input) throw new InvalidArgumentError(`the output depends on input '${t.name}', which is not the model's input`);
    if (top.next < t.inputs.length) {
      const child = t.inputs[top.next++];
      if (ids.has(child)) continue;
      if (visiting.has(child)) throw new InvalidArgumentError(`the graph has a cycle through ${child.name}`);
      visiting.add(child);
      stack.push({ t: child, next: 0 });
      continue;
    }
    stack.pop();
    if (t.layer) {
      const other = names.get(t.layer.name);
      if (other && other !== t.layer) throw new InvalidArgumentError(`two different layers are named '${t.layer.name}'; layer names must be unique`);
      names.set(t.layer.name, t.layer);
    }
    const id = nodes.length;
    const uses = t.layer ? calls.get(t.layer) ?? 0 : 0;
    if (t.layer) calls.set(t.layer, uses + 1);
    nodes.push({ id, name: t.layer ? (uses ? `${t.layer.name}_${uses}` : t.layer.name) : 'input', layer: t.layer, inputs: t.inputs.map((i) => ids.get(i)!), shape: [...t.shape] });
    ids.set(t, id);
    visiting.delete(t);
  }
  if (!ids.has(input)) throw new InvalidArgumentError(`the model's output does not depend on its input '${input.name}'`);
  return { nodes, input: ids.get(input)!, output: ids.get(output)! };
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
