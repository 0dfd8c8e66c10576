import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The mutation fuzzer runs through `npm run fuzz` (test/fuzz/run.mjs sets FUZZ_N), not in
    // `npm test`: once in a full parallel run its worker process died (in-process WASI runs of
    // mutated plans; cause not yet found), and a dead worker fails the whole run.
    exclude: process.env.FUZZ_N ? configDefaults.exclude : [...configDefaults.exclude, 'test/fuzz/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
