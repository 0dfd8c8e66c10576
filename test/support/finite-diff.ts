// The one finite-difference checker of the tests: central differences (f(v+h) - f(v-h)) / 2h,
// with the element restored afterwards.

// d loss / d v at one element that the caller reads and writes (a wasm buffer, a layer's weight).
export function centralDifference(loss: () => number, get: () => number, set: (v: number) => void, h: number): number {
  const keep = get();
  set(keep + h);
  const up = loss();
  set(keep - h);
  const down = loss();
  set(keep);
  return (up - down) / (2 * h);
}

// The gradient of a scalar f64 function of x, every element.
export function numericGradient(f: (x: Float64Array) => number, x0: ArrayLike<number>, h: number): Float64Array {
  const x = Float64Array.from(x0);
  return Float64Array.from(x, (_, i) => centralDifference(() => f(x), () => x[i], (v) => { x[i] = v; }, h));
}
