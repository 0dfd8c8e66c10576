// A model's parameter counts and its Keras-style summary: layers, output shapes, trainable and
// frozen parameters, and the planned arenas.
import { describeBreakdown, formatBytes } from '../core/errors';
import type { Plan } from '../compile/plan';
import type { Layer } from '../layers/layer';
import type { Model, Prediction } from './model';

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
export function modelSummary(model: Model<Prediction>, inference: Plan, training: Plan | null, print: ((line: string) => void) | null): string {
  const cells = [['Layer (type)', 'Output Shape', 'Param #', 'Trainable']];
  for (const l of model.layers) {
    const node = model.graph.nodes.find((nd) => nd.layer === l)!;
    const kind = l.kind === 'activation' ? String(l.config.activation) : l.kind;
    cells.push([`${l.name} (${kind})`, `(None, ${node.shape.join(', ')})`, String(l.countParams()), l.countParams() ? (l.trainable ? 'yes' : 'frozen') : '-']);
  }
  // Each column as wide as its longest cell (long layer names never run into the shapes).
  const width = [0, 1, 2, 3].map((c) => Math.max(...cells.map((r) => r[c].length)));
  const row = ([a, b, c, d]: string[]) => `${a.padEnd(width[0] + 2)}${b.padEnd(width[1] + 2)}${c.padStart(width[2])}  ${d}`;
  const rule = '='.repeat(Math.max(80, width[0] + width[1] + width[2] + width[3] + 6));
  const lines = [`Model: "${model.name}"`, row(cells[0]), rule, ...cells.slice(1).map(row), rule];
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
