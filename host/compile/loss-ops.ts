// The loss and metric ops at the end of a program.
import { type LossConfig, isCategorical, labelsAreSparse } from '../training/losses';
import { last, type NodeValue, type ProgramBuilder, type Ref, rowsOf } from './program';

// fused: `out` holds the logits of a softmax output (the loss applies the softmax itself).
export function lossOps(p: ProgramBuilder, loss: LossConfig, out: NodeValue, labels: number, dlogits: number | null, fused: boolean): void {
  const sparse = labelsAreSparse(loss) ? 1 : 0;
  const refs: Record<string, Ref> = dlogits !== null ? { dx: dlogits } : {};
  const zero: Record<string, number> = dlogits !== null ? {} : { dx: 0 };
  const rows = rowsOf(out.shape);
  const n = last(out.shape);
  if (!isCategorical(loss)) {
    const op = loss.className === 'meanSquaredError' ? 'mse' : loss.fromLogits ? 'bce_logits' : 'bce_probs';
    p.emit(op, 'loss', { ...refs, [op === 'bce_logits' ? 'x' : 'p']: out.region, y: labels }, { ...zero, rows, n });
    return;
  }
  if (fused || loss.fromLogits) {
    if (sparse) p.emit('xent_logits_sparse', 'loss', { ...refs, x: out.region, labels }, { ...zero, rows, n });
    else p.emit('xent_logits_dense', 'loss', { ...refs, x: out.region, y: labels }, { ...zero, rows, n });
  } else {
    p.emit('xent_probs', 'loss', { ...refs, p: out.region, y: labels }, { ...zero, sparse, rows, n });
  }
}

export function accuracyOp(p: ProgramBuilder, loss: LossConfig, out: NodeValue, labels: number): void {
  if (!isCategorical(loss)) return; // compile() accepts the accuracy metric only for class outputs
  p.emit('accuracy', 'metrics', { x: out.region, y: labels }, { sparse: labelsAreSparse(loss) ? 1 : 0, rows: rowsOf(out.shape), n: last(out.shape) });
}
