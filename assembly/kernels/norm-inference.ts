// Batch normalization in inference mode over channel-last data x (M,C): the moving statistics
// are constants, so the forward pass is one scale and shift per channel, the backward pass one
// scale, and a batch norm after a dense or convolution layer can be folded into its kernel and
// bias (docs/numerics.md). The per-channel arithmetic is f64, rounded once to f32; the same
// four-channel and one-channel walks as norm.ts's training passes.
import { scale_shift_column, scale_shift_tile } from './norm';
import { first, firsts, lanes, pack, second, seconds } from './norm-lanes';

// y (M,C) = x*inv + (beta - movingMean*inv), inv = gamma/sqrt(movingVar + eps). Reads the moving
// statistics only (inference, or a frozen layer in training).
// Rows per cache block in the inference pass (64 rows of 64 channels: 16 KB of x, 16 KB of y).
const BN_ROW_BLOCK: i32 = 64;

export function batchnorm_forward_inference(y: usize, x: usize, gamma: usize, beta: usize, movingMean: usize, movingVar: usize,
  M: i32, C: i32, epsilon: f32): void {
  if (M <= 0 || C <= 0) return;
  const stride = <usize>C << 2;
  // Blocks of rows that stay in cache while every channel group passes over them: walking a
  // whole column group at a time would stream the tensor once per group.
  for (let r0 = 0; r0 < M; r0 += BN_ROW_BLOCK) {
    const rows = min(BN_ROW_BLOCK, M - r0);
    const yb = y + <usize>r0 * stride;
    const xb = x + <usize>r0 * stride;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const c0 = inference_channel(c, gamma, beta, movingMean, movingVar, epsilon);
        const c1 = inference_channel(c + 1, gamma, beta, movingMean, movingVar, epsilon);
        const c2 = inference_channel(c + 2, gamma, beta, movingMean, movingVar, epsilon);
        const c3 = inference_channel(c + 3, gamma, beta, movingMean, movingVar, epsilon);
        const col = <usize>c << 2;
        scale_shift_tile(yb + col, xb + col, rows, stride, firsts(c0, c1, c2, c3), seconds(c0, c1, c2, c3));
      }
    }
    for (; c < C; c++) {
      const cc = inference_channel(c, gamma, beta, movingMean, movingVar, epsilon);
      const col = <usize>c << 2;
      scale_shift_column(yb + col, xb + col, rows, stride, first(cc), second(cc));
    }
  }
}

// Inference-mode backward: dx (M,C) [+]= dy * gamma/sqrt(movingVar + eps). The moving statistics
// are constants here, so this is all of dx.
export function batchnorm_backward_inference(dx: usize, dy: usize, gamma: usize, movingVar: usize, M: i32, C: i32,
  epsilon: f32, accumulate: i32): void {
  if (M <= 0 || C <= 0) return;
  const stride = <usize>C << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= C; c += 4) {
      const k = lanes(
        inference_scale(c, gamma, movingVar, epsilon), inference_scale(c + 1, gamma, movingVar, epsilon),
        inference_scale(c + 2, gamma, movingVar, epsilon), inference_scale(c + 3, gamma, movingVar, epsilon),
      );
      const col = <usize>c << 2;
      let pg = dy + col;
      let pd = dx + col;
      for (let r = 0; r < M; r++, pg += stride, pd += stride) {
        const d = f32x4.mul(v128.load(pg), k);
        v128.store(pd, accumulate ? f32x4.add(v128.load(pd), d) : d);
      }
    }
  }
  for (; c < C; c++) {
    const k = inference_scale(c, gamma, movingVar, epsilon);
    const col = <usize>c << 2;
    let pg = dy + col;
    let pd = dx + col;
    for (let r = 0; r < M; r++, pg += stride, pd += stride) {
      const d = load<f32>(pg) * k;
      store<f32>(pd, accumulate ? load<f32>(pd) + d : d);
    }
  }
}

// (scale, shift) = (gamma/sqrt(mv + eps), beta - mm*scale).
function inference_channel(c: i32, gamma: usize, beta: usize, movingMean: usize, movingVar: usize, epsilon: f32): u64 {
  const o = <usize>c << 2;
  const scale = (gamma ? <f64>load<f32>(gamma + o) : 1) / Math.sqrt(<f64>load<f32>(movingVar + o) + <f64>epsilon);
  const shift = (beta ? <f64>load<f32>(beta + o) : 0) - <f64>load<f32>(movingMean + o) * scale;
  return pack(<f32>scale, <f32>shift);
}

// gamma/sqrt(mv + eps), rounded once: the forward inference scale.
function inference_scale(c: i32, gamma: usize, movingVar: usize, epsilon: f32): f32 {
  const o = <usize>c << 2;
  return <f32>((gamma ? <f64>load<f32>(gamma + o) : 1) / Math.sqrt(<f64>load<f32>(movingVar + o) + <f64>epsilon));
}

// Folds an inference-mode batch normalization into the layer before it: with inv = gamma/sqrt(mv+eps),
// wf (K,F) = w (K,F) * inv (per column) and bf (F) = (b - mm) * inv + beta, so that
// conv(x, wf) + bf = BN(conv(x, w) + b). b, gamma and beta may be 0 (none, 1, 0). An inference
// plan runs it in its prepare program when the weights change; a training plan at the start of
// every program that uses it (the kernel may be training), so the copy follows the weights.
export function batchnorm_fold(wf: usize, bf: usize, w: usize, b: usize, gamma: usize, beta: usize, movingMean: usize,
  movingVar: usize, K: i32, F: i32, epsilon: f32): void {
  for (let f = 0; f < F; f++) {
    const o = <usize>f << 2;
    const inv = <f32>((gamma ? <f64>load<f32>(gamma + o) : 1) / Math.sqrt(<f64>load<f32>(movingVar + o) + <f64>epsilon));
    const bias: f32 = b ? load<f32>(b + o) : 0;
    store<f32>(bf + o, (bias - load<f32>(movingMean + o)) * inv + (beta ? load<f32>(beta + o) : 0));
    for (let k = 0; k < K; k++) {
      const p = <usize>(k * F + f) << 2;
      store<f32>(wf + p, load<f32>(w + p) * inv);
    }
  }
}
