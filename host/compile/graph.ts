// The model graph: nodes in topological order, each a layer applied to earlier nodes' outputs.
// A sequential model is the chain case; functional models add fan-out, merges, shared layers and
// several inputs and outputs (in the order the model was given them; an output may be an
// intermediate node that other nodes read too).
import { InvalidArgumentError, ShapeError } from '../core/errors';
import type { Layer, SymbolicTensor } from '../layers/layer';

export interface GraphNode {
  id: number;
  name: string;
  layer: Layer | null; // null for a model input
  inputs: number[]; // node ids, all smaller than id
  shape: number[]; // output shape per sample
}

export interface Graph {
  nodes: GraphNode[];
  inputs: number[]; // node ids, in the model's input order
  outputs: number[]; // node ids, in the model's output order
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
  return { nodes, inputs: [0], outputs: [nodes.length - 1] };
}

// From symbolic tensors: every tensor reachable backwards from the outputs becomes a node, inputs
// first. The walk keeps its own stack (a depth-first post-order), so a chain of any length fits.
// A single input keeps the node name 'input'; several are named after their symbolic tensors.
export function functionalGraph(inputList: readonly SymbolicTensor[], outputList: readonly SymbolicTensor[]): Graph {
  if (inputList.length === 0 || outputList.length === 0) throw new InvalidArgumentError(`a model needs at least one input and one output (got ${inputList.length} inputs, ${outputList.length} outputs)`);
  for (const t of inputList) {
    if (t.layer) throw new InvalidArgumentError(`model input '${t.name}' is the output of layer ${t.layer.name}; model inputs must come from input()`);
  }
  if (new Set(inputList).size !== inputList.length) throw new InvalidArgumentError('the same input tensor is listed twice in the model\'s inputs');
  const isInput = new Set(inputList);
  const nodes: GraphNode[] = [];
  const ids = new Map<SymbolicTensor, number>();
  const visiting = new Set<SymbolicTensor>();
  const names = new Map<string, Layer>();
  const calls = new Map<Layer, number>(); // how many nodes each layer has so far (shared layers)
  for (const output of outputList) {
    if (ids.has(output)) continue;
    const stack: { t: SymbolicTensor; next: number }[] = [{ t: output, next: 0 }];
    visiting.add(output);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const t = top.t;
      if (top.next === 0 && !t.layer && !isInput.has(t)) {
        throw new InvalidArgumentError(`the output depends on input '${t.name}', which is not one of the model's inputs (${inputList.map((i) => i.name).join(', ')})`);
      }
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
      const name = t.layer ? (uses ? `${t.layer.name}_${uses}` : t.layer.name) : inputList.length === 1 ? 'input' : t.name;
      nodes.push({ id, name, layer: t.layer, inputs: t.inputs.map((i) => ids.get(i)!), shape: [...t.shape] });
      ids.set(t, id);
      visiting.delete(t);
    }
  }
  // Keras refuses an input that no output depends on (it would be fed and never read).
  for (const t of inputList) {
    if (!ids.has(t)) {
      throw new InvalidArgumentError(inputList.length === 1
        ? `the model's output does not depend on its input '${t.name}'`
        : `input '${t.name}' is not connected to any of the model's outputs (${outputList.map((o) => o.name).join(', ')})`);
    }
  }
  return { nodes, inputs: inputList.map((t) => ids.get(t)!), outputs: outputList.map((t) => ids.get(t)!) };
}

// The names of a graph's inputs and outputs, as Keras reports them: an input by its tensor's node
// name, an output by the name of the layer that produced it.
export function outputNames(graph: Graph): string[] {
  return graph.outputs.map((id) => graph.nodes[id].layer?.name ?? graph.nodes[id].name);
}

export function isOutput(graph: Graph, id: number): boolean {
  return graph.outputs.includes(id);
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
