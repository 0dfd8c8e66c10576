// A model's parameter counts and its Keras-style summary: layers, output shapes, trainable and
// frozen parameters, and the planned arenas.
import { describeBreakdown, formatBytes } from '../core/errors';
import { describeLowerBound, type Plan } from '../compile/plan';
import { describeBanding } from '../compile/band';
import type { Layer } from '../layers/layer';
import { threadsExtraBytes } from '../runtime/executor';
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

// Layers, output shapes, trainable and frozen parameter counts, and the planned arena. A
// functional model lists its inputs too and, as Keras does, what each layer is connected to
// ('<layer>[call][0]', one entry per input of each call).
export function modelSummary(model: Model<Prediction>, inference: Plan, training: Plan | null, print: ((line: string) => void) | null,
  threads?: { threads: number; asked: number; fallback: string | null }): string {
  const functional = !model.isSequential;
  const g = model.graph;
  const cells = [['Layer (type)', 'Output Shape', 'Param #', 'Trainable', ...(functional ? ['Connected to'] : [])]];
  // node id -> '<layer>[call][0]' (Keras's inbound-node reference)
  const refs = new Map<number, string>();
  const calls = new Map<string, number>();
  for (const n of g.nodes) {
    const name = n.layer?.name ?? model.inputNames[g.inputs.indexOf(n.id)];
    const k = calls.get(name) ?? 0;
    calls.set(name, k + 1);
    refs.set(n.id, `${name}[${k}][0]`);
  }
  if (functional) {
    g.inputs.forEach((id, i) => cells.push([`${model.inputNames[i]} (InputLayer)`, `(None, ${g.nodes[id].shape.join(', ')})`, '0', '-', '-']));
  }
  for (const l of model.layers) {
    const nodes = g.nodes.filter((nd) => nd.layer === l);
    const kind = l.kind === 'activation' ? String(l.config.activation) : l.kind;
    const connected = functional ? [nodes.flatMap((nd) => nd.inputs.map((i) => refs.get(i)!)).join(', ')] : [];
    cells.push([`${l.name} (${kind})`, `(None, ${nodes[0].shape.join(', ')})`, String(l.countParams()), l.countParams() ? (l.trainable ? 'yes' : frozenKind(l)) : '-', ...connected]);
  }
  // Each column as wide as its longest cell (long layer names never run into the shapes).
  const width = cells[0].map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const row = ([a, b, c, d, e]: string[]) => `${a.padEnd(width[0] + 2)}${b.padEnd(width[1] + 2)}${c.padStart(width[2])}  ${e === undefined ? d : `${d.padEnd(width[3] + 2)}${e}`}`;
  const rule = '='.repeat(Math.max(80, width[0] + width[1] + width[2] + width[3] + 6 + (functional ? width[4] + 2 : 0)));
  const lines = [`Model: "${model.name}"`, row(cells[0]), rule, ...cells.slice(1).map(row), rule];
  const p = countParams(model.layers);
  lines.push(`Total params: ${p.total}`, `Trainable params: ${p.trainable}`, `Non-trainable (frozen) params: ${p.nonTrainable}`);
  lines.push(`Planned arena, inference (batch ${inference.batchSize}): ${formatBytes(inference.pages * 65536)} = ${describeBreakdown(inference.breakdown)}`);
  lines.push(`  ${describeLowerBound(inference.lowerBound)}`);
  if (inference.banding) lines.push(`  ${describeBanding(inference.banding)}`);
  if (training) {
    const t = training;
    lines.push(`Planned arena, training (batch ${t.batchSize}): ${formatBytes(t.pages * 65536)} = ${describeBreakdown(t.breakdown)}`);
    lines.push(`  ${describeLowerBound(t.lowerBound)}`);
    if (t.banding) lines.push(`  ${describeBanding(t.banding)}`);
  }
  if (threads) lines.push(threadsLine(threads));
  const text = lines.join('\n');
  if (print) print(text);
  return text;
}

// The summary's and inspect's line on threads: the count, and why one where more were asked.
export function threadsLine(t: { threads: number; asked: number; fallback: string | null }): string {
  if (t.fallback) return `Threads: ${t.threads} (asked for ${t.asked}; one thread because ${t.fallback})`;
  // Not in memoryBudget nor in the planned arena above: the memory past the plan (docs/threads.md).
  if (t.threads > 1) return `Threads: ${t.threads} (+${formatBytes(threadsExtraBytes(t.threads))} outside the planned arena: the pool's control block and each worker's GEMM packing scratch)`;
  return `Threads: ${t.threads}`;
}

// A frozen layer's Trainable cell: its int8 kernel and, with Keras's absmax activation
// quantizer, that too (docs/int8.md), as `edgetune inspect` shows them.
export function frozenKind(l: Layer): string {
  return l.int8 ? (l.int8.activationQuantizer === 'absmax' ? 'frozen, int8 absmax' : 'frozen, int8') : 'frozen';
}
