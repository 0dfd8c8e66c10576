// Inference plans as the fusion tests read them: the forward program's op names, and one model's
// weights copied into another built with the same layer names (a fused plan against the same
// model with the fused tensors also made outputs: the unfused plan).
import type { Model } from '../../dist/node.js';

type Planned = { planInference: (batch: number, options?: undefined, threads?: number) => { programs: { forward?: { ops: { op: string }[] } } } };

export const opNames = (m: Planned, batch: number, threads?: number) => m.planInference(batch, undefined, threads).programs.forward!.ops.map((o) => o.op);

export function copyWeights(from: Model, to: Model): void {
  for (const l of from.layers) if (l.weightSpecs.length) to.layers.find((t) => t.name === l.name)!.setWeights(l.getWeights());
}
