// The WASI driver's texts (assembly/wasi/wasi.ts: its messages, argument names and the safetensors keys
// it matches) as one static blob of UTF-8 bytes: writes assembly/wasi/wasi-messages.ts. As ~100 separate
// AssemblyScript string literals (UTF-16, each with its object header and its own data segments)
// they cost ~5 KB of the WASI module; as one blob, ~1.5 KB. scripts/build.mjs runs this before
// compiling; run it by hand (`node scripts/wasi-messages.mjs`) after editing the list.
//
// Each text is stored as a length byte followed by its bytes; the constant named here is the
// offset of the length byte in the blob (wasi.ts: put, keyIs, argIs). Order is free.
import { writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FOOTPRINTS_FILE, footprintsSource, footprintTexts, loadTables } from './op-footprints.mjs';

export const TEXTS = [
  // the first line of every message, and the build check
  ['PREFIX', 'edgetune-wasi: '],
  ['BAD_BUILD', 'bad build'],
  ['EMPTY', ''],
  // arguments
  ['USAGE', 'usage: train --plan P --weights W --data D [--epochs N]'],
  ['TRAIN', 'train'],
  ['ARG_PLAN', '--plan'],
  ['ARG_WEIGHTS', '--weights'],
  ['ARG_DATA', '--data'],
  ['ARG_EPOCHS', '--epochs'],
  // files
  ['PLAN', 'plan'],
  ['WEIGHTS', 'weights'],
  ['DATA', 'data'],
  ['PLAN_FILE', 'plan file'],
  ['WEIGHTS_FILE', 'weights file'],
  ['DATA_FILE', 'data file'],
  ['SPACE', ' '],
  ['NOT_PREOPENED', ' is not in a preopened directory'],
  ['CANNOT_OPEN', 'cannot open '],
  ['ERRNO', ' (errno '],
  ['CLOSE', ')'],
  ['SEEK_FAILED', 'seek failed'],
  ['IS_TRUNCATED', ' is truncated'],
  ['WRITE_FAILED', 'write failed'],
  ['CANNOT_CREATE', 'cannot create'],
  ['CANNOT_RENAME', 'cannot rename'],
  ['TEMP_FILE', ' temp file'],
  ['UNCHANGED', '; weights file unchanged'],
  ['TMP_SUFFIX', '.edgetune-tmp'],
  ['OUT_OF_MEMORY', 'out of memory'],
  // the plan file
  ['PLAN_TRUNCATED', 'plan: file is truncated'],
  ['NOT_A_PLAN', 'plan: not a plan file'],
  ['PLAN_VERSION_IS', 'plan: file format version '],
  ['READS_VERSION', ', this module reads version '],
  ['BAD_CONTRACT', 'plan: unsupported step contract'],
  ['BAD_ARENA', 'plan: bad arena'],
  ['OUT_OF_BOUNDS', 'plan: region out of bounds'],
  ['NO_TRAIN', 'plan: no train program'],
  ['INIT_FAILED', 'plan: init failed'],
  ['WHOLE_BATCH_STEP', 'plan: a whole-batch plan (step contract 2) has a step batch or loss scale'],
  ['MICRO_BATCH', 'plan: micro-batch '],
  ['NOT_DIVIDE_STEP', ' does not divide the step batch '],
  ['BAD_LOSS_SCALE', 'plan: loss scale is not 1 / the step batch '],
  ['NO_GRADIENTS', 'plan: a micro-batched plan has no gradients program'],
  ['INT8_TENSOR', 'plan: int8 tensor \''],
  ['INT8_WRITABLE', '\' is trainable or in a writable region; an int8 kernel stays frozen'],
  // the weights (safetensors)
  ['WEIGHTS_TRUNCATED', 'weights: file is truncated'],
  ['BAD_HEADER', 'weights: bad header'],
  ['BAD_OFFSETS', 'weights: bad offsets'],
  ['TENSOR', 'weights: tensor \''],
  ['NOT_IN_PLAN', '\' is not in the plan'],
  ['NOT_F32', '\' is not F32'],
  ['NOT_I8', '\' is not I8 (the plan holds an int8 kernel)'],
  ['HAS_SHAPE', '\' has shape '],
  ['PLAN_EXPECTS', ', the plan expects '],
  ['HAS_BAD_OFFSETS', '\' has bad offsets'],
  ['APPEARS_TWICE', '\' appears twice'],
  ['IS_MISSING', '\' is missing'],
  ['KEY_METADATA', '__metadata__'],
  ['KEY_DTYPE', 'dtype'],
  ['KEY_SHAPE', 'shape'],
  ['KEY_OFFSETS', 'data_offsets'],
  ['F32', 'F32'],
  ['I8', 'I8'],
  // the data file
  ['DATA_TRUNCATED', 'data: file is truncated'],
  ['NOT_ETD', 'data: not an .etd file'],
  ['DATA_VERSION_IS', 'data: file format version '],
  ['NO_RECORDS', 'data: no records'],
  ['DATA_COLON', 'data: '],
  ['RECORDS_NEED', ' records need '],
  ['BYTES_FILE_HAS', ' bytes, the file has '],
  ['TRUNCATED_Q', ' (truncated?)'],
  ['RECORDS_OF', 'data: records of '],
  ['INPUTS_AND', ' inputs and '],
  ['F32_TARGETS', ' f32 targets'],
  ['CLASS_LABELS', ' class labels'],
  ['DO_NOT_FIT', ' do not fit the plan: '],
  ['RECORD', 'data: record '],
  ['NON_FINITE_INPUT', ' has a non-finite input'],
  ['LABEL_OUTSIDE', ' has a label outside the '],
  ['CLASSES', ' classes'],
  // training
  ['UNKNOWN_OPCODE', 'plan: unknown opcode'],
  ['NON_FINITE', 'non-finite loss or gradients'],
  ['AT_EPOCH', ' at epoch '],
  ['COMMA_BATCH', ', batch '],
  ['STEP', ' (step '],
  ['EPOCH', 'epoch '],
  ['LOSS', ' loss '],
  ['F64', ' f64 0x'],
  ['WROTE', 'wrote '],
  ['AFTER', ' after '],
  ['STEPS', ' steps'],
  // the plan verifier (assembly/wasi/plan-verify.ts)
  ['V_PLAN', 'plan: '],
  ['V_RECOMPILE', ': recompile the plan'],
  ['V_REGION', 'region '],
  ['V_OUTSIDE', ' is misaligned or outside the arena'],
  ['V_REGIONS', 'regions '],
  ['V_AND', ' and '],
  ['V_OVERLAP', ' overlap while both are alive'],
  ['V_TRAIN', 'train op '],
  ['V_INIT', 'init op '],
  ['V_GRADIENTS', 'gradients op '],
  ['V_OPEN', ' ('],
  ['V_ARGUMENT', ' argument \''],
  ['V_QUOTE', '\''],
  ['V_PROGRAM', 'program words do not match its op count'],
  ['V_UNKNOWN', ': unknown opcode '],
  ['V_COLON', ': '],
  ['V_ARGS', ' arguments, expected '],
  ['V_IS', ' is -'],
  ['V_NOT_SIZE', ', not a size'],
  ['V_NO_REGION', ' points at no region'],
  ['V_MAY_NOT_USE', ' may not use '],
  ['V_MAY_NOT_WRITE', ' may not write '],
  ['V_NOT_LIVE', ' is used outside its program or live range: '],
  ['V_TOUCHES', ' touches ['],
  ['V_COMMA', ', '],
  ['V_OUTSIDE_OF', ') outside '],
  ['V_FROM', ' ['],
  ['V_SAME_AS', ' writes into the region it reads as \''],
  ['V_BATCH', 'step header batch '],
  ['V_PARTS', 'the step header, input, labels or program words are not regions of their kind'],
  ['V_EXCEEDS', ' exceeds the planned batch '],
  ['V_CLASSES_FEWER', ' classes, fewer than the header\'s '],
  ['V_WORK_TRAIN', 'train program: a step does '],
  ['V_WORK_INIT', 'init program: a step does '],
  ['V_WORK_OVER', ' element operations, over the limit of '],
];

export function messagesSource(extra = [], offsets = new Map()) {
  const bytes = [];
  const lines = [];
  const names = new Set();
  for (const [name, text] of [...TEXTS, ...extra]) {
    const utf8 = Buffer.from(text, 'utf8');
    if (names.has(name)) throw new Error(`wasi-messages: ${name} twice`);
    if (utf8.length > 255) throw new Error(`wasi-messages: ${name} is longer than 255 bytes`);
    names.add(name);
    offsets.set(name, bytes.length);
    lines.push(`export const ${name}: Text = ${bytes.length}; // ${JSON.stringify(text)}`);
    bytes.push(utf8.length, ...utf8);
  }
  const rows = [];
  for (let i = 0; i < bytes.length; i += 24) rows.push(`    ${bytes.slice(i, i + 24).join(', ')},`);
  return `// Generated by scripts/wasi-messages.mjs from its list: do not edit (edit the list, then run it).
// The WASI driver's texts as one blob of UTF-8 bytes, each a length byte then its bytes; a Text is
// the offset of its length byte.
export type Text = i32;
export const TEXT_BYTES: usize = ${bytes.length};
// A function, not a global: the blob is placed in static data when this is first compiled, which
// wasi.ts arranges to be after the kernels' math tables (see checkStatics there).
export function textBlob(): usize {
  return memory.data<u8>([
${rows.join('\n')}
  ]);
}
${lines.join('\n')}
`;
}

export const MESSAGES_FILE = fileURLToPath(new URL('../assembly/wasi/wasi-messages.ts', import.meta.url));

// Writes the file only when it changes (keeps its timestamp and a clean tree otherwise).
// Both generated files: the texts (with the names of ops and arguments the plan verifier prints)
// and the verifier's op table (scripts/op-footprints.mjs), which refers to texts by offset. Each is
// written only when it changes (keeps its timestamp and a clean tree otherwise).
export async function generatedSources() {
  const t = await loadTables();
  const offsets = new Map();
  const messages = messagesSource(footprintTexts(t), offsets);
  return { messages, footprints: footprintsSource(t, (name) => offsets.get(name)) };
}

export async function writeMessages() {
  const { messages, footprints } = await generatedSources();
  for (const [file, source] of [[MESSAGES_FILE, messages], [FOOTPRINTS_FILE, footprints]]) {
    let old = '';
    try { old = readFileSync(file, 'utf8'); } catch { /* first run */ }
    if (old !== source) writeFileSync(file, source);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await writeMessages();
