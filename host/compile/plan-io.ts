// A plan's inputs and outputs: one input region per model input, one labels region per output
// (with a loss), and the loss and metric ops at the end of evaluate, train and gradients. A model
// with several outputs (or a weighted single loss) gets Keras's multi-output loss: each output's
// loss on its own labels, its gradient scaled by its loss weight, and per output the unweighted
// loss and the correct rows kept in a metrics region (output_metrics), whose first f64 is the
// weighted total that the header's loss sum then holds.
import { InvalidArgumentError } from '../core/errors';
import { type Graph, outputNames, sizeOf } from './graph';
import { type LossConfig, isCategorical, labelsAreSparse } from '../training/losses';
import { isSoftmaxOutput } from './activation-lowering';
import { accuracyOp, lossOps } from './loss-ops';
import { align16, type NodeValue, type ProgramBuilder, type Region } from './program';

export interface PlanInput {
  name: string;
  shape: number[]; // per sample
  region: number;
}

export interface PlanOutput {
  name: string; // the layer that produces it (Keras's output name, as in `<name>_loss`)
  node: number;
  shape: number[]; // per sample
  loss: LossConfig | null;
  weight: number; // Keras loss_weights (1 unless given)
  labels: { sparse: boolean; floatsPerSample: number } | null;
  labelsRegion: number | null;
  // One f32 weight per sample (Keras sample_weight, which fit fills per batch); planned on demand.
  weightsRegion: number | null;
  // Softmax output whose cross-entropy is computed from its logits (it has no other reader).
  fused: boolean;
}

function addRegion(regions: Region[], r: Region): number {
  regions.push(r);
  return regions.length - 1;
}

// The losses of a graph's outputs, one per output, from one loss for all or one per output.
export function lossesPerOutput(graph: Graph, loss: LossConfig | readonly LossConfig[] | undefined, weights: readonly number[] | undefined): { losses: LossConfig[] | null; weights: number[] } {
  const n = graph.outputs.length;
  if (weights !== undefined && weights.length !== n) throw new InvalidArgumentError(`lossWeights has ${weights.length} entries; the model has ${n} outputs (${outputNames(graph).join(', ')})`);
  for (const w of weights ?? []) if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) throw new InvalidArgumentError(`lossWeights must be finite non-negative numbers, got ${w}`);
  if (loss === undefined) return { losses: null, weights: weights ? [...weights] : new Array<number>(n).fill(1) };
  const losses = Array.isArray(loss) ? [...loss] : new Array<LossConfig>(n).fill(loss as LossConfig);
  if (losses.length !== n) throw new InvalidArgumentError(`${losses.length} losses for a model with ${n} outputs (${outputNames(graph).join(', ')})`);
  return { losses, weights: weights ? [...weights] : new Array<number>(n).fill(1) };
}

// The input regions, then the labels regions (one per output with a loss), after the step header.
export function ioRegions(regions: Region[], graph: Graph, batch: number, losses: LossConfig[] | null, weights: number[], consumers: Map<number, number[]>,
  sampleWeights = false): { inputs: PlanInput[]; outputs: PlanOutput[] } {
  const single = graph.inputs.length === 1;
  const inputs = graph.inputs.map((id) => {
    const node = graph.nodes[id];
    const region = addRegion(regions, { name: single ? 'input' : `input ${node.name}`, kind: 'input', offset: -1, bytes: align16(batch * sizeOf(node.shape) * 4) });
    return { name: node.name, shape: [...node.shape], region };
  });
  const names = outputNames(graph);
  const outputs = graph.outputs.map((id, i): PlanOutput => {
    const node = graph.nodes[id];
    const loss = losses ? losses[i] : null;
    let labels: PlanOutput['labels'] = null;
    let labelsRegion: number | null = null;
    let weightsRegion: number | null = null;
    if (loss) {
      const sparse = labelsAreSparse(loss);
      labels = { sparse, floatsPerSample: sparse ? sizeOf(node.shape.slice(0, -1)) : sizeOf(node.shape) };
      const name = graph.outputs.length === 1 ? 'labels' : `labels ${names[i]}`;
      labelsRegion = addRegion(regions, { name, kind: 'labels', offset: -1, bytes: align16(batch * labels.floatsPerSample * 4) });
      if (sampleWeights) weightsRegion = addRegion(regions, { name: `sample weights${graph.outputs.length === 1 ? '' : ` ${names[i]}`}`, kind: 'labels', offset: -1, bytes: align16(batch * 4) });
    }
    const fused = !!loss && isCategorical(loss) && !loss.fromLogits && isSoftmaxOutput(node) && !(consumers.get(id)?.length) &&
      graph.outputs.filter((x) => x === id).length === 1;
    return { name: names[i], node: id, shape: [...node.shape], loss, weight: weights[i], labels, labelsRegion, weightsRegion, fused };
  });
  return { inputs, outputs };
}

// Whether the plan reports per-output losses through a metrics region (several outputs, or one
// whose loss is weighted).
export function hasOutputMetrics(outputs: readonly PlanOutput[]): boolean {
  return outputs.length > 1 || (outputs.length === 1 && outputs[0].weight !== 1);
}

// Each output's loss and accuracy ops, its gradient's weighting and (several outputs) its metrics;
// `penalties` emits the regularization penalties (a single output keeps the order loss,
// penalties, accuracy). dlogits(i): the gradient buffer of output i, or null when nothing
// upstream needs one. Returns the metrics region, or null.
export function outputLossOps(p: ProgramBuilder, outputs: readonly PlanOutput[], values: readonly NodeValue[],
  dlogits: (i: number) => number | null, penalties: () => void): number | null {
  if (!hasOutputMetrics(outputs)) {
    const [o] = outputs;
    lossOps(p, o.loss!, values[o.node], o.labelsRegion!, dlogits(0), o.fused, o.weightsRegion);
    penalties();
    accuracyOp(p, o.loss!, values[o.node], o.labelsRegion!);
    return null;
  }
  const metrics = p.activation('output metrics', 2 + 4 * outputs.length);
  p.pinned.push(metrics);
  outputs.forEach((o, i) => {
    const out = values[o.node];
    const dl = dlogits(i);
    lossOps(p, o.loss!, out, o.labelsRegion!, dl, o.fused, o.weightsRegion);
    if (dl !== null && o.weight !== 1) p.emit('axpy', 'loss', { y: dl, x: dl }, { count: sizeOf(out.shape), alpha: o.weight, accumulate: 0 });
    accuracyOp(p, o.loss!, out, o.labelsRegion!);
    p.emit('output_metrics', 'loss', { m: metrics }, { output: i, weight: o.weight, last: i === outputs.length - 1 ? 1 : 0 });
  });
  penalties();
  return metrics;
}
