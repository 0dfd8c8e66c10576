// Learning-rate schedules, evaluated in wasm at the start of every training step from the
// optimizer's iteration count (Keras: step = iterations, the first update uses step 0), so that
// every engine (and the WASI module, which has no JS at all) computes the same rate. Math in f64,
// the result rounded once to f32. Parameters p (np f32 values) live in the op stream.
import { S_ITER, S_LR, S_BASE_LR, S_MOMENTUM, S_LR_OVERRIDE } from '../interp/opcodes';

export const SCHEDULE_CONSTANT: i32 = 0; // the optimizer's learning-rate variable (header S_BASE_LR)
export const SCHEDULE_EXPONENTIAL: i32 = 1; // lr0, decaySteps, decayRate, staircase
export const SCHEDULE_PIECEWISE: i32 = 2; // nb, b_0..b_{nb-1}, v_0..v_nb
export const SCHEDULE_INVERSE_TIME: i32 = 3; // lr0, decaySteps, decayRate, staircase, power
export const SCHEDULE_POLYNOMIAL: i32 = 4; // lr0, decaySteps, endLr, power, cycle
export const SCHEDULE_COSINE: i32 = 5; // lr0, decaySteps, alpha, warmupTarget, warmupSteps, hasWarmup
export const SCHEDULE_ONE_CYCLE: i32 = 6; // iterations, maxLr, startLr, lastLr, maxMomentum, minMomentum, cycleMomentum

// @ts-ignore: decorator
@inline function P(p: usize, i: i32): f64 {
  return <f64>load<f32>(p + (<usize>i << 2));
}

// Géron's 1cycle interpolation: rate1 at iter1 to rate2 at iter2.
// @ts-ignore: decorator
@inline function lerp(i: f64, i1: f64, i2: f64, r1: f64, r2: f64): f64 {
  return (r2 - r1) * (i - i1) / (i2 - i1) + r1;
}

// Writes the learning rate for this step to S_LR (and, for 1cycle with momentum cycling, the
// momentum to S_MOMENTUM). A positive S_LR_OVERRIDE (the LR finder) takes precedence.
export function schedule_lr(scalars: usize, kind: i32, p: usize, np: i32): void {
  const step = <f64>load<i32>(scalars + S_ITER);
  const fixed = load<f32>(scalars + S_LR_OVERRIDE);
  if (fixed > 0) { store<f32>(scalars + S_LR, fixed); return; }
  let lr: f64 = <f64>load<f32>(scalars + S_BASE_LR);
  switch (kind) {
    case SCHEDULE_EXPONENTIAL: {
      let e = step / P(p, 1);
      if (P(p, 3) != 0) e = Math.floor(e);
      lr = P(p, 0) * Math.pow(P(p, 2), e);
      break;
    }
    case SCHEDULE_PIECEWISE: {
      const nb = <i32>P(p, 0);
      let i = 0;
      while (i < nb && step > P(p, 1 + i)) i++;
      lr = P(p, 1 + nb + i);
      break;
    }
    case SCHEDULE_INVERSE_TIME: {
      let e = step / P(p, 1);
      if (P(p, 3) != 0) e = Math.floor(e);
      const d = 1 + P(p, 2) * e;
      lr = P(p, 0) / (P(p, 4) == 1 ? d : Math.pow(d, P(p, 4)));
      break;
    }
    case SCHEDULE_POLYNOMIAL: {
      const lr0 = P(p, 0), end = P(p, 2), power = P(p, 3);
      let ds = P(p, 1);
      let s = step;
      if (P(p, 4) != 0) ds *= step == 0 ? 1 : Math.ceil(step / ds);
      else s = min(step, ds);
      lr = (lr0 - end) * Math.pow(1 - s / ds, power) + end;
      break;
    }
    case SCHEDULE_COSINE: {
      const lr0 = P(p, 0), ds = P(p, 1), alpha = P(p, 2), target = P(p, 3), ws = P(p, 4);
      if (P(p, 5) == 0) {
        lr = lr0 * ((1 - alpha) * (0.5 * (1 + Math.cos(Math.PI * (min(step, ds) / ds)))) + alpha);
      } else {
        const s = min(step, ds + ws);
        if (s < ws) lr = (target - lr0) * (s / ws) + lr0;
        else lr = target * ((1 - alpha) * (0.5 * (1 + Math.cos(Math.PI * ((s - ws) / ds)))) + alpha);
      }
      break;
    }
    case SCHEDULE_ONE_CYCLE: {
      const total = P(p, 0), maxLr = P(p, 1), start = P(p, 2), last = P(p, 3), maxM = P(p, 4), minM = P(p, 5);
      const lastIts = Math.floor(total / 10) + 1;
      const half = Math.floor((total - lastIts) / 2);
      const i = min(step, total);
      let m: f64;
      if (i < half) { lr = lerp(i, 0, half, start, maxLr); m = lerp(i, 0, half, maxM, minM); }
      else if (i < 2 * half) { lr = lerp(i, half, 2 * half, maxLr, start); m = lerp(i, half, 2 * half, minM, maxM); }
      else { lr = lerp(i, 2 * half, total, start, last); m = maxM; }
      if (P(p, 6) != 0) store<f32>(scalars + S_MOMENTUM, <f32>m);
      break;
    }
    default: break;
  }
  store<f32>(scalars + S_LR, <f32>lr);
}
