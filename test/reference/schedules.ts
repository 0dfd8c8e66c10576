// Plain-TypeScript twins of the learning-rate schedules (Keras 3 formulas, docs/numerics.md; 1cycle as in
// Géron's OneCycleScheduler), in float64. step = optimizer iterations before the update.
export type ScheduleRef = (step: number) => number;

export const exponentialRef = (lr0: number, ds: number, rate: number, staircase: boolean): ScheduleRef => (step) => {
  const p = staircase ? Math.floor(step / ds) : step / ds;
  return lr0 * rate ** p;
};

export const piecewiseRef = (b: number[], v: number[]): ScheduleRef => (step) => {
  for (let i = 0; i < b.length; i++) if (step <= b[i]) return v[i];
  return v[v.length - 1];
};

export const inverseTimeRef = (lr0: number, ds: number, rate: number, staircase: boolean, power = 1): ScheduleRef => (step) => {
  const p = staircase ? Math.floor(step / ds) : step / ds;
  return lr0 / (1 + rate * p) ** power;
};

export const polynomialRef = (lr0: number, ds: number, end: number, power: number, cycle: boolean): ScheduleRef => (step) => {
  let steps = ds;
  let s = step;
  if (cycle) steps = ds * (step === 0 ? 1 : Math.ceil(step / ds));
  else s = Math.min(step, ds);
  return (lr0 - end) * (1 - s / steps) ** power + end;
};

export const cosineRef = (lr0: number, ds: number, alpha: number, warmupTarget: number | null, warmupSteps: number): ScheduleRef => (step) => {
  const decay = (s: number, from: number) => from * ((1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * s) / ds)) + alpha);
  if (warmupTarget === null) return decay(Math.min(step, ds), lr0);
  const s = Math.min(step, ds + warmupSteps);
  if (s < warmupSteps) return (warmupTarget - lr0) * (s / warmupSteps) + lr0;
  return decay(s - warmupSteps, warmupTarget);
};

// Returns [lr, momentum] for iteration i of `iterations`.
export function oneCycleRef(iterations: number, maxLr: number, maxM = 0.95, minM = 0.85) {
  const start = maxLr / 10;
  const last = start / 1000;
  const lastIts = Math.floor(iterations / 10) + 1;
  const half = Math.floor((iterations - lastIts) / 2);
  const interp = (i: number, i1: number, i2: number, r1: number, r2: number) => ((r2 - r1) * (i - i1)) / (i2 - i1) + r1;
  return (step: number): [number, number] => {
    const i = Math.min(step, iterations);
    if (i < half) return [interp(i, 0, half, start, maxLr), interp(i, 0, half, maxM, minM)];
    if (i < 2 * half) return [interp(i, half, 2 * half, maxLr, start), interp(i, half, 2 * half, minM, maxM)];
    return [interp(i, 2 * half, iterations, start, last), maxM];
  };
}

// Keras ReduceLROnPlateau (min mode) over a sequence of monitored values: the learning rate in
// effect after each epoch, computed in float32 where Keras stores it.
export function reduceLROnPlateauRef(values: number[], lr0: number, o: { factor: number; patience: number; minDelta: number; cooldown: number; minLr: number }): number[] {
  let lr = Math.fround(lr0);
  let best = Infinity;
  let wait = 0;
  let cooldownCounter = 0;
  const out: number[] = [];
  for (const current of values) {
    if (cooldownCounter > 0) { cooldownCounter--; wait = 0; }
    if (current < best - o.minDelta) { best = current; wait = 0; }
    else if (!(cooldownCounter > 0)) {
      wait++;
      if (wait >= o.patience && lr > Math.fround(o.minLr)) {
        lr = Math.fround(Math.max(lr * o.factor, o.minLr));
        cooldownCounter = o.cooldown;
        wait = 0;
      }
    }
    out.push(lr);
  }
  return out;
}
