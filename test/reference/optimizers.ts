// Naive float64 twins of the optimizer kernels (assembly/kernels/optim.ts), written from the formulas in
// docs/numerics.md and nothing else: clipping, decoupled weight decay and the update
// rules of SGD, Adagrad, RMSprop, Adam/AdamW (amsgrad), Nadam and Adamax. Per-tensor functions
// update their arguments in place; ReferenceOptimizer composes them into one Keras step over a
// list of tensors (clip, weight decay, update, iterations += 1).

// --- 2. clipping ------------------------------------------------------------------------------

export interface ClipOptions {
  clipvalue?: number;
  clipnorm?: number;
  globalClipnorm?: number;
}

export function l2norm(g: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

// clipvalue: clip(g, -v, v); clipnorm: g*c/max(||g||, c) per tensor; globalClipnorm:
// N = sqrt(sum ||g_i||^2), every g_i *= c/max(N, c). At most one may be set.
export function clipRef(grads: ArrayLike<number>[], o: ClipOptions): Float64Array[] {
  const set = [o.clipvalue, o.clipnorm, o.globalClipnorm].filter((v) => v !== undefined).length;
  if (set > 1) throw new Error('clipRef: more than one clip option');
  if (o.clipvalue !== undefined) {
    const v = o.clipvalue;
    return grads.map((g) => Float64Array.from(g, (x) => Math.min(Math.max(x, -v), v)));
  }
  if (o.clipnorm !== undefined) {
    const c = o.clipnorm;
    return grads.map((g) => {
      const n = l2norm(g);
      return Float64Array.from(g, (x) => (x * c) / Math.max(n, c));
    });
  }
  if (o.globalClipnorm !== undefined) {
    const c = o.globalClipnorm;
    const N = Math.sqrt(grads.reduce((s, g) => s + l2norm(g) ** 2, 0));
    const scale = c / Math.max(N, c);
    return grads.map((g) => Float64Array.from(g, (x) => x * scale));
  }
  return grads.map((g) => Float64Array.from(g));
}

// --- 3. weight decay --------------------------------------------------------------------------

export function decayRef(w: Float64Array, wd: number, lr: number): void {
  if (wd === 0) return;
  for (let i = 0; i < w.length; i++) w[i] -= w[i] * wd * lr;
}

// --- 4. update rules --------------------------------------------------------------------------

// SGD. momentum 0: w -= lr*g; else v = mu*v - lr*g; w += v (nesterov: w += mu*v - lr*g).
export function sgdRef(w: Float64Array, g: ArrayLike<number>, v: Float64Array | null, lr: number, momentum: number, nesterov: boolean): void {
  for (let i = 0; i < w.length; i++) {
    if (momentum === 0) { w[i] -= lr * g[i]; continue; }
    v![i] = momentum * v![i] - lr * g[i];
    w[i] += nesterov ? momentum * v![i] - lr * g[i] : v![i];
  }
}

// Adagrad: acc += g^2; w -= lr*g/sqrt(acc + eps).
export function adagradRef(w: Float64Array, g: ArrayLike<number>, acc: Float64Array, lr: number, epsilon: number): void {
  for (let i = 0; i < w.length; i++) {
    acc[i] += g[i] * g[i];
    w[i] -= (lr * g[i]) / Math.sqrt(acc[i] + epsilon);
  }
}

export interface RmspropSlots {
  velocity: Float64Array;
  momentum?: Float64Array; // momentum > 0
  averageGradient?: Float64Array; // centered
}

// RMSprop: v = rho*v + (1-rho)*g^2; centered: mg = rho*mg + (1-rho)*g, den = v - mg^2 + eps,
// else den = v + eps; inc = lr*g/sqrt(den); momentum: m = mu*m + inc, w -= m; else w -= inc.
export function rmspropRef(w: Float64Array, g: ArrayLike<number>, s: RmspropSlots, lr: number, rho: number, momentum: number, epsilon: number): void {
  for (let i = 0; i < w.length; i++) {
    s.velocity[i] = rho * s.velocity[i] + (1 - rho) * g[i] * g[i];
    let den = s.velocity[i] + epsilon;
    if (s.averageGradient) {
      s.averageGradient[i] = rho * s.averageGradient[i] + (1 - rho) * g[i];
      den = s.velocity[i] - s.averageGradient[i] ** 2 + epsilon;
    }
    const inc = (lr * g[i]) / Math.sqrt(den);
    if (s.momentum) {
      s.momentum[i] = momentum * s.momentum[i] + inc;
      w[i] -= s.momentum[i];
    } else {
      w[i] -= inc;
    }
  }
}

export interface AdamSlots {
  m: Float64Array;
  v: Float64Array;
  vhat?: Float64Array; // amsgrad
}

// Adam at step t: m += (g-m)(1-b1); v += (g^2-v)(1-b2); alpha = lr*sqrt(1-b2^t)/(1-b1^t);
// amsgrad: vhat = max(vhat, v) used instead of v; w -= alpha*m/(sqrt(v) + eps).
export function adamRef(w: Float64Array, g: ArrayLike<number>, s: AdamSlots, lr: number, beta1: number, beta2: number, epsilon: number, t: number): void {
  const alpha = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
  for (let i = 0; i < w.length; i++) {
    s.m[i] += (g[i] - s.m[i]) * (1 - beta1);
    s.v[i] += (g[i] * g[i] - s.v[i]) * (1 - beta2);
    let v = s.v[i];
    if (s.vhat) v = s.vhat[i] = Math.max(s.vhat[i], s.v[i]);
    w[i] -= (alpha * s.m[i]) / (Math.sqrt(v) + epsilon);
  }
}

// Nadam's u_t = b1*(1 - 0.5*0.96^t).
export function nadamU(beta1: number, t: number): number {
  return beta1 * (1 - 0.5 * 0.96 ** t);
}

// Nadam at step t with uProduct = U_t (the product of u_i for i <= t, this step's u_t included):
// mhat = u_{t+1}*m/(1 - U_t*u_{t+1}) + (1-u_t)*g/(1 - U_t); vhat = v/(1-b2^t);
// w -= lr*mhat/(sqrt(vhat) + eps). m, v as in Adam.
export function nadamRef(w: Float64Array, g: ArrayLike<number>, s: AdamSlots, lr: number, beta1: number, beta2: number, epsilon: number, t: number, uProduct: number): void {
  const ut = nadamU(beta1, t);
  const ut1 = nadamU(beta1, t + 1);
  for (let i = 0; i < w.length; i++) {
    s.m[i] += (g[i] - s.m[i]) * (1 - beta1);
    s.v[i] += (g[i] * g[i] - s.v[i]) * (1 - beta2);
    const mhat = (ut1 * s.m[i]) / (1 - uProduct * ut1) + ((1 - ut) * g[i]) / (1 - uProduct);
    const vhat = s.v[i] / (1 - beta2 ** t);
    w[i] -= (lr * mhat) / (Math.sqrt(vhat) + epsilon);
  }
}

export interface AdamaxSlots {
  m: Float64Array;
  u: Float64Array;
}

// Adamax: m += (g-m)(1-b1); u = max(b2*u, |g|); w -= lr*m/((1-b1^t)*(u + eps)).
export function adamaxRef(w: Float64Array, g: ArrayLike<number>, s: AdamaxSlots, lr: number, beta1: number, beta2: number, epsilon: number, t: number): void {
  for (let i = 0; i < w.length; i++) {
    s.m[i] += (g[i] - s.m[i]) * (1 - beta1);
    s.u[i] = Math.max(beta2 * s.u[i], Math.abs(g[i]));
    w[i] -= (lr * s.m[i]) / ((1 - beta1 ** t) * (s.u[i] + epsilon));
  }
}

// --- one whole step -----------------------------------------------------------------------------

// Every hyperparameter spelled out (no defaults here: the tests state what they use).
export type ReferenceSpec = ClipOptions & { weightDecay?: number } & (
  | { kind: 'sgd'; momentum: number; nesterov: boolean }
  | { kind: 'adagrad'; initialAccumulatorValue: number; epsilon: number }
  | { kind: 'rmsprop'; rho: number; momentum: number; epsilon: number; centered: boolean }
  | { kind: 'adam'; beta1: number; beta2: number; epsilon: number; amsgrad: boolean }
  | { kind: 'nadam'; beta1: number; beta2: number; epsilon: number }
  | { kind: 'adamax'; beta1: number; beta2: number; epsilon: number }
);

// Keras's step over a list of tensors: clip, weight decay, update; iterations counts the steps
// taken (t = iterations + 1) and Nadam's U_t is multiplied by u_t once per step.
export class ReferenceOptimizer {
  iterations = 0;
  uProduct = 1;
  readonly slots: Record<string, Float64Array>[];

  constructor(readonly spec: ReferenceSpec, sizes: number[]) {
    const z = (n: number) => new Float64Array(n);
    this.slots = sizes.map((n) => {
      switch (spec.kind) {
        case 'sgd': return spec.momentum > 0 ? { velocity: z(n) } : {};
        case 'adagrad': return { accumulator: new Float64Array(n).fill(spec.initialAccumulatorValue) };
        case 'rmsprop': return {
          velocity: z(n), ...(spec.momentum > 0 ? { momentum: z(n) } : {}), ...(spec.centered ? { averageGradient: z(n) } : {}),
        };
        case 'adam': return spec.amsgrad ? { m: z(n), v: z(n), vhat: z(n) } : { m: z(n), v: z(n) };
        case 'nadam': return { m: z(n), v: z(n) };
        case 'adamax': return { m: z(n), u: z(n) };
      }
    });
  }

  // Updates `weights` in place, with this step's learning rate.
  step(weights: Float64Array[], grads: ArrayLike<number>[], lr: number): void {
    const s = this.spec;
    const t = this.iterations + 1;
    const g = clipRef(grads, s);
    if (s.kind === 'nadam') this.uProduct *= nadamU(s.beta1, t);
    weights.forEach((w, i) => {
      decayRef(w, s.weightDecay ?? 0, lr);
      const slot = this.slots[i];
      switch (s.kind) {
        case 'sgd': sgdRef(w, g[i], slot.velocity ?? null, lr, s.momentum, s.nesterov); break;
        case 'adagrad': adagradRef(w, g[i], slot.accumulator, lr, s.epsilon); break;
        case 'rmsprop': rmspropRef(w, g[i], slot as unknown as RmspropSlots, lr, s.rho, s.momentum, s.epsilon); break;
        case 'adam': adamRef(w, g[i], slot as unknown as AdamSlots, lr, s.beta1, s.beta2, s.epsilon, t); break;
        case 'nadam': nadamRef(w, g[i], slot as unknown as AdamSlots, lr, s.beta1, s.beta2, s.epsilon, t, this.uProduct); break;
        case 'adamax': adamaxRef(w, g[i], slot as unknown as AdamaxSlots, lr, s.beta1, s.beta2, s.epsilon, t); break;
      }
    });
    this.iterations++;
  }
}
