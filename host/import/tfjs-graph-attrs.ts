// The GraphDef node records of a TF.js graph model and readers for their attributes; a malformed
// attribute is a ModelFormatError naming the file, the node and the attribute.
import { ModelFormatError } from '../core/errors';
import type { Layer } from '../layers/layer';
import { layers } from '../layers/index';
import { UnsupportedOpError } from './errors';

export interface GraphNodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValue>;
}

export interface AttrValue {
  i?: string | number;
  f?: number;
  b?: boolean;
  s?: string;
  type?: string;
  list?: { i?: (string | number)[]; s?: string[]; f?: number[] };
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
}

// 'name', 'name:1' or '^name' (a control input, which carries no data).
export function parseInputRef(s: string): { name: string; index: number } {
  const m = /^(.*?)(?::(\d+))?$/.exec(s)!;
  return { name: m[1], index: m[2] ? Number(m[2]) : 0 };
}

export function dataInputs(d: GraphNodeDef): { name: string; index: number }[] {
  return (d.input ?? []).filter((s) => !s.startsWith('^')).map(parseInputRef);
}

// A string attribute, base64 in the JSON; one that is not base64 is refused by name.
export function attrText(d: GraphNodeDef, key: string, file: string, s: unknown = d.attr?.[key]?.s): string {
  if (s === undefined) return '';
  try {
    if (typeof s !== 'string') throw new TypeError();
    return typeof atob === 'function' ? atob(s) : s;
  } catch {
    throw new ModelFormatError(`${file}: node '${d.name}': attribute '${key}' is ${JSON.stringify(s).slice(0, 80)}, not a base64 string`, file, d.name);
  }
}

export function attrInts(d: GraphNodeDef, key: string, file = ''): number[] | undefined {
  const v: unknown = d.attr?.[key]?.list?.i;
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new ModelFormatError(`${file ? `${file}: ` : ''}node '${d.name}': attribute '${key}' is ${JSON.stringify(v)?.slice(0, 80)}, not a list of ints`, file, d.name);
  return v.map(Number);
}

export function attrInt(d: GraphNodeDef, key: string, fallback: number): number {
  const v = d.attr?.[key]?.i;
  return v === undefined ? fallback : Number(v);
}

export function attrBool(d: GraphNodeDef, key: string): boolean {
  return !!d.attr?.[key]?.b;
}

export function attrFloat(d: GraphNodeDef, key: string, fallback: number): number {
  const v = d.attr?.[key]?.f;
  return v === undefined ? fallback : Number(v);
}

export function requireNhwc(d: GraphNodeDef, file: string): void {
  const f = attrText(d, 'data_format', file);
  if (f && f !== 'NHWC') throw new UnsupportedOpError(d.op, d.name, file, `data_format '${f}' (only NHWC)`);
}

// [height, width] of a 4-entry NHWC attribute (strides, dilations, ksize).
export function spatialAttr(d: GraphNodeDef, key: string, file: string): [number, number] {
  const v = attrInts(d, key, file) ?? [1, 1, 1, 1];
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) throw new UnsupportedOpError(d.op, d.name, file, `${key} [${v}] (batch and channel entries must be 1)`);
  return [v[1], v[2]];
}

// 'same', 'valid', or explicit [[top, bottom], [left, right]] pads (EXPLICIT padding).
export function paddingAttr(d: GraphNodeDef, file: string): 'same' | 'valid' | [[number, number], [number, number]] {
  const p = attrText(d, 'padding', file);
  if (p === 'SAME') return 'same';
  if (p === 'VALID') return 'valid';
  if (p === 'EXPLICIT') {
    const e = attrInts(d, 'explicit_paddings', file) ?? [];
    if (e.length !== 8 || e[0] || e[1] || e[6] || e[7]) throw new UnsupportedOpError(d.op, d.name, file, `explicit_paddings [${e}] (only height and width of NHWC)`);
    return e.every((x) => x === 0) ? 'valid' : [[e[2], e[3]], [e[4], e[5]]];
  }
  throw new UnsupportedOpError(d.op, d.name, file, `padding '${p}' (supported: SAME, VALID, EXPLICIT)`);
}

// A layer factory the other zoo helpers are adding (slice, pad, prelu...): an UnsupportedOpError
// naming the op while this build lacks it.
export function factory<T>(d: GraphNodeDef, file: string, name: string): (options: T) => Layer {
  const f = (layers as unknown as Record<string, unknown>)[name];
  if (typeof f !== 'function') throw new UnsupportedOpError(d.op, d.name, file, `it needs the '${name}' layer, which this build does not have`);
  return f as (options: T) => Layer;
}
