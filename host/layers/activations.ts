// Activation functions by Keras name. The kernels are assembly/kernels/activations.ts (kinds below
// must match its constants; the arithmetic is in activation-kinds.ts); softmax works on rows and has
// its own kernels.
import { InvalidArgumentError } from '../core/errors';
import { ownEntry } from '../core/lookup';

export type ActivationName =
  | 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'leakyRelu' | 'elu' | 'selu' | 'gelu' | 'geluTanh' | 'swish'
  | 'relu6' | 'hardSigmoid' | 'hardSwish' | 'softmax';

// Kernel kinds (assembly/kernels/activations.ts).
export const ACTIVATION_KIND: Record<Exclude<ActivationName, 'softmax'>, number> = {
  linear: 0, relu: 1, sigmoid: 2, tanh: 3, leakyRelu: 4, elu: 5, selu: 6, gelu: 7, geluTanh: 8, swish: 9, relu6: 10, hardSigmoid: 11, hardSwish: 12,
};

const ALIASES: Record<string, ActivationName> = {
  linear: 'linear', relu: 'relu', sigmoid: 'sigmoid', tanh: 'tanh', leakyrelu: 'leakyRelu', leaky_relu: 'leakyRelu',
  elu: 'elu', selu: 'selu', gelu: 'gelu', gelutanh: 'geluTanh', gelu_tanh: 'geluTanh', gelu_new: 'geluTanh',
  swish: 'swish', silu: 'swish', relu6: 'relu6', hardsigmoid: 'hardSigmoid', hard_sigmoid: 'hardSigmoid',
  hardswish: 'hardSwish', hard_swish: 'hardSwish', softmax: 'softmax',
};

export function resolveActivation(name: string | null | undefined, where: string): ActivationName {
  if (name === null || name === undefined) return 'linear';
  const a = ownEntry(ALIASES, String(name).toLowerCase()) ?? ownEntry(ALIASES, String(name));
  if (!a) throw new InvalidArgumentError(`${where}: unknown activation '${name}' (known: ${Object.keys(ACTIVATION_KIND).join(', ')}, softmax)`);
  return a;
}

// Keras's default parameter of an activation used by name (the LeakyReLU *layer* uses 0.3; the
// leaky_relu *function* 0.2; ELU alpha 1).
export function activationAlpha(name: ActivationName): number {
  if (name === 'leakyRelu') return 0.2;
  if (name === 'elu') return 1;
  return 0;
}

// Whether the backward pass needs the activation's input (not just its output): the output can
// then not overwrite the input in place.
export function activationNeedsInput(name: ActivationName): boolean {
  return name === 'gelu' || name === 'geluTanh' || name === 'swish' || name === 'hardSwish';
}
