// Size expressions: the small arithmetic language in which host/compile/ops.ts states how many floats each
// pointer argument of an op touches, and in which the GEMM and convolution scratch sizes are
// defined. The host evaluates them here (opFootprint, the planner's scratch sizes);
// scripts/op-footprints.mjs compiles the same text into AssemblyScript (assembly/wasi/op-footprints.ts)
// for the WASI module's plan verifier, so both sides run one definition.
//
// Grammar: numbers, names (an op's arguments, B = the batch), + - * /, comparisons (< <= > >= ==),
// && ||, & (integer bit test), c ? a : b, parentheses, and calls of min, max, ceil, abs and the
// functions of SIZE_FUNCTIONS. Values are f64: a product of i32 arguments never wraps. A name read
// only inside abs() is a signed argument (a stride that may walk backwards); every other name is a
// size, which the verifiers require to be non-negative.

// The GEMM kernel's blocking (assembly/kernels/gemm.ts MR, NR, KC, NC; re-exported by gemm-scratch.ts).
export const GEMM_MR = 4;
export const GEMM_NR = 8;
export const GEMM_KC = 256;
export const GEMM_NC = 128;
// assembly/kernels/sepconv.ts SEPCONV_I8_WIDE_BYTES.
export const SEPCONV_I8_WIDE_BYTES = 256 << 10;

// Scratch sizes in bytes (host/compile/gemm-scratch.ts, host/compile/conv-scratch.ts explain them).
export const SIZE_FUNCTIONS: Record<string, { params: string[]; bytes: string }> = {
  gemmScratch: {
    params: ['m', 'n', 'k'],
    bytes: `m <= 0 || n <= 0 || k <= 0 ? 0 : 4 * min(k, ${GEMM_KC}) * (ceil(min(n, ${GEMM_NC}) / ${GEMM_NR}) * ${GEMM_NR} + ${GEMM_MR})`,
  },
  // gemm_q8's k-pair panels of an int8 kernel (k, n) and its scratch (assembly/kernels/gemm-q8.ts):
  // 4 row scales, then 4 quantized rows of roundUp(k, 8) int16.
  q8PackedBytes: { params: ['n', 'k'], bytes: 'ceil(n / 8) * 8 * ceil(k / 2) * 2' },
  q8ScratchBytes: { params: ['k'], bytes: '16 + 8 * ceil(k / 8) * 8' },
  convCols: { params: ['rows', 'kh', 'kw', 'c'], bytes: '4 * rows * kh * kw * c' },
  // sepconv_i8's wf and pack (assembly/kernels/sepconv.ts): a 1x1 whose panels widened take at most
  // SEPCONV_I8_WIDE_BYTES has them widened once per call after the depthwise's widened q, and a
  // band's GEMM then needs only its packed band of a; else gemm_i8_packed's scratch for a band.
  sepconvI8Wf: {
    params: ['kh', 'kw', 'c', 'f'],
    bytes: `4 * c * ceil(f / ${GEMM_NR}) * ${GEMM_NR} <= ${SEPCONV_I8_WIDE_BYTES} ? 4 * ceil(kh * kw * c / 4) * 4 + 4 * c * ceil(f / ${GEMM_NR}) * ${GEMM_NR} : 4 * kh * kw * c`,
  },
  sepconvI8Pack: {
    params: ['rows', 'f', 'c'],
    bytes: `4 * c * ceil(f / ${GEMM_NR}) * ${GEMM_NR} <= ${SEPCONV_I8_WIDE_BYTES} ? 4 * ${GEMM_MR} * min(c, ${GEMM_KC}) : gemmScratch(rows, f, c)`,
  },
  convPack: {
    params: ['rows', 'kh', 'kw', 'c', 'f'],
    bytes: 'max(gemmScratch(rows, f, kh * kw * c), max(gemmScratch(kh * kw * c, f, rows), gemmScratch(rows, kh * kw * c, f)))',
  },
};

export type Expr =
  | { k: 'num'; v: number }
  | { k: 'name'; n: string }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'cond'; c: Expr; t: Expr; f: Expr }
  | { k: 'call'; f: string; args: Expr[] };

const BINARY: [string[], number][] = [[['||'], 1], [['&&'], 2], [['==', '<=', '>=', '<', '>'], 3], [['&'], 4], [['+', '-'], 5], [['*', '/'], 6]];
const PRECEDENCE = new Map(BINARY.flatMap(([ops, p]) => ops.map((o) => [o, p] as [string, number])));

const parsed = new Map<string, Expr>();

export function parseSize(text: string): Expr {
  const known = parsed.get(text);
  if (known) return known;
  const tokens = text.match(/\d+|[A-Za-z_]\w*|\|\||&&|==|<=|>=|[-+*/()<>?:,&]|\S/g) ?? [];
  let at = 0;
  const fail = (why: string): never => { throw new Error(`size expression '${text}': ${why} at token ${at}`); };
  const take = (t: string) => { if (tokens[at] !== t) fail(`expected '${t}'`); at++; };
  const primary = (): Expr => {
    const t = tokens[at++];
    if (t === undefined) return fail('unexpected end');
    if (t === '(') { const e = conditional(); take(')'); return e; }
    if (/^\d/.test(t)) return { k: 'num', v: Number(t) };
    if (!/^[A-Za-z_]/.test(t)) return fail(`unexpected '${t}'`);
    if (tokens[at] !== '(') return { k: 'name', n: t };
    at++;
    const args: Expr[] = [];
    while (tokens[at] !== ')') { args.push(conditional()); if (tokens[at] === ',') at++; }
    at++;
    return { k: 'call', f: t, args };
  };
  const binary = (min: number): Expr => {
    let l = primary();
    for (let p = PRECEDENCE.get(tokens[at]); p !== undefined && p >= min; p = PRECEDENCE.get(tokens[at])) {
      const op = tokens[at++];
      l = { k: 'bin', op, l, r: binary(p + 1) };
    }
    return l;
  };
  const conditional = (): Expr => {
    const c = binary(1);
    if (tokens[at] !== '?') return c;
    at++;
    const t = conditional();
    take(':');
    return { k: 'cond', c, t, f: conditional() };
  };
  const e = conditional();
  if (at !== tokens.length) fail('trailing input');
  parsed.set(text, e);
  return e;
}

// The size names an expression reads (an op's arguments and B), each once; names read only
// inside abs() are signed arguments, not sizes.
export function sizeNames(e: Expr, into = new Set<string>()): Set<string> {
  if (e.k === 'name') into.add(e.n);
  else if (e.k === 'bin') { sizeNames(e.l, into); sizeNames(e.r, into); }
  else if (e.k === 'cond') { sizeNames(e.c, into); sizeNames(e.t, into); sizeNames(e.f, into); }
  else if (e.k === 'call' && e.f !== 'abs') for (const a of e.args) sizeNames(a, into);
  return into;
}

export function evalSize(e: Expr, env: (name: string) => number): number {
  switch (e.k) {
    case 'num': return e.v;
    case 'name': return env(e.n);
    case 'cond': return evalSize(e.c, env) !== 0 ? evalSize(e.t, env) : evalSize(e.f, env);
    case 'call': {
      const v = e.args.map((a) => evalSize(a, env));
      if (e.f === 'min') return Math.min(v[0], v[1]);
      if (e.f === 'max') return Math.max(v[0], v[1]);
      if (e.f === 'ceil') return Math.ceil(v[0]);
      if (e.f === 'abs') return Math.abs(v[0]);
      return callSize(e.f, v);
    }
    case 'bin': {
      const l = evalSize(e.l, env);
      const r = evalSize(e.r, env);
      switch (e.op) {
        case '+': return l + r;
        case '-': return l - r;
        case '*': return l * r;
        case '/': return l / r;
        case '<': return +(l < r);
        case '<=': return +(l <= r);
        case '>': return +(l > r);
        case '>=': return +(l >= r);
        case '==': return +(l === r);
        case '&&': return +(l !== 0 && r !== 0);
        case '||': return +(l !== 0 || r !== 0);
        case '&': return Number(BigInt(Math.trunc(l)) & BigInt(Math.trunc(r)));
      }
    }
  }
  throw new Error(`size expression: bad node ${JSON.stringify(e)}`);
}

export function callSize(name: string, values: number[]): number {
  const fn = SIZE_FUNCTIONS[name];
  if (!fn) throw new Error(`size expression: unknown function ${name}`);
  return evalSize(parseSize(fn.bytes), (n) => values[fn.params.indexOf(n)]);
}
