// Weight initializers with Keras names, defaults and fan rules (docs/numerics.md).
// Draws use integer arithmetic, IEEE-exact operations (+ - * / sqrt) and a logarithm built from
// them, never Math.log: a seed gives the same weights on every engine. The kernels make the same
// draws (assembly/kernels/init.ts, much faster on a cold start); this code is the reference, and
// the fallback where the kernels are not loaded yet.
import { InvalidArgumentError } from '../core/errors';
import { Random } from '../core/random';
import { ownEntry } from '../core/lookup';
import { fillWithKernels } from '../runtime/init-fill';

export type InitializerName =
  | 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal' | 'lecunUniform' | 'lecunNormal' | 'zeros' | 'ones' | 'constant';
export interface InitializerConfig {
  className: InitializerName;
  value?: number; // constant
  seed?: number;
}
export type InitializerSpec = InitializerName | InitializerConfig;

const ALIASES: Record<string, InitializerName> = {
  glorotuniform: 'glorotUniform', glorot_uniform: 'glorotUniform', glorotnormal: 'glorotNormal', glorot_normal: 'glorotNormal',
  heuniform: 'heUniform', he_uniform: 'heUniform', henormal: 'heNormal', he_normal: 'heNormal',
  lecununiform: 'lecunUniform', lecun_uniform: 'lecunUniform', lecunnormal: 'lecunNormal', lecun_normal: 'lecunNormal',
  zeros: 'zeros', ones: 'ones', constant: 'constant',
};

export function normalizeInitializer(spec: InitializerSpec | string): InitializerConfig {
  const cfg = typeof spec === 'string' ? { className: spec } : spec;
  const name = ownEntry(ALIASES, String(cfg.className).toLowerCase()) ?? ownEntry(ALIASES, String(cfg.className));
  if (!name) throw new InvalidArgumentError(`unknown initializer '${cfg.className}' (known: ${[...new Set(Object.values(ALIASES))].join(', ')})`);
  return { ...cfg, className: name } as InitializerConfig;
}

// Fans as Keras computes them: 2-D (in, out); conv kernels [...receptive field, in, out].
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  if (shape.length === 2) return { fanIn: shape[0], fanOut: shape[1] };
  let rf = 1;
  for (let i = 0; i < shape.length - 2; i++) rf *= shape[i];
  return { fanIn: shape[shape.length - 2] * rf, fanOut: shape[shape.length - 1] * rf };
}

export function initialize(spec: InitializerConfig, shape: readonly number[], seed: number): Float32Array {
  return initializeInto(new Float32Array(shape.reduce((a, b) => a * b, 1)), spec, shape, seed, true);
}

// The uniform draw an initializer makes, as the kernels take it (the generator's state and the
// limit), or null for one that draws otherwise: a uniform draw can be made straight into a layout
// of its own (init_uniform_packed, host/runtime/init-fill.ts).
export function uniformDraw(spec: InitializerConfig, shape: readonly number[], seed: number): { state: number; limit: number } | null {
  const { fanIn, fanOut } = fans(shape);
  const limit = spec.className === 'glorotUniform' ? Math.sqrt(6 / (fanIn + fanOut))
    : spec.className === 'heUniform' ? Math.sqrt(6 / fanIn)
    : spec.className === 'lecunUniform' ? Math.sqrt(3 / fanIn) : null;
  return limit === null ? null : { state: (spec.seed ?? seed) >>> 0, limit };
}

// initialize() drawn into `out` (shape's size): an arena region, so the values need no host array
// (host/layers/layer.ts moveValue). `zeroed`: out holds zeros already (a new array).
export function initializeInto(out: Float32Array, spec: InitializerConfig, shape: readonly number[], seed: number, zeroed = false): Float32Array {
  const size = out.length;
  const { fanIn, fanOut } = fans(shape);
  const uniform = uniformDraw(spec, shape, seed);
  if (uniform) {
    if (fillWithKernels('uniform', out, uniform.state, uniform.limit) === null) new Random(spec.seed ?? seed).fillUniform(out, uniform.limit);
    return out;
  }
  // Keras VarianceScaling 'truncated_normal': stddev = sqrt(scale / fan) / 0.8796..., redraw beyond 2 sigma.
  const truncatedNormal = (variance: number) => {
    const stddev = Math.sqrt(variance) / 0.87962566103423978;
    if (fillWithKernels('truncatedNormal', out, (spec.seed ?? seed) >>> 0, stddev) !== null) return;
    const rng = new Random(spec.seed ?? seed);
    for (let i = 0; i < size; i++) {
      let z: number;
      do z = standardNormal(rng); while (z < -2 || z > 2);
      out[i] = z * stddev;
    }
  };
  switch (spec.className) {
    case 'glorotNormal': truncatedNormal(2 / (fanIn + fanOut)); break;
    case 'heNormal': truncatedNormal(2 / fanIn); break;
    case 'lecunNormal': truncatedNormal(1 / fanIn); break;
    case 'zeros': if (!zeroed) out.fill(0); break;
    case 'ones': out.fill(1); break;
    case 'constant': out.fill(spec.value ?? 0); break;
  }
  return out;
}

// Marsaglia's polar method: a standard normal draw from two uniforms.
function standardNormal(rng: Random): number {
  for (;;) {
    const u = 2 * rng.uniform() - 1;
    const v = 2 * rng.uniform() - 1;
    const s = u * u + v * v;
    if (s > 0 && s < 1) return u * Math.sqrt((-2 * exactLog(s)) / s);
  }
}

const LN2 = 0.6931471805599453;
const SQRT1_2 = 0.7071067811865476;
const scratch = new DataView(new ArrayBuffer(8));

// Natural log of a positive finite x from + - * / only (so every engine rounds it alike):
// x = 2^k * m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172.
export function exactLog(x: number): number {
  scratch.setFloat64(0, x);
  const hi = scratch.getUint32(0);
  let k = ((hi >>> 20) & 0x7ff) - 1023;
  scratch.setUint32(0, (hi & 0x800fffff) | (1023 << 20));
  let m = scratch.getFloat64(0);
  if (k === -1023) return exactLog(x * 4503599627370496) - 52 * LN2; // subnormal: scale by 2^52
  if (m < 2 * SQRT1_2) { /* m in [1, sqrt 2) */ } else { m /= 2; k += 1; }
  if (m < SQRT1_2) { m *= 2; k -= 1; }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let series = 1 / 21;
  for (let d = 19; d >= 1; d -= 2) series = 1 / d + s2 * series;
  return k * LN2 + 2 * s * series;
}
