// Typed errors. Each says what was wrong and where (layer, tensor, file, shape), so a caller can
// branch on the class or `code` and a person can act on the message.

export class EdgetuneError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

// A tensor's shape does not match what a layer or the model expects.
export class ShapeError extends EdgetuneError {
  constructor(message: string, readonly layer?: string, readonly expected?: readonly (number | null)[], readonly actual?: readonly number[]) {
    super('ShapeError', message);
  }
}

// Bad data or arguments: NaN inputs, labels out of range, batch size 0, unknown names.
export class InvalidArgumentError extends EdgetuneError {
  constructor(message: string) {
    super('InvalidArgument', message);
  }
}

export interface MemoryBreakdown {
  weights: number;
  gradients: number;
  optimizerState: number;
  state: number;
  activations: number;
  scratch: number;
  // Inference plans: weights packed into GEMM panels and kernels with a batch norm folded in,
  // derived once from the weights (host/compile/program.ts packedWeight).
  derivedWeights: number;
  other: number;
}

// The planned arena does not fit the memory budget. Raised before any memory is allocated.
// `limit` names what set the budget: the caller's memoryBudget or the wasm32 memory limit.
export class MemoryBudgetError extends EdgetuneError {
  constructor(readonly budget: number, readonly needed: number, readonly breakdown: MemoryBreakdown, limit = 'memory budget') {
    super('MemoryBudget', `${limit} ${formatBytes(budget)} is too small: the plan needs ${formatBytes(needed)} ` +
      `(${needed} bytes) = ${describeBreakdown(breakdown)}`);
  }
}

// A training step produced a non-finite loss or gradient. The step's update did not run: the
// weights and optimizer state are as they were before it.
export class NonFiniteError extends EdgetuneError {
  constructor(readonly what: 'loss' | 'gradients', readonly epoch: number, readonly batch: number, readonly step: number) {
    super('NonFinite', `non-finite ${what} at epoch ${epoch + 1}, batch ${batch + 1} (step ${step}); ` +
      `training stopped and the weights are those from before this step. ` +
      (what === 'loss' ? 'Check the inputs and labels, or lower the learning rate.' : 'Lower the learning rate or clip gradients.'));
  }
}

// A program run ended with a status the plan does not allow: an opcode this kernel build does not
// know (status -(1 + op)), or a stop at an op that cannot stop a run. The plan and the kernels
// disagree; nothing after that op ran.
export class KernelStatusError extends EdgetuneError {
  constructor(readonly program: string, readonly status: number, readonly op: number, readonly opName: string | undefined, reason: string) {
    super('KernelStatus', `program '${program}' stopped with status ${status} at op ${op}${opName === undefined ? '' : ` (${opName})`}: ${reason}`);
  }
}

// A model file (safetensors topology or weights) is malformed or does not match its topology.
export class ModelFormatError extends EdgetuneError {
  constructor(message: string, readonly source?: string, readonly tensor?: string) {
    super('ModelFormat', message);
  }
}

// A model or data file could not be read or written (missing, a directory, no permission).
// `cause` is the platform's own error.
export class FileAccessError extends EdgetuneError {
  constructor(readonly path: string, readonly reason: string, cause: unknown) {
    super('FileAccess', `${path}: ${reason}`);
    this.cause = cause;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(2)} MB`;
}

export function describeBreakdown(b: MemoryBreakdown): string {
  const derived = b.derivedWeights > 0 ? ` + packed and folded weights ${formatBytes(b.derivedWeights)}` : '';
  return `weights ${formatBytes(b.weights)}${derived} + gradients ${formatBytes(b.gradients)} + optimizer state ` +
    `${formatBytes(b.optimizerState)} + non-trainable state ${formatBytes(b.state)} + activations ` +
    `${formatBytes(b.activations)} + scratch ${formatBytes(b.scratch)} + plan, I/O and kernel statics ${formatBytes(b.other)}`;
}

// A memory size: bytes, or a string such as '512KB', '1.5 MB', '64KiB' (parseBytes also takes lower case).
export type ByteSize = number | `${number}${'' | ' '}${'B' | 'K' | 'KB' | 'KiB' | 'M' | 'MB' | 'MiB' | 'G' | 'GB' | 'GiB'}`;

// '512KB', '1.5MB', '64KiB', 1048576 -> bytes. KB/MB/GB are binary (1024-based), as memory sizes are.
export function parseBytes(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`memoryBudget must be a positive number of bytes, got ${value}`);
    return Math.floor(value);
  }
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(B|KB|KIB|K|MB|MIB|M|GB|GIB|G)?\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError(`memoryBudget '${value}' is not a size: use bytes or a string such as '512KB' or '4MB'`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const mult = unit.startsWith('K') ? 1024 : unit.startsWith('M') ? 1024 ** 2 : unit.startsWith('G') ? 1024 ** 3 : 1;
  return Math.floor(parseFloat(m[1]) * mult);
}
