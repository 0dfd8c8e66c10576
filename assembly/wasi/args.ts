// The command line: train --plan P --weights W --data D [--epochs N].
import * as T from './wasi-messages';
import { args_sizes_get, args_get } from './syscalls';
import { BOOT_ARGV, BOOT_ARGS, BOOT_ARGS_MAX, small, textAt, textLen, usage } from './messages';
import { same, cstrlen } from './files';

// ---- Arguments -------------------------------------------------------------------------------
export let argPlan: usize = 0;
export let argWeights: usize = 0;
export let argData: usize = 0;
export let epochs: i32 = 1;

export function argIs(p: usize, t: T.Text): bool {
  const n = textLen(t);
  return same(p, textAt(t), n) && load<u8>(p + <usize>n) == 0;
}

export function arg(i: i32): usize {
  return <usize>load<u32>(BOOT_ARGV + (<usize>i << 2));
}

export function parseArgs(): void {
  if (args_sizes_get(small, small + 4)) usage();
  const argc = <i32>load<u32>(small);
  const size = <usize>load<u32>(small + 4);
  if (argc > 64 || size > BOOT_ARGS_MAX) usage();
  args_get(BOOT_ARGV, BOOT_ARGS);
  if (argc < 2 || !argIs(arg(1), T.TRAIN)) {
    usage();
  }
  for (let i = 2; i < argc; i += 2) {
    const key = arg(i);
    if (i + 1 >= argc) usage();
    const value = arg(i + 1);
    if (argIs(key, T.ARG_PLAN)) argPlan = value;
    else if (argIs(key, T.ARG_WEIGHTS)) argWeights = value;
    else if (argIs(key, T.ARG_DATA)) argData = value;
    else if (argIs(key, T.ARG_EPOCHS)) {
      let n = 0;
      const len = cstrlen(value);
      for (let j = 0; j < len; j++) {
        const c = <i32>load<u8>(value + <usize>j);
        if (c < 48 || c > 57 || n > 100000000) usage();
        n = n * 10 + c - 48;
      }
      if (len == 0) usage();
      epochs = n;
    } else usage();
  }
  if (!argPlan || !argWeights || !argData) usage();
}
