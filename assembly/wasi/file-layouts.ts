// The plan and data file layouts as this module reads them (host/formats/plan-file.ts and
// host/formats/data-file.ts write them; test/wasi-layouts.test.ts checks that the two agree).

// ---- Plan file layout (host/formats/plan-file.ts; docs/wasi.md) --------------------------------------
export const PLAN_MAGIC: u32 = 0x4c505445; // 'ETPL'
export const PLAN_VERSION: u32 = 2;
export const P_FILE_BYTES: usize = 8;
export const P_CONTRACT: usize = 12;
export const P_PAGES: usize = 16;
export const P_STATIC_BYTES: usize = 20;
export const P_BATCH: usize = 24;
export const P_HEADER_OFFSET: usize = 28;
export const P_HEADER_BYTES: usize = 32;
export const P_INPUT_OFFSET: usize = 36;
export const P_INPUT_FLOATS: usize = 40;
export const P_LABELS_OFFSET: usize = 44;
export const P_LABEL_WORDS: usize = 48;
export const P_LABEL_KIND: usize = 52;
export const P_CLASSES: usize = 56;
export const P_PROGRAMS: usize = 68;
export const P_BINDINGS: usize = 72;
export const P_INPUT_RANK: usize = 76;
export const P_REGIONS: usize = 84;
export const P_STEP_BATCH: usize = 88; // micro-batched plans: rows per optimizer step
export const P_LOSS_SCALE: usize = 92; // f32: 1 / the step batch (micro-batched plans)
export const P_FIXED_BYTES: usize = 96;
export const PROGRAM_TRAIN: u32 = 1;
export const PROGRAM_GRADIENTS: u32 = 4;
export const PROGRAM_INIT: u32 = 5;
export const STEP_CONTRACT: u32 = 2;
export const STEP_CONTRACT_MICRO: u32 = 3;
export const BINDING_TRAINABLE: u32 = 1;
export const BINDING_INT8: u32 = 4;

// ---- Data file layout (host/formats/data-file.ts) ----------------------------------------------------
export const DATA_MAGIC: u32 = 0x44535445; // 'ETSD'
export const DATA_VERSION: u32 = 1;
export const DATA_HEADER_BYTES: usize = 32;
