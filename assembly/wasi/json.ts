// A minimal JSON scanner over the safetensors header: just what tensorEntry and
// parseWeightsHeader need (strings, unsigned integers, skipping any other value).
import * as T from './wasi-messages';
import { textAt, textLen, failWith } from './messages';
import { same } from './files';

// ---- Minimal JSON over the safetensors header ------------------------------------------------
export let jp: usize = 0;
export let jend: usize = 0;
export let strStart: usize = 0;
export let strLen: i32 = 0;

export function badHeader(): void {
  failWith(T.BAD_HEADER);
}
export function ws(): void {
  while (jp < jend) {
    const c = load<u8>(jp);
    if (c != 32 && c != 9 && c != 10 && c != 13) break;
    jp++;
  }
}
export function peek(): i32 {
  ws();
  return jp < jend ? <i32>load<u8>(jp) : -1;
}
export function expect(c: i32): void {
  if (peek() != c) badHeader();
  jp++;
}
// A string's raw bytes between the quotes (escapes are skipped, not decoded).
export function str(): void {
  expect(34);
  strStart = jp;
  while (jp < jend && load<u8>(jp) != 34) jp += load<u8>(jp) == 92 ? 2 : 1;
  if (jp >= jend) badHeader();
  strLen = <i32>(jp - strStart);
  jp++;
}
export function uint(): u64 {
  ws();
  let v: u64 = 0;
  let digits = 0;
  while (jp < jend) {
    const c = <i32>load<u8>(jp);
    if (c < 48 || c > 57) break;
    if (v > 0xffffffffffff) badHeader();
    v = v * 10 + <u64>(c - 48);
    jp++;
    digits++;
  }
  if (!digits) badHeader();
  return v;
}
export function skipValue(depth: i32): void {
  if (depth > 64) badHeader();
  const c = peek();
  if (c == 34) { str(); return; }
  if (c == 123 || c == 91) {
    const close = c == 123 ? 125 : 93;
    jp++;
    if (peek() == close) { jp++; return; }
    while (true) {
      if (c == 123) { str(); expect(58); }
      skipValue(depth + 1);
      const d = peek();
      jp++;
      if (d == close) return;
      if (d != 44) badHeader();
    }
  }
  // number, true, false, null
  const start = jp;
  while (jp < jend) {
    const d = load<u8>(jp);
    if (d == 44 || d == 125 || d == 93 || d == 32 || d == 10 || d == 13 || d == 9) break;
    jp++;
  }
  if (jp == start) badHeader();
}
export function keyIs(t: T.Text): bool {
  return strLen == textLen(t) && same(strStart, textAt(t), strLen);
}
