// Optimizer updates over a flat parameter slab w with gradients g and slots of the same layout
// (Keras 3 formulas, ../shared/reference/numerics.md). Per-step scalars arrive as arguments; the
// bias corrections are computed here, in wasm, so that every engine rounds them the same way.

// Keras SGD. momentum 0: w -= lr*g. Otherwise v = mu*v - lr*g; w += v, or with nesterov
// w += mu*v - lr*g using the new v.
export function sgd_update(w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, nesterov: i32): void {
  let i = 0;
  if (momentum == 0) {
    if (ASC_FEATURE_SIMD) {
      const vlr = f32x4.splat(lr);
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        v128.store(w + o, f32x4.sub(v128.load(w + o), f32x4.mul(vlr, v128.load(g + o))));
      }
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(w + o, load<f32>(w + o) - lr * load<f32>(g + o));
    }
    return;
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const vi = momentum * load<f32>(v + o) - lr * gi;
    store<f32>(v + o, vi);
    store<f32>(w + o, load<f32>(w + o) + (nesterov ? momentum * vi - lr * gi : vi));
  }
}

// Keras Adam: m += (g-m)(1-b1); v += (g^2-v)(1-b2); alpha = lr*sqrt(1-b2^t)/(1-b1^t);
// w -= alpha*m/(sqrt(v)+eps). amsgrad (vhat != 0): vhat = max(vhat, v) replaces v in the update.
export function adam_update(w: usize, g: usize, m: usize, v: usize, vhat: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, epsilon: f32, t: i32): void {
  const alpha = <f32>(<f64>lr * Math.sqrt(1 - Math.pow(<f64>beta2, t)) / (1 - Math.pow(<f64>beta1, t)));
  const c1: f32 = 1 - beta1;
  const c2: f32 = 1 - beta2;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    if (!vhat) {
      const vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2), va = f32x4.splat(alpha), ve = f32x4.splat(epsilon);
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        const gi = v128.load(g + o);
        let mi = v128.load(m + o);
        let vi = v128.load(v + o);
        mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), vc1));
        vi = f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), vc2));
        v128.store(m + o, mi);
        v128.store(v + o, vi);
        const step = f32x4.div(f32x4.mul(mi, va), f32x4.add(f32x4.sqrt(vi), ve));
        v128.store(w + o, f32x4.sub(v128.load(w + o), step));
      }
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    let mi = load<f32>(m + o);
    let vi = load<f32>(v + o);
    mi += (gi - mi) * c1;
    vi += (gi * gi - vi) * c2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    if (vhat) {
      const vh = max(load<f32>(vhat + o), vi);
      store<f32>(vhat + o, vh);
      vi = vh;
    }
    store<f32>(w + o, load<f32>(w + o) - (mi * alpha) / (Mathf.sqrt(vi) + epsilon));
  }
}

// Sum of squares of x (n), accumulated in f64 lanes: the squared L2 norm for gradient norms.
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
  }
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return s;
}
