// The model graph: nodes in topological order, each a layer applied to earlier nodes' outputs.
// A sequential model is the chain case; fan-out and merges need no other structure.
import { InvalidArgumentError, ShapeError } from './errors';
import type { Layer } from './layers';

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
    seen.add(layer.name);
    const prev = nodes[nodes.length - 1];
    layer.build(prev.shape);
    nodes.push({ id: nodes.length, name: layer.name, layer, inputs: [prev.id], shape: layer.outputShape(prev.shape) });
  }
  return { nodes, input: 0, output: nodes.length - 1 };
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
