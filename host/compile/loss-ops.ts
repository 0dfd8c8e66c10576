// The loss and metric ops at the end of a program.
import { type LossConfig, isCategorical, labelsAreSparse } from '../training/losses';
import { last, type NodeValue, type ProgramBuilder, type Ref, rowsOf } from './program';

// The kinds of loss_weighted (assembly/kernels/loss.ts loss_sample_weighted), by the unweighted op.
const WEIGHTED_LOSS_KIND = { xent_logits_sparse: 0, xent_logits_dense: 1, xent_probs: 2, mse: 3, bce_logits: 4, bce_probs: 5 } as const;

// fused: `out` holds the logits of a softmax output (the loss applies the softmax itself).
// sampleWeights: the region of this output's per-sample weights (Keras sample_weight), or null.
export function lossOps(p: ProgramBuilder, loss: LossConfig, out: NodeValue, labels: number, dlogits: number | null, fused: boolean, sampleWeights: number | null = null): void {
  const sparse = labelsAreSparse(loss) ? 1 : 0;
  const refs: Record<string, Ref> = dlogits !== null ? { dx: dlogits } : {};
  const zero: Record<string, number> = dlogits !== null ? {} : { dx: 0 };
  const rows = rowsOf(out.shape);
  const n = last(out.shape);
  const op = !isCategorical(loss)
    ? (loss.className === 'meanSquaredError' ? 'mse' : loss.fromLogits ? 'bce_logits' : 'bce_probs')
    : fused || loss.fromLogits ? (sparse ? 'xent_logits_sparse' : 'xent_logits_dense') : 'xent_probs';
  if (sampleWeights !== null) {
    const kind = WEIGHTED_LOSS_KIND[op];
    p.emit('loss_weighted', 'loss', { ...refs, x: out.region, y: labels, sw: sampleWeights }, { ...zero, kind, sparse: isCategorical(loss) ? sparse : 0, rows, n });
    return;
  }
  if (op === 'mse' || op === 'bce_logits' || op === 'bce_probs') {
    p.emit(op, 'loss', { ...refs, [op === 'bce_logits' ? 'x' : 'p']: out.region, y: labels }, { ...zero, rows, n });
  } else if (op === 'xent_logits_sparse') {
    p.emit(op, 'loss', { ...refs, x: out.region, labels }, { ...zero, rows, n });
  } else if (op === 'xent_logits_dense') {
    p.emit(op, 'loss', { ...refs, x: out.region, y: labels }, { ...zero, rows, n });
  } else {
    p.emit(op, 'loss', { ...refs, p: out.region, y: labels }, { ...zero, sparse, rows, n });
  }
}

export function accuracyOp(p: ProgramBuilder, loss: LossConfig, out: NodeValue, labels: number): void {
  if (!isCategorical(loss)) return; // compile() accepts the accuracy metric only for class outputs
  p.emit('accuracy', 'metrics', { x: out.region, y: labels }, { sparse: labelsAreSparse(loss) ? 1 : 0, rows: rowsOf(out.shape), n: last(out.shape) });
}
