// Strict option objects, as Keras refuses an unknown keyword: every factory and method that takes
// an options object checks its keys against one list of documented names, and an unknown key is
// an InvalidArgumentError naming it, where it was given, and the nearest documented name.
import { InvalidArgumentError } from './errors';

// The keys of T that `names` leaves out; `never` when the list is complete.
type Missing<T, K extends readonly PropertyKey[]> = Exclude<keyof T, K[number]>;

// The documented option names of the interface T, as a runtime list that the compiler holds
// equal to the interface: a name that is not a key of T, or a key of T left out, does not compile.
export function optionNames<T>() {
  return <const K extends readonly (keyof T & string)[]>(names: K & ([Missing<T, K>] extends [never] ? unknown : { missing: Missing<T, K> })): readonly string[] => names;
}

// Levenshtein distance (insertions, deletions, substitutions), case-insensitive.
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[t.length];
}

// The candidate nearest to `word`, if it is near enough to be a likely typo (or a known alias).
export function nearest(word: string, candidates: readonly string[], aliases: Readonly<Record<string, string>> = {}): string | null {
  const alias = aliases[word];
  if (alias !== undefined && candidates.includes(alias)) return alias;
  // A shortened or lengthened name (saveBest for saveBestOnly) is a likely slip too.
  const lower = word.toLowerCase();
  const stem = candidates.find((c) => lower.length >= 4 && (c.toLowerCase().startsWith(lower) || lower.startsWith(c.toLowerCase())));
  if (stem !== undefined) return stem;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) { best = c; bestDistance = d; }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

// Other libraries' names for an option (TF.js and Keras 2's `lr`, `metric` for `metrics`).
const ALIASES: Record<string, string> = { lr: 'learningRate', learning_rate: 'learningRate', metric: 'metrics', batch_size: 'batchSize' };

// Throws on the first key of `options` not in `allowed`: "unknown option 'epoch' for fit; did you
// mean 'epochs'?". Undefined or null options pass (the caller's defaults apply).
export function checkOptions(where: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`${where}: options must be an object, got ${Array.isArray(options) ? 'an array' : JSON.stringify(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const near = nearest(key, allowed, ALIASES);
    const hint = near ? `; did you mean '${near}'?` : ` (options: ${allowed.join(', ')})`;
    throw new InvalidArgumentError(`unknown option '${key}' for ${where}${hint}`);
  }
}
