// Keras layer JSON ({class_name, config}, snake_case keys) as the layer records read and write it.
// One reader serves edgetune's own files (which also carry initializers, regularizers and
// constraints) and foreign Keras / TF.js topologies (whose weights replace the initializers).
import { ownEntry } from '../core/lookup';
import { ModelFormatError } from '../core/errors';
import { UnsupportedOpError } from '../import/errors';
import type { InitializerConfig } from './initializers';
import type { Layer } from './layer';
import type { ConstraintConfig, RegularizerConfig } from './regularizers';
import type { ActivationSpec } from './activations';

export interface LayerJson {
  class_name: string;
  config: Record<string, any>;
  name?: string;
  inbound_nodes?: unknown[];
  module?: string;
}

export interface KerasReader {
  className: string;
  name: string;
  base: { name: string; trainable: boolean };
  // true for edgetune's own files: read the initializer / regularizer / constraint configs and
  // take axes as written (foreign files have their axes checked against the input rank instead).
  own: boolean;
  source: string;
}

export const pairOf = (v: unknown): [number, number] | undefined => (v === undefined || v === null ? undefined : typeof v === 'number' ? [v, v] : [(v as number[])[0], (v as number[])[1]]);
// A file's activation name, as an option value: the layer factory refuses an unknown one.
export const activationOf = (a: unknown) => (a === undefined || a === null ? 'linear' : String(a)) as ActivationSpec;

export function unsupported(r: KerasReader, detail: string): UnsupportedOpError {
  return new UnsupportedOpError(r.className, r.name, r.source, detail);
}

// The toTfjs of a kind that TF.js layers has no class for (edgetune>Slice, ...): exporting it is refused.
/* @__NO_SIDE_EFFECTS__ */ export function noTfjsCounterpart(className: string) {
  return (l: Layer, _j: LayerJson, where: string, source: string | undefined): never => {
    throw new ModelFormatError(`${where}: layer '${l.name}' (${className}) has no TF.js layers counterpart; cannot export to a TF.js layers model`, source, l.name);
  };
}

export function channelsLast(r: KerasReader, c: Record<string, any>): void {
  const f = c.data_format;
  if (f && f !== 'channels_last') throw unsupported(r, `data_format '${f}' (only channels_last)`);
}

const KERAS_ACTIVATION: Record<string, string> = { leakyRelu: 'leaky_relu', geluTanh: 'gelu_tanh', hardSigmoid: 'hard_sigmoid', hardSwish: 'hard_swish' };
export const kerasActivation = (a: unknown) => ownEntry(KERAS_ACTIVATION, a) ?? (a as string);

export function objectJson(c: InitializerConfig | RegularizerConfig | ConstraintConfig | null | unknown): unknown {
  if (!c) return null;
  const { className, ...config } = c as { className: string };
  const snake: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) snake[k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)] = v;
  const names: Record<string, string> = { l1l2: 'L1L2', maxNorm: 'MaxNorm', nonNeg: 'NonNeg', unitNorm: 'UnitNorm' };
  return { class_name: ownEntry(names, className) ?? className, config: snake };
}

export function objectFromJson(j: unknown): { className: string; [k: string]: unknown } | undefined {
  if (!j) return undefined;
  const o = j as { class_name: string; config?: Record<string, unknown> };
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o.config ?? {})) config[k.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase())] = v;
  const names: Record<string, string> = { L1L2: 'l1l2', MaxNorm: 'maxNorm', NonNeg: 'nonNeg', UnitNorm: 'unitNorm' };
  return { className: ownEntry(names, o.class_name) ?? o.class_name, ...config };
}

// name and trainable, the keys every layer config starts with.
export function kerasBase(l: Layer): Record<string, unknown> {
  return { name: l.name, trainable: l.trainable };
}

// Keras's <prefix>_initializer / bias_initializer / ..._regularizer / ..._constraint keys.
export function weightOptionsToKeras(c: Record<string, unknown>, prefix: 'kernel' | 'depthwise'): Record<string, unknown> {
  return {
    [`${prefix}_initializer`]: objectJson(c[`${prefix}Initializer`]),
    bias_initializer: objectJson(c.biasInitializer),
    [`${prefix}_regularizer`]: objectJson(c[`${prefix}Regularizer`]),
    bias_regularizer: objectJson(c.biasRegularizer),
    [`${prefix}_constraint`]: objectJson(c[`${prefix}Constraint`]),
    bias_constraint: objectJson(c.biasConstraint),
  };
}

// The factory options for those keys, from edgetune's own files only.
export function weightOptionsFromKeras(r: KerasReader, c: Record<string, any>, prefix: 'kernel' | 'depthwise'): Record<string, unknown> {
  if (!r.own) return {};
  const o = (k: string) => objectFromJson(c[k]) as never;
  return {
    [`${prefix}Initializer`]: o(`${prefix}_initializer`),
    biasInitializer: o('bias_initializer'),
    [`${prefix}Regularizer`]: o(`${prefix}_regularizer`) ?? null,
    biasRegularizer: o('bias_regularizer') ?? null,
    [`${prefix}Constraint`]: o(`${prefix}_constraint`) ?? null,
    biasConstraint: o('bias_constraint') ?? null,
  };
}

// Explicit [[top, bottom], [left, right]] padding has no Keras spelling: our files write padding
// 'explicit' (which Keras itself refuses, rather than misreading the shapes) and the pads under
// explicit_padding, TF's name for them.
export function paddingToKeras(p: string | readonly (readonly number[])[]): Record<string, unknown> {
  return typeof p === 'string' ? { padding: p } : { padding: 'explicit', explicit_padding: p };
}

// (A file with padding 'explicit' and no explicit_padding keeps 'explicit', which the factory refuses.)
export function paddingFromKeras(c: Record<string, any>): any {
  return c.padding === 'explicit' && c.explicit_padding !== undefined ? c.explicit_padding : c.padding;
}

// TF.js layers has no groups, explicit pads, ceil mode or count_include_pad: a layer using any of
// them is refused on export rather than written as something TF.js would compute differently.
export function refuseTfjsExtensions(l: Layer, j: LayerJson, where: string, source: string | undefined): void {
  const c = j.config;
  const extra = [
    c.padding === 'explicit' && `explicit padding ${JSON.stringify(c.explicit_padding)}`,
    (c.groups ?? 1) !== 1 && `groups ${c.groups}`,
    c.ceil_mode === true && 'ceilMode',
    c.count_include_pad === true && 'countIncludePad',
  ].filter(Boolean);
  if (extra.length > 0) {
    throw new ModelFormatError(`${where}: layer '${l.name}' (${j.class_name}) uses ${extra.join(', ')}, which TF.js layers lacks; cannot export to a TF.js layers model`, source, l.name);
  }
}
