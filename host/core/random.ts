// Seeded random numbers. Integer arithmetic only (Math.imul, shifts), so every JavaScript engine
// produces the same stream for the same seed: initial weights and shuffles are reproducible.

export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  // mulberry32: 32 random bits.
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  // Uniform in [0, 1) with 24 bits: exactly representable in f32.
  uniform(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
  // Integer in [0, n).
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  // Fills out[i] = (2u - 1) * limit with u = uniform(), in one tight loop (the same stream as
  // calling uniform() n times; weight initialization is on the cold-start path).
  fillUniform(out: Float32Array, limit: number): void {
    let state = this.state;
    for (let i = 0; i < out.length; i++) {
      let t = (state = (state + 0x6d2b79f5) >>> 0);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = (2 * ((((t ^ (t >>> 14)) >>> 0) >>> 8) / 16777216) - 1) * limit;
    }
    this.state = state;
  }

  // Fisher-Yates shuffle of indices 0..n-1.
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextU32() % (i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

// The process-wide generator that layers draw from when no seed is given (keras.utils.set_random_seed).
let globalRandom = new Random(1337);

export function setSeed(seed: number): void {
  globalRandom = new Random(seed);
}

export function nextSeed(): number {
  return globalRandom.nextU32();
}
