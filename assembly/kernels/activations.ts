// Activation functions and their derivatives, elementwise over f32, chosen by an integer `kind`
// (Keras 3 formulas, docs/numerics.md). Pointers are byte offsets; y may equal x.
//
//   kind                 y = f(x)                                    alpha
//   ACT_LINEAR       0   x
//   ACT_RELU         1   max(x, 0)
//   ACT_SIGMOID      2   1/(1 + e^-x)
//   ACT_TANH         3   tanh x
//   ACT_LEAKY_RELU   4   x > 0 ? x : alpha*x                         slope (>= 0)
//   ACT_ELU          5   x > 0 ? x : alpha*(e^x - 1)                 alpha (> 0)
//   ACT_SELU         6   lambda*(x > 0 ? x : a*(e^x - 1)), lambda 1.0507009873554805, a 1.6732632423543772
//   ACT_GELU         7   0.5x(1 + erf(x/sqrt 2)) (exact)
//   ACT_GELU_TANH    8   0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
//   ACT_SWISH        9   x*sigmoid(x)
//   ACT_RELU6       10   min(max(x, 0), 6)
//   ACT_HARD_SIGMOID 11   relu6(x + 3)/6 (Keras 3)
//   ACT_HARD_SWISH  12   x*relu6(x + 3)/6 (Keras 3 hard_swish, PyTorch Hardswish)
//
// The pointwise ops of the `unary` and `clip` layers continue the numbering; they run through
// unary_forward / unary_backward, which take a second parameter beta, compute in f64 and need x:
//   ACT_ABS 13, ACT_NEG 14, ACT_SQUARE 15, ACT_SQRT 16, ACT_RSQRT 17, ACT_EXP 18, ACT_LOG 19,
//   ACT_RECIPROCAL 20, ACT_FLOOR 21, ACT_CEIL 22, ACT_ROUND 23 (halves to even), ACT_SIGN 24,
//   ACT_SIN 25, ACT_COS 26, ACT_SOFTPLUS 27, ACT_SOFTSIGN 28, ACT_ERF 29,
//   ACT_HARD_SIGMOID_LINEAR 30   clip(alpha*x + beta, 0, 1) (ONNX HardSigmoid)
//   ACT_CLIP                31   min(max(x, alpha), beta)
//
// Accuracy: within a few f32 ulps of the exact value wherever it is a normal f32 (measured: under
// 3e-7 relative for f and f' over 460k points with |x| <= 50), including the saturated tails: sigmoid, tanh and swish use e^-|x| so nothing cancels,
// elu and selu use e^x - 1 computed without cancellation, gelu and gelu_tanh run in f64.
// The f32 kinds use one e^x routine (exp-f32.ts: Cody-Waite reduction and the Cephes expf
// polynomial) written twice, for f32x4 and for f32, with the same operations in the same order: the result for an
// element does not depend on its position, on n, or on whether the module was built with SIMD.
// NaN inputs give NaN outputs (check_loss sees them).

import {
  Elu, Gelu, GeluTanh, HardSigmoid, HardSwish, LeakyRelu, Linear, Relu, Relu6, Selu, Sigmoid, Swish, Tanh,
  Abs, Ceil, Clip, Cos, Erf, Exp, Floor, HardSigmoidLinear, Log, Neg, Reciprocal, Round, Rsqrt, Sign, Sin, Softplus, Softsign, Sqrt, Square,
} from './activation-kinds';
import { elementwise_split, EW_ACT_BACKWARD, EW_ACT_FORWARD } from './threads-elementwise';

export const ACT_LINEAR: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_SIGMOID: i32 = 2;
export const ACT_TANH: i32 = 3;
export const ACT_LEAKY_RELU: i32 = 4;
export const ACT_ELU: i32 = 5;
export const ACT_SELU: i32 = 6;
export const ACT_GELU: i32 = 7;
export const ACT_GELU_TANH: i32 = 8;
export const ACT_SWISH: i32 = 9;
export const ACT_RELU6: i32 = 10;
export const ACT_HARD_SIGMOID: i32 = 11;
export const ACT_HARD_SWISH: i32 = 12;
export const ACT_ABS: i32 = 13;
export const ACT_NEG: i32 = 14;
export const ACT_SQUARE: i32 = 15;
export const ACT_SQRT: i32 = 16;
export const ACT_RSQRT: i32 = 17;
export const ACT_EXP: i32 = 18;
export const ACT_LOG: i32 = 19;
export const ACT_RECIPROCAL: i32 = 20;
export const ACT_FLOOR: i32 = 21;
export const ACT_CEIL: i32 = 22;
export const ACT_ROUND: i32 = 23;
export const ACT_SIGN: i32 = 24;
export const ACT_SIN: i32 = 25;
export const ACT_COS: i32 = 26;
export const ACT_SOFTPLUS: i32 = 27;
export const ACT_SOFTSIGN: i32 = 28;
export const ACT_ERF: i32 = 29;
export const ACT_HARD_SIGMOID_LINEAR: i32 = 30;
export const ACT_CLIP: i32 = 31;

// y (n) = f(x (n)). alpha is read by leaky_relu and elu only. An unknown kind traps.
export function activation_forward(kind: i32, y: usize, x: usize, n: i32, alpha: f32): void {
  if (n <= 0) return;
  // With a thread pool attached, ranges go to the threads (threads.ts).
  if (ASC_FEATURE_THREADS && elementwise_split(EW_ACT_FORWARD, y, x, 0, 0, n, kind, alpha, 0)) return;
  switch (kind) {
    case ACT_LINEAR: {
      if (y != x) memory.copy(y, x, <usize>n << 2);
      return;
    }
    case ACT_RELU: { forward<Relu>(y, x, n, alpha); return; }
    case ACT_SIGMOID: { forwardExp<Sigmoid>(y, x, n, alpha); return; }
    case ACT_TANH: { forward<Tanh>(y, x, n, alpha); return; }
    case ACT_LEAKY_RELU: { forward<LeakyRelu>(y, x, n, alpha); return; }
    case ACT_ELU: { forward<Elu>(y, x, n, alpha); return; }
    case ACT_SELU: { forward<Selu>(y, x, n, alpha); return; }
    case ACT_GELU: { forward_f64<Gelu>(y, x, n); return; }
    case ACT_GELU_TANH: { forward_f64<GeluTanh>(y, x, n); return; }
    case ACT_SWISH: { forwardExp<Swish>(y, x, n, alpha); return; }
    case ACT_RELU6: { forward<Relu6>(y, x, n, alpha); return; }
    case ACT_HARD_SIGMOID: { forward<HardSigmoid>(y, x, n, alpha); return; }
    case ACT_HARD_SWISH: { forward<HardSwish>(y, x, n, alpha); return; }
  }
  unreachable();
}

// dx (n) [+]= dy (n) * f'(x); accumulate 0 writes dx, 1 adds to it.
// x is the forward input, y the forward output. With x given (x != 0 and x != y) the derivative
// is computed from x, accurately everywhere (sigmoid'(50) = e^-50, not 0). With x == 0, or x == y
// (the forward ran in place and only the output is left), it is computed from y as TF does
// (sigmoid: y(1-y), tanh: 1-y^2, elu: y + alpha, ...): accurate to f32 in absolute terms but not
// relatively in the saturated tails. gelu, gelu_tanh and swish cannot be inverted and trap then.
// y is read only in that case and may otherwise be 0. At kinks the derivative is the left one
// (relu'(0) = 0, leaky_relu'(0) = alpha, relu6'(0) = relu6'(6) = 0, hard_sigmoid'(+-3) = 0).
export function activation_backward(kind: i32, dx: usize, dy: usize, x: usize, y: usize, n: i32, alpha: f32, accumulate: i32): void {
  if (n <= 0) return;
  if (ASC_FEATURE_THREADS && elementwise_split(EW_ACT_BACKWARD, dx, dy, x, y, n, kind, alpha, accumulate)) return;
  if (x != 0 && x != y) {
    switch (kind) {
      case ACT_LINEAR: { backward_from_input<Linear>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_RELU: { backward_from_input<Relu>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_SIGMOID: { backward_from_input<Sigmoid>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_TANH: { backward_from_input<Tanh>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_LEAKY_RELU: { backward_from_input<LeakyRelu>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_ELU: { backward_from_input<Elu>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_SELU: { backward_from_input<Selu>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_GELU: { backward_f64<Gelu>(dx, dy, x, n, accumulate); return; }
      case ACT_GELU_TANH: { backward_f64<GeluTanh>(dx, dy, x, n, accumulate); return; }
      case ACT_SWISH: { backward_from_input<Swish>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_RELU6: { backward_from_input<Relu6>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_HARD_SIGMOID: { backward_from_input<HardSigmoid>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_HARD_SWISH: { backward_from_input<HardSwish>(dx, dy, x, n, alpha, accumulate); return; }
    }
  } else {
    switch (kind) {
      case ACT_LINEAR: { backward_from_output<Linear>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_RELU: { backward_from_output<Relu>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_SIGMOID: { backward_from_output<Sigmoid>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_TANH: { backward_from_output<Tanh>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_LEAKY_RELU: { backward_from_output<LeakyRelu>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_ELU: { backward_from_output<Elu>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_SELU: { backward_from_output<Selu>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_RELU6: { backward_from_output<Relu6>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_HARD_SIGMOID: { backward_from_output<HardSigmoid>(dx, dy, y, n, alpha, accumulate); return; }
    }
  }
  unreachable();
}

// y (n) = f(x (n)) for the kinds of the unary and clip layers (ACT_ABS and above); alpha and beta
// are the parameters of hard_sigmoid_linear and clip. An unknown kind traps.
export function unary_forward(kind: i32, y: usize, x: usize, n: i32, alpha: f32, beta: f32): void {
  if (n <= 0) return;
  const a = <f64>alpha;
  const b = <f64>beta;
  switch (kind) {
    case ACT_ABS: { forward_ab<Abs>(y, x, n, a, b); return; }
    case ACT_NEG: { forward_ab<Neg>(y, x, n, a, b); return; }
    case ACT_SQUARE: { forward_ab<Square>(y, x, n, a, b); return; }
    case ACT_SQRT: { forward_ab<Sqrt>(y, x, n, a, b); return; }
    case ACT_RSQRT: { forward_ab<Rsqrt>(y, x, n, a, b); return; }
    case ACT_EXP: { forward_ab<Exp>(y, x, n, a, b); return; }
    case ACT_LOG: { forward_ab<Log>(y, x, n, a, b); return; }
    case ACT_RECIPROCAL: { forward_ab<Reciprocal>(y, x, n, a, b); return; }
    case ACT_FLOOR: { forward_ab<Floor>(y, x, n, a, b); return; }
    case ACT_CEIL: { forward_ab<Ceil>(y, x, n, a, b); return; }
    case ACT_ROUND: { forward_ab<Round>(y, x, n, a, b); return; }
    case ACT_SIGN: { forward_ab<Sign>(y, x, n, a, b); return; }
    case ACT_SIN: { forward_ab<Sin>(y, x, n, a, b); return; }
    case ACT_COS: { forward_ab<Cos>(y, x, n, a, b); return; }
    case ACT_SOFTPLUS: { forward_ab<Softplus>(y, x, n, a, b); return; }
    case ACT_SOFTSIGN: { forward_ab<Softsign>(y, x, n, a, b); return; }
    case ACT_ERF: { forward_ab<Erf>(y, x, n, a, b); return; }
    case ACT_HARD_SIGMOID_LINEAR: { forward_ab<HardSigmoidLinear>(y, x, n, a, b); return; }
    case ACT_CLIP: { forward_ab<Clip>(y, x, n, a, b); return; }
  }
  unreachable();
}

// dx (n) [+]= dy (n) * f'(x (n)) for those kinds; x is the forward input (never the output).
export function unary_backward(kind: i32, dx: usize, dy: usize, x: usize, n: i32, alpha: f32, beta: f32, accumulate: i32): void {
  if (n <= 0) return;
  if (x == 0) unreachable();
  const a = <f64>alpha;
  const b = <f64>beta;
  switch (kind) {
    case ACT_ABS: { backward_ab<Abs>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_NEG: { backward_ab<Neg>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_SQUARE: { backward_ab<Square>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_SQRT: { backward_ab<Sqrt>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_RSQRT: { backward_ab<Rsqrt>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_EXP: { backward_ab<Exp>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_LOG: { backward_ab<Log>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_RECIPROCAL: { backward_ab<Reciprocal>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_FLOOR: { backward_ab<Floor>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_CEIL: { backward_ab<Ceil>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_ROUND: { backward_ab<Round>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_SIGN: { backward_ab<Sign>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_SIN: { backward_ab<Sin>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_COS: { backward_ab<Cos>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_SOFTPLUS: { backward_ab<Softplus>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_SOFTSIGN: { backward_ab<Softsign>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_ERF: { backward_ab<Erf>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_HARD_SIGMOID_LINEAR: { backward_ab<HardSigmoidLinear>(dx, dy, x, n, a, b, accumulate); return; }
    case ACT_CLIP: { backward_ab<Clip>(dx, dy, x, n, a, b, accumulate); return; }
  }
  unreachable();
}

// ---------------------------------------------------------------------------------------------
// Drivers, generic over the kind K: a zero-size class (activation-kinds.ts) whose @inline methods
// hold the kind's arithmetic, f (fv, fs), f' from x (dxv, dxs) and f' from y (dyv, dys), each for f32x4 and f32
// with the same operations in the same order. Monomorphising gives every kind its own loop with
// nothing to dispatch inside it (an inlined `kind` argument did not constant-fold reliably).

function forward<K>(y: usize, x: usize, n: i32, alpha: f32): void {
  const k = changetype<K>(0);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, k.fv(v128.load(x + o), va));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, k.fs(load<f32>(x + o), alpha));
  }
}

// forward for sigmoid and swish (the gates and SiLU of EfficientNet- and MobileNetV3-like
// networks), four vectors at a time: each vector's e^x (exp-f32.ts) is one long chain of dependent
// operations, and four side by side overlap where one a step did not (efficientnet_b0's SiLU over
// 1.2M floats: 2.44 -> 1.56 ns a float on one thread here). The same operations per element, so
// the same bits. About 1.2 KB of code a kind: tanh, elu and selu (tanh 1.5x and elu 1.4x faster
// the same way on 1 MB in cache) and the lite build (dense networks, sized for a download) keep one
// vector a step.
const EXP_BY_FOUR: bool = !isDefined(EDGETUNE_LITE);
function forwardExp<K>(y: usize, x: usize, n: i32, alpha: f32): void {
  const k = changetype<K>(0);
  let i = 0;
  if (ASC_FEATURE_SIMD && EXP_BY_FOUR) {
    const va = f32x4.splat(alpha);
    for (; i + 16 <= n; i += 16) {
      const o = <usize>i << 2;
      const x0 = v128.load(x + o), x1 = v128.load(x + o, 16), x2 = v128.load(x + o, 32), x3 = v128.load(x + o, 48);
      const y0 = k.fv(x0, va), y1 = k.fv(x1, va), y2 = k.fv(x2, va), y3 = k.fv(x3, va);
      v128.store(y + o, y0); v128.store(y + o, y1, 16); v128.store(y + o, y2, 32); v128.store(y + o, y3, 48);
    }
  }
  forward<K>(y + (<usize>i << 2), x + (<usize>i << 2), n - i, alpha);
}

function backward_from_input<K>(dx: usize, dy: usize, x: usize, n: i32, alpha: f32, accumulate: i32): void {
  const k = changetype<K>(0);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g = f32x4.mul(v128.load(dy + o), k.dxv(v128.load(x + o), va));
      v128.store(dx + o, accumulate ? f32x4.add(v128.load(dx + o), g) : g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(dy + o) * k.dxs(load<f32>(x + o), alpha);
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

function backward_from_output<K>(dx: usize, dy: usize, y: usize, n: i32, alpha: f32, accumulate: i32): void {
  const k = changetype<K>(0);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g = f32x4.mul(v128.load(dy + o), k.dyv(v128.load(y + o), va));
      v128.store(dx + o, accumulate ? f32x4.add(v128.load(dx + o), g) : g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(dy + o) * k.dys(load<f32>(y + o), alpha);
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

// Kinds computed in f64, one element at a time: f (f) and f' (df).
function forward_f64<K>(y: usize, x: usize, n: i32): void {
  const k = changetype<K>(0);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, <f32>k.f(<f64>load<f32>(x + o)));
  }
}

function backward_f64<K>(dx: usize, dy: usize, x: usize, n: i32, accumulate: i32): void {
  const k = changetype<K>(0);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = <f32>(<f64>load<f32>(dy + o) * k.df(<f64>load<f32>(x + o)));
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

// The unary kinds, in f64 with two parameters: f (f) and f' from x (df). Where f' is infinite
// (sqrt'(0)) the product is formed as PyTorch and TF form it (0 * inf = NaN).
function forward_ab<K>(y: usize, x: usize, n: i32, a: f64, b: f64): void {
  const k = changetype<K>(0);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, <f32>k.f(<f64>load<f32>(x + o), a, b));
  }
}

function backward_ab<K>(dx: usize, dy: usize, x: usize, n: i32, a: f64, b: f64, accumulate: i32): void {
  const k = changetype<K>(0);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = <f32>(<f64>load<f32>(dy + o) * k.df(<f64>load<f32>(x + o), a, b));
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}
