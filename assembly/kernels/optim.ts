import { update_split } from './threads';
import {
  S_LR, S_MOMENTUM, S_ITER, S_GRAD_NORM_SQ, S_NADAM_U, S_BASE_LR, S_LR_OVERRIDE, CLIP_VALUE, CLIP_NORM, CLIP_GLOBAL_NORM,
  OPT_SGD, OPT_ADAGRAD, OPT_RMSPROP, OPT_ADAM, OPT_NADAM, OPT_ADAMAX,
} from '../interp/opcodes';

// Optimizer updates over a flat parameter slab w (n) with gradients g (n) and slots of the same
// layout (Keras 3 formulas, docs/numerics.md). Every update runs one pass that does,
// per element and in Keras's order:
//   1. clip:   g = clamp(g * cmul / cdiv, lo, hi)   (no clipping: 1, 1, -inf, +inf: g exactly)
//   2. decay:  w = w - w * wd * lr                 (wd 0: w exactly)
//   3. update: the optimizer's rule.
// The clip factors come from the interpreter (assembly/interp/run.ts): clipvalue v gives (1, 1, -v, v);
// clipnorm c gives (c, max(||g||, c), -inf, inf) for this tensor; global_clipnorm c gives
// (c / max(N, c), 1, -inf, inf). Per-step scalars (bias corrections, Nadam's products) are computed
// here, in wasm, so that every engine rounds them the same way. The SIMD body and the scalar tail
// perform the same operations in the same order, so results do not depend on n % 4 or on SIMD.

// @ts-ignore: decorator
@inline function clip1(g: f32, cmul: f32, cdiv: f32, lo: f32, hi: f32): f32 {
  return min(max((g * cmul) / cdiv, lo), hi);
}
// @ts-ignore: decorator
@inline function clip4(g: v128, cmul: v128, cdiv: v128, lo: v128, hi: v128): v128 {
  return f32x4.min(f32x4.max(f32x4.div(f32x4.mul(g, cmul), cdiv), lo), hi);
}
// Whether the clip factors change anything (no clipping: 1, 1, -inf, +inf).
// @ts-ignore: decorator
@inline function clips(cmul: f32, cdiv: f32, lo: f32, hi: f32): bool {
  return !(cmul == 1 && cdiv == 1 && lo == -Infinity && hi == Infinity);
}
// @ts-ignore: decorator
@inline function decay1(w: f32, wd: f32, lr: f32): f32 {
  return w - (w * wd) * lr;
}
// @ts-ignore: decorator
@inline function decay4(w: v128, wd: v128, lr: v128): v128 {
  return f32x4.sub(w, f32x4.mul(f32x4.mul(w, wd), lr));
}

// Keras SGD. momentum 0: w -= lr*g. Otherwise v = mu*v - lr*g; w += v, or with nesterov
// w += mu*v - lr*g using the new v. v is not touched when momentum is 0.
export function sgd_update(w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, nesterov: i32,
  cmul: f32, cdiv: f32, lo: f32, hi: f32, wd: f32): void {
  let i = 0;
  // Loop-invariant: a no-op clip (a divide) and decay are skipped, in the SIMD loops and the
  // scalar tails alike, so both paths give the same bits for every input.
  const clipping = clips(cmul, cdiv, lo, hi), decaying = wd != 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr), vmu = f32x4.splat(momentum), vwd = f32x4.splat(wd);
    const vcm = f32x4.splat(cmul), vcd = f32x4.splat(cdiv), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    // The plain momentum case gets a loop of its own: SGD moves few bytes per parameter, so even
    // predictable branches show (a branchy single loop measured 1.7x slower on 1M parameters).
    if (momentum == 0) {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        let gi = v128.load(g + o);
        if (clipping) gi = clip4(gi, vcm, vcd, vlo, vhi); // a branch, not a select of both sides
        let wi = v128.load(w + o);
        if (decaying) wi = decay4(wi, vwd, vlr);
        v128.store(w + o, f32x4.sub(wi, f32x4.mul(vlr, gi)));
      }
    } else if (!nesterov && !clipping && !decaying) {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        const gi = v128.load(g + o);
        const vi = f32x4.sub(f32x4.mul(vmu, v128.load(v + o)), f32x4.mul(vlr, gi));
        v128.store(v + o, vi);
        v128.store(w + o, f32x4.add(v128.load(w + o), vi));
      }
    } else {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        let gi = v128.load(g + o);
        if (clipping) gi = clip4(gi, vcm, vcd, vlo, vhi); // a branch, not a select of both sides
        let wi = v128.load(w + o);
        if (decaying) wi = decay4(wi, vwd, vlr);
        const vi = f32x4.sub(f32x4.mul(vmu, v128.load(v + o)), f32x4.mul(vlr, gi));
        v128.store(v + o, vi);
        if (nesterov) v128.store(w + o, f32x4.add(wi, f32x4.sub(f32x4.mul(vmu, vi), f32x4.mul(vlr, gi))));
        else v128.store(w + o, f32x4.add(wi, vi));
      }
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = clipping ? clip1(load<f32>(g + o), cmul, cdiv, lo, hi) : load<f32>(g + o);
    const wi = decaying ? decay1(load<f32>(w + o), wd, lr) : load<f32>(w + o);
    if (momentum == 0) {
      store<f32>(w + o, wi - lr * gi);
    } else {
      const vi = momentum * load<f32>(v + o) - lr * gi;
      store<f32>(v + o, vi);
      store<f32>(w + o, wi + (nesterov ? momentum * vi - lr * gi : vi));
    }
  }
}

// Keras Adagrad: acc += g^2; w -= lr*g / sqrt(acc + eps). The accumulator starts at
// initial_accumulator_value (the plan's init program fills it).
export function adagrad_update(w: usize, g: usize, acc: usize, n: i32, lr: f32, epsilon: f32,
  cmul: f32, cdiv: f32, lo: f32, hi: f32, wd: f32): void {
  let i = 0;
  // Loop-invariant: a no-op clip (a divide) and decay are skipped, in the SIMD loops and the
  // scalar tails alike, so both paths give the same bits for every input.
  const clipping = clips(cmul, cdiv, lo, hi), decaying = wd != 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr), ve = f32x4.splat(epsilon), vwd = f32x4.splat(wd);
    const vcm = f32x4.splat(cmul), vcd = f32x4.splat(cdiv), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    // Branches, not `c ? x : y` on v128 values: that compiles to a select which evaluates both
    // sides, and the divide of a no-op clip then cost 3-4x the update.
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let gi = v128.load(g + o);
      if (clipping) gi = clip4(gi, vcm, vcd, vlo, vhi);
      let wi = v128.load(w + o);
      if (decaying) wi = decay4(wi, vwd, vlr);
      const ai = f32x4.add(v128.load(acc + o), f32x4.mul(gi, gi));
      v128.store(acc + o, ai);
      v128.store(w + o, f32x4.sub(wi, f32x4.div(f32x4.mul(vlr, gi), f32x4.sqrt(f32x4.add(ai, ve)))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = clipping ? clip1(load<f32>(g + o), cmul, cdiv, lo, hi) : load<f32>(g + o);
    const wi = decaying ? decay1(load<f32>(w + o), wd, lr) : load<f32>(w + o);
    const ai = load<f32>(acc + o) + gi * gi;
    store<f32>(acc + o, ai);
    store<f32>(w + o, wi - (lr * gi) / Mathf.sqrt(ai + epsilon));
  }
}

// Keras RMSprop: v = rho*v + (1-rho)*g^2; centered (mg != 0): mg = rho*mg + (1-rho)*g and
// den = v - mg^2 + eps, else den = v + eps; inc = lr*g / sqrt(den); with a momentum slot
// (mom != 0): mom = mu*mom + inc, w -= mom; else w -= inc.
export function rmsprop_update(w: usize, g: usize, vel: usize, mom: usize, mg: usize, n: i32, lr: f32, rho: f32,
  momentum: f32, epsilon: f32, cmul: f32, cdiv: f32, lo: f32, hi: f32, wd: f32): void {
  const c: f32 = 1 - rho;
  let i = 0;
  // Loop-invariant: a no-op clip (a divide) and decay are skipped, in the SIMD loops and the
  // scalar tails alike, so both paths give the same bits for every input.
  const clipping = clips(cmul, cdiv, lo, hi), decaying = wd != 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr), vrho = f32x4.splat(rho), vc = f32x4.splat(c), vmu = f32x4.splat(momentum);
    const ve = f32x4.splat(epsilon), vwd = f32x4.splat(wd);
    const vcm = f32x4.splat(cmul), vcd = f32x4.splat(cdiv), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    // Branches, not `c ? x : y` on v128 values: that compiles to a select which evaluates both
    // sides, and the divide of a no-op clip then cost 3-4x the update.
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let gi = v128.load(g + o);
      if (clipping) gi = clip4(gi, vcm, vcd, vlo, vhi);
      let wi = v128.load(w + o);
      if (decaying) wi = decay4(wi, vwd, vlr);
      const vi = f32x4.add(f32x4.mul(vrho, v128.load(vel + o)), f32x4.mul(vc, f32x4.mul(gi, gi)));
      v128.store(vel + o, vi);
      let den: v128;
      if (mg) {
        const ai = f32x4.add(f32x4.mul(vrho, v128.load(mg + o)), f32x4.mul(vc, gi));
        v128.store(mg + o, ai);
        den = f32x4.add(f32x4.sub(vi, f32x4.mul(ai, ai)), ve);
      } else {
        den = f32x4.add(vi, ve);
      }
      let inc = f32x4.div(f32x4.mul(vlr, gi), f32x4.sqrt(den));
      if (mom) {
        inc = f32x4.add(f32x4.mul(vmu, v128.load(mom + o)), inc);
        v128.store(mom + o, inc);
      }
      v128.store(w + o, f32x4.sub(wi, inc));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = clipping ? clip1(load<f32>(g + o), cmul, cdiv, lo, hi) : load<f32>(g + o);
    const wi = decaying ? decay1(load<f32>(w + o), wd, lr) : load<f32>(w + o);
    const vi = rho * load<f32>(vel + o) + c * (gi * gi);
    store<f32>(vel + o, vi);
    let den: f32;
    if (mg) {
      const ai = rho * load<f32>(mg + o) + c * gi;
      store<f32>(mg + o, ai);
      den = (vi - ai * ai) + epsilon;
    } else {
      den = vi + epsilon;
    }
    let inc = (lr * gi) / Mathf.sqrt(den);
    if (mom) {
      inc = momentum * load<f32>(mom + o) + inc;
      store<f32>(mom + o, inc);
    }
    store<f32>(w + o, wi - inc);
  }
}

// Keras Adam (and AdamW, which is Adam with weight decay): m += (g-m)(1-b1); v += (g^2-v)(1-b2);
// alpha = lr*sqrt(1-b2^t)/(1-b1^t); w -= alpha*m/(sqrt(v)+eps). amsgrad (vhat != 0):
// vhat = max(vhat, v) replaces v in the update.
export function adam_update(w: usize, g: usize, m: usize, v: usize, vhat: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, epsilon: f32, t: i32, cmul: f32, cdiv: f32, lo: f32, hi: f32, wd: f32): void {
  const alpha = <f32>(<f64>lr * Math.sqrt(1 - Math.pow(<f64>beta2, t)) / (1 - Math.pow(<f64>beta1, t)));
  const c1: f32 = 1 - beta1;
  const c2: f32 = 1 - beta2;
  let i = 0;
  // Loop-invariant: a no-op clip (a divide) and decay are skipped, in the SIMD loops and the
  // scalar tails alike, so both paths give the same bits for every input.
  const clipping = clips(cmul, cdiv, lo, hi), decaying = wd != 0;
  if (ASC_FEATURE_SIMD) {
    const vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2), va = f32x4.splat(alpha), ve = f32x4.splat(epsilon);
    const vlr = f32x4.splat(lr), vwd = f32x4.splat(wd);
    const vcm = f32x4.splat(cmul), vcd = f32x4.splat(cdiv), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    // Branches, not `c ? x : y` on v128 values: that compiles to a select which evaluates both
    // sides, and the divide of a no-op clip then cost 3-4x the update.
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let gi = v128.load(g + o);
      if (clipping) gi = clip4(gi, vcm, vcd, vlo, vhi);
      let wi = v128.load(w + o);
      if (decaying) wi = decay4(wi, vwd, vlr);
      let mi = v128.load(m + o);
      let vi = v128.load(v + o);
      mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), vc1));
      vi = f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), vc2));
      v128.store(m + o, mi);
      v128.store(v + o, vi);
      if (vhat) {
        vi = f32x4.max(v128.load(vhat + o), vi);
        v128.store(vhat + o, vi);
      }
      const step = f32x4.div(f32x4.mul(mi, va), f32x4.add(f32x4.sqrt(vi), ve));
      v128.store(w + o, f32x4.sub(wi, step));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = clipping ? clip1(load<f32>(g + o), cmul, cdiv, lo, hi) : load<f32>(g + o);
    const wi = decaying ? decay1(load<f32>(w + o), wd, lr) : load<f32>(w + o);
    let mi = load<f32>(m + o);
    let vi = load<f32>(v + o);
    mi += (gi - mi) * c1;
    vi += (gi * gi - vi) * c2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    if (vhat) {
      vi = max(load<f32>(vhat + o), vi);
      store<f32>(vhat + o, vi);
    }
    store<f32>(w + o, wi - (mi * alpha) / (Mathf.sqrt(vi) + epsilon));
  }
}

// Nadam's momentum-cache factor u_t = b1*(1 - 0.5*0.96^t).
export function nadam_u(beta1: f32, t: i32): f64 {
  return <f64>beta1 * (1 - 0.5 * Math.pow(0.96, <f64>t));
}

// Keras Nadam. uprod = U_t, the product of u_i for i <= t (the interpreter multiplies it by u_t
// once per step, before the updates). m, v as in Adam; mhat = u_{t+1}*m/(1 - U_t*u_{t+1}) +
// (1-u_t)*g/(1 - U_t); vhat = v/(1-b2^t); w -= lr*mhat/(sqrt(vhat)+eps).
export function nadam_update(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, epsilon: f32,
  t: i32, uprod: f64, cmul: f32, cdiv: f32, lo: f32, hi: f32, wd: f32): void {
  const ut = nadam_u(beta1, t);
  const ut1 = nadam_u(beta1, t + 1);
  const a = <f32>ut1;
  const da = <f32>(1 - uprod * ut1);
  const b = <f32>(1 - ut);
  const db = <f32>(1 - uprod);
  const dv = <f32>(1 - Math.pow(<f64>beta2, t));
  const c1: f32 = 1 - beta1;
  const c2: f32 = 1 - beta2;
  let i = 0;
  // Loop-invariant: a no-op clip (a divide) and decay are skipped, in the SIMD loops and the
  // scalar tails alike, so both paths give the same bits for every input.
  const clipping = clips(cmul, cdiv, lo, hi), decaying = wd != 0;
  if (ASC_FEATURE_SIMD) {
    const vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2), ve = f32x4.splat(epsilon), vlr = f32x4.splat(lr), vwd = f32x4.splat(wd);
    const va = f32x4.splat(a), vda = f32x4.splat(da), vb = f32x4.splat(b), vdb = f32x4.splat(db), vdv = f32x4.splat(dv);
    const vcm = f32x4.splat(cmul), vcd = f32x4.splat(cdiv), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    // Branches, not `c ? x : y` on v128 values: that compiles to a select which evaluates both
    // sides, and the divide of a no-op clip then cost 3-4x the update.
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let gi = v128.load(g + o);
      if (clipping) gi = clip4(gi, vcm, vcd, vlo, vhi);
      let wi = v128.load(w + o);
      if (decaying) wi = decay4(wi, vwd, vlr);
      let mi = v128.load(m + o);
      let vi = v128.load(v + o);
      mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), vc1));
      vi = f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), vc2));
      v128.store(m + o, mi);
      v128.store(v + o, vi);
      const mh = f32x4.add(f32x4.div(f32x4.mul(va, mi), vda), f32x4.div(f32x4.mul(vb, gi), vdb));
      const vh = f32x4.div(vi, vdv);
      v128.store(w + o, f32x4.sub(wi, f32x4.div(f32x4.mul(mh, vlr), f32x4.add(f32x4.sqrt(vh), ve))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = clipping ? clip1(load<f32>(g + o), cmul, cdiv, lo, hi) : load<f32>(g + o);
    const wi = decaying ? decay1(load<f32>(w + o), wd, lr) : load<f32>(w + o);
    let mi = load<f32>(m + o);
    let vi = load<f32>(v + o);
    mi += (gi - mi) * c1;
    vi += (gi * gi - vi) * c2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const mh = (a * mi) / da + (b * gi) / db;
    const vh = vi / dv;
    store<f32>(w + o, wi - (mh * lr) / (Mathf.sqrt(vh) + epsilon));
  }
}

// Keras Adamax: m += (g-m)(1-b1); u = max(b2*u, |g|); w -= lr*m / ((1-b1^t)*(u+eps)).
export function adamax_update(w: usize, g: usize, m: usize, u: usize, n: i32, lr: f32, beta1: f32, beta2: f32, epsilon: f32,
  t: i32, cmul: f32, cdiv: f32, lo: f32, hi: f32, wd: f32): void {
  const corr = <f32>(1 - Math.pow(<f64>beta1, t));
  const c1: f32 = 1 - beta1;
  let i = 0;
  // Loop-invariant: a no-op clip (a divide) and decay are skipped, in the SIMD loops and the
  // scalar tails alike, so both paths give the same bits for every input.
  const clipping = clips(cmul, cdiv, lo, hi), decaying = wd != 0;
  if (ASC_FEATURE_SIMD) {
    const vc1 = f32x4.splat(c1), vb2 = f32x4.splat(beta2), ve = f32x4.splat(epsilon), vlr = f32x4.splat(lr);
    const vcorr = f32x4.splat(corr), vwd = f32x4.splat(wd);
    const vcm = f32x4.splat(cmul), vcd = f32x4.splat(cdiv), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    // Branches, not `c ? x : y` on v128 values: that compiles to a select which evaluates both
    // sides, and the divide of a no-op clip then cost 3-4x the update.
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let gi = v128.load(g + o);
      if (clipping) gi = clip4(gi, vcm, vcd, vlo, vhi);
      let wi = v128.load(w + o);
      if (decaying) wi = decay4(wi, vwd, vlr);
      let mi = v128.load(m + o);
      mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), vc1));
      const ui = f32x4.max(f32x4.mul(vb2, v128.load(u + o)), f32x4.abs(gi));
      v128.store(m + o, mi);
      v128.store(u + o, ui);
      v128.store(w + o, f32x4.sub(wi, f32x4.div(f32x4.mul(vlr, mi), f32x4.mul(vcorr, f32x4.add(ui, ve)))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = clipping ? clip1(load<f32>(g + o), cmul, cdiv, lo, hi) : load<f32>(g + o);
    const wi = decaying ? decay1(load<f32>(w + o), wd, lr) : load<f32>(w + o);
    let mi = load<f32>(m + o);
    mi += (gi - mi) * c1;
    const ui = max(beta2 * load<f32>(u + o), Mathf.abs(gi));
    store<f32>(m + o, mi);
    store<f32>(u + o, ui);
    store<f32>(w + o, wi - (lr * mi) / (corr * (ui + epsilon)));
  }
}

// Sum of squares of x (n), accumulated in f64: the squared L2 norm for gradient norms. Four
// running sums (lanes 0..3 of every group of four), combined as (s0 + s2) + (s1 + s3), then the
// tail in order: the SIMD and scalar builds add in exactly this order, so they agree bit for bit.
export function sumsq_f32(x: usize, n: i32): f64 {
  let i = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
    // Square in f64: an f32 square overflows for |x| > 1.8e19 where the f64 sum does not.
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      const lo = f64x2.promote_low_f32x4(v);
      const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
      acc0 = f64x2.add(acc0, f64x2.mul(lo, lo));
      acc1 = f64x2.add(acc1, f64x2.mul(hi, hi));
    }
    const acc = f64x2.add(acc0, acc1);
    s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    for (; i + 4 <= n; i += 4) {
      const p = x + (<usize>i << 2);
      const v0 = <f64>load<f32>(p), v1 = <f64>load<f32>(p, 4), v2 = <f64>load<f32>(p, 8), v3 = <f64>load<f32>(p, 12);
      s0 += v0 * v0;
      s1 += v1 * v1;
      s2 += v2 * v2;
      s3 += v3 * v3;
    }
    s = (s0 + s2) + (s1 + s3);
  }
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

// One optimizer update over w (n) as the plan's apply_gradients op describes it: the clip mode
// and value turn into the clip factors above, the step's lr, momentum (beta_1), t and Nadam
// product come from the step header. Slots s1..s3 per kind: sgd (velocity or 0), adagrad
// (accumulator), rmsprop (velocity, momentum or 0, average gradient or 0), adam (m, v, vhat or 0),
// nadam (m, v), adamax (m, u). h1 is rho or beta_2, h2 epsilon, flags bit 0 nesterov.
export function apply_gradients(scalars: usize, kind: i32, w: usize, g: usize, s1: usize, s2: usize, s3: usize, n: i32,
  clipMode: i32, clip: f32, wd: f32, h1: f32, h2: f32, flags: i32): void {
  const lr = load<f32>(scalars + S_LR);
  const mu = load<f32>(scalars + S_MOMENTUM);
  const t = load<i32>(scalars + S_ITER) + 1;
  let cmul: f32 = 1, cdiv: f32 = 1, lo: f32 = -Infinity, hi: f32 = Infinity;
  if (clipMode == CLIP_VALUE) {
    lo = -clip;
    hi = clip;
  } else if (clipMode == CLIP_NORM) {
    cmul = clip;
    cdiv = max(<f32>Math.sqrt(sumsq_f32(g, n)), clip);
  } else if (clipMode == CLIP_GLOBAL_NORM) {
    cmul = <f32>(<f64>clip / Math.max(Math.sqrt(load<f64>(scalars + S_GRAD_NORM_SQ)), <f64>clip));
  }
  // With a thread pool attached, ranges of the slab go to the threads (threads.ts); the clip
  // norm above was summed whole, on this thread.
  if (ASC_FEATURE_THREADS && update_split(scalars, kind, w, g, s1, s2, s3, n, lr, mu, t, cmul, cdiv, lo, hi, wd, h1, h2, flags)) return;
  update_range(scalars, kind, w, g, s1, s2, s3, n, lr, mu, t, cmul, cdiv, lo, hi, wd, h1, h2, flags);
}

// The update of apply_gradients over w (n), its scalars worked out; slot pointers s1..s3 may be 0
// (not kept). A thread's tile is a call over its range of the slab (threads.ts).
export function update_range(scalars: usize, kind: i32, w: usize, g: usize, s1: usize, s2: usize, s3: usize, n: i32,
  lr: f32, mu: f32, t: i32, cmul: f32, cdiv: f32, lo: f32, hi: f32, wd: f32, h1: f32, h2: f32, flags: i32): void {
  switch (kind) {
    case OPT_SGD: sgd_update(w, g, s1, n, lr, s1 ? mu : 0, flags & 1, cmul, cdiv, lo, hi, wd); break;
    case OPT_ADAGRAD: adagrad_update(w, g, s1, n, lr, h2, cmul, cdiv, lo, hi, wd); break;
    case OPT_RMSPROP: rmsprop_update(w, g, s1, s2, s3, n, lr, h1, s2 ? mu : 0, h2, cmul, cdiv, lo, hi, wd); break;
    case OPT_ADAM: adam_update(w, g, s1, s2, s3, n, lr, mu, h1, h2, t, cmul, cdiv, lo, hi, wd); break;
    case OPT_NADAM: nadam_update(w, g, s1, s2, n, lr, mu, h1, h2, t, load<f64>(scalars + S_NADAM_U), cmul, cdiv, lo, hi, wd); break;
    case OPT_ADAMAX: adamax_update(w, g, s1, s2, n, lr, mu, h1, h2, t, cmul, cdiv, lo, hi, wd); break;
    default: break;
  }
}

// Resets the optimizer's header scalars: no iterations yet, the learning-rate variable, the
// momentum (or beta_1), Nadam's product 1, no LR override.
export function optimizer_init(scalars: usize, baseLr: f32, momentum: f32): void {
  store<i32>(scalars + S_ITER, 0);
  store<f32>(scalars + S_BASE_LR, baseLr);
  store<f32>(scalars + S_LR, baseLr);
  store<f32>(scalars + S_MOMENTUM, momentum);
  store<f64>(scalars + S_NADAM_U, 1.0);
  store<f32>(scalars + S_LR_OVERRIDE, 0);
}

// Nadam's product, once per step before the updates: U_t = U_{t-1} * u_t.
export function nadam_prep(scalars: usize): void {
  const t = load<i32>(scalars + S_ITER) + 1;
  store<f64>(scalars + S_NADAM_U, load<f64>(scalars + S_NADAM_U) * nadam_u(load<f32>(scalars + S_MOMENTUM), t));
}
