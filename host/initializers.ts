// Weight initializers with Keras names, defaults and fan rules (../shared/reference/numerics.md).
// Uniform draws only use integer arithmetic plus one multiply, so a seed gives the same weights
// on every engine.
import { InvalidArgumentError } from './errors';
import { Random } from './random';

export type InitializerName = 'glorotUniform' | 'heUniform' | 'lecunUniform' | 'zeros' | 'ones' | 'constant';
export interface InitializerConfig {
  className: InitializerName;
  value?: number; // constant
  seed?: number;
}
export type InitializerSpec = InitializerName | InitializerConfig;

const ALIASES: Record<string, InitializerName> = {
  glorotuniform: 'glorotUniform', glorot_uniform: 'glorotUniform',
  heuniform: 'heUniform', he_uniform: 'heUniform',
  lecununiform: 'lecunUniform', lecun_uniform: 'lecunUniform',
  zeros: 'zeros', ones: 'ones', constant: 'constant',
};

export function normalizeInitializer(spec: InitializerSpec | string): InitializerConfig {
  const cfg = typeof spec === 'string' ? { className: spec } : spec;
  const name = ALIASES[String(cfg.className).toLowerCase()] ?? ALIASES[String(cfg.className)];
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
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  const { fanIn, fanOut } = fans(shape);
  const uniform = (limit: number) => {
    const rng = new Random(spec.seed ?? seed);
    for (let i = 0; i < size; i++) out[i] = (2 * rng.uniform() - 1) * limit;
  };
  switch (spec.className) {
    case 'glorotUniform': uniform(Math.sqrt(6 / (fanIn + fanOut))); break;
    case 'heUniform': uniform(Math.sqrt(6 / fanIn)); break;
    case 'lecunUniform': uniform(Math.sqrt(3 / fanIn)); break;
    case 'zeros': break;
    case 'ones': out.fill(1); break;
    case 'constant': out.fill(spec.value ?? 0); break;
  }
  return out;
}
