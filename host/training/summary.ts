// A model's parameter counts and its Keras-style summary: layers, output shapes, trainable and
// frozen parameters, and the planned arenas.
import { describeBreakdown, formatBytes } from '../core/errors';
import type { Plan } from '../compile/plan';
import type { Layer } from '../layers/layer';
import type { Model } from './model';

export function countParams(layers: readonly Layer[]): { total: number; trainable: number; nonTrainable: number } {
  let total = 0;
  let trainable = 0;
  for (const l of layers) {
    total += l.countParams();
    if (l.trainable) trainable += l.countTrainableParams();
  }
  return { total, trainable, nonTrainable: total - trainable };
}

// Layers, output shapes, trainable and frozen parameter counts, and the planned arena.
export function modelSummary(model: Model, inference: Plan, training: Plan | null, print: ((line: string) => void) | null): string {
  const lines: string[] = [];
  const row = (a: string, b: string, c: string, d: string) => `${a.padEnd(36)}${b.padEnd(22)}${c.padStart(10)}  ${d}`;
  lines.push(`Model: "${model.name}"`);
  lines.push(row('Layer (type)', 'Output Shape', 'Param #', 'Trainable'));
  lines.push('='.repeat(80));
  for (const l of model.layers) {
    const node = model.graph.nodes.find((nd) => nd.layer === l)!;
    const kind = l.kind === 'activation' ? String(l.config.activation) : l.kind;
    lines.push(row(`${l.name} (${kind})`, `(None, ${node.shape.join(', ')})`, String(l.countParams()), l.countParams() ? (l.trainable ? 'yes' : 'frozen') : '-'));
  }
  lines.push('='.repeat(80));
  const p = countParams(model.layers);
  lines.push(`Total params: ${p.total}`, `Trainable params: ${p.trainable}`, `Non-trainable (frozen) params: ${p.nonTrainable}`);
  lines.push(`Planned arena, inference (batch ${inference.batchSize}): ${formatBytes(inference.pages * 65536)} = ${describeBreakdown(inference.breakdown)}`);
  if (training) {
    const t = training;
    lines.push(`Planned arena, training (batch ${t.batchSize}): ${formatBytes(t.pages * 65536)} = ${describeBreakdown(t.breakdown)}`);
  }
  const text = lines.join('\n');
  if (print) print(text);
  return text;
}
