// docs/api.md from the types: every factory of layers, optimizers, schedules, callbacks,
// regularizers and constraints, and the options of compile, fit and findLearningRate, with each
// option's name and type as the TypeScript compiler sees them (so the page cannot drift from the
// code; test/api-docs.test.ts checks it is current). `node scripts/api-docs.mjs` rewrites it.
// Its last section is edgetune/lite's model and options (host/lite.ts), against the core entry's.
import ts from 'typescript';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const FACTORIES = ['layers', 'optimizers', 'schedules', 'callbacks', 'regularizers', 'constraints'];
const OPTION_TYPES = ['CompileOptions', 'FitOptions', 'EvaluateOptions', 'TrainOnBatchOptions', 'LoadModelOptions', 'LrFinderOptions'];
const NAMES = ['ActivationName', 'ActivationSpec', 'InitializerName', 'RegularizerName', 'ConstraintName', 'LossName', 'LossSpec', 'OptimizerName', 'MonitorName', 'ByteSize'];

export function apiMarkdown() {
  const { config } = ts.readConfigFile(`${root}tsconfig.json`, ts.sys.readFile);
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, root);
  const program = ts.createProgram([`${root}host/index.ts`, `${root}host/lite.ts`], { ...options, noEmit: true });
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(`${root}host/index.ts`));
  const exported = new Map(checker.getExportsOfModule(entry).map((s) => [s.name, s]));
  const resolve = (s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const text = (t) => checker.typeToString(t, undefined, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope);
  const cell = (s) => s.replace(/\|/g, '\\|');

  // The options an argument takes: the properties of its object part (a union such as
  // `number | DenseOptions` contributes DenseOptions's), or none for a plain value.
  function optionRows(type) {
    const parts = type.isUnion() ? type.types : [type];
    const rows = [];
    const seen = new Set();
    for (const part of parts) {
      if (!(part.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) || checker.isArrayType(part) || checker.isTupleType(part) || part.getCallSignatures().length) continue;
      for (const p of checker.getPropertiesOfType(part)) {
        if (seen.has(p.name)) continue;
        seen.add(p.name);
        const decl = p.valueDeclaration ?? p.declarations?.[0];
        const optional = (p.flags & ts.SymbolFlags.Optional) !== 0;
        const type = text(checker.getTypeOfSymbolAtLocation(p, decl)).replace(/<ArrayBufferLike>/g, '');
        rows.push(`| \`${p.name}\`${optional ? '' : ' (required)'} | \`${cell(optional ? type.replace(/ \| undefined$/, '') : type)}\` |`);
      }
    }
    return rows;
  }

  const out = ['# API options', '', 'Generated from the TypeScript types by `node scripts/api-docs.mjs` (`npm run docs`); a test',
    'checks it is current. Names, defaults and formulas follow Keras 3 ([numerics.md](numerics.md)).',
    'Option records are closed: JavaScript callers passing other strings get a typed error.', ''];
  for (const name of FACTORIES) {
    const symbol = resolve(exported.get(name));
    const type = checker.getTypeOfSymbolAtLocation(symbol, symbol.valueDeclaration);
    out.push(`## ${name}`, '');
    for (const member of checker.getPropertiesOfType(type)) {
      const mtype = checker.getTypeOfSymbolAtLocation(member, member.valueDeclaration);
      for (const sig of mtype.getCallSignatures()) {
        const params = sig.getParameters().map((p) => {
          const pd = p.valueDeclaration;
          const optional = pd && (pd.questionToken || pd.initializer);
          const type = text(checker.getTypeOfSymbolAtLocation(p, pd)).replace(/<ArrayBufferLike>/g, '');
          return `${p.name}${optional ? '?' : ''}: ${optional ? type.replace(/ \| undefined$/, '') : type}`;
        });
        out.push(`### ${name}.${member.name}`, '', `\`${name}.${member.name}(${params.join(', ')})\``, '');
        const rows = optionRows(checker.getUnionType(sig.getParameters().map((p) => checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration))));
        if (rows.length) out.push('| option | type |', '|---|---|', ...rows, '');
      }
    }
  }
  out.push('## Options of compile, fit and findLearningRate', '');
  for (const name of OPTION_TYPES) {
    out.push(`### ${name}`, '', '| option | type |', '|---|---|', ...optionRows(checker.getDeclaredTypeOfSymbol(resolve(exported.get(name)))), '');
  }
  out.push('## Names', '', 'The strings the options above accept.', '', '| type | values |', '|---|---|');
  for (const name of NAMES) {
    const type = checker.getDeclaredTypeOfSymbol(resolve(exported.get(name)));
    out.push(`| \`${name}\` | ${cell(checker.typeToString(type, undefined, ts.TypeFormatFlags.InTypeAlias | ts.TypeFormatFlags.NoTruncation))} |`);
  }
  out.push('', ...liteSection(checker, program.getSourceFile(`${root}host/lite.ts`), resolve, optionRows, text, cell, exported));
  return out.join('\n');
}

// edgetune/lite: the members of its Model (public, not @internal) with their types, the members of
// the core entry's Model it leaves out, and its fit and evaluate options.
function liteSection(checker, source, resolve, optionRows, text, cell, full) {
  const entry = checker.getSymbolAtLocation(source);
  const lite = new Map(checker.getExportsOfModule(entry).map((s) => [s.name, s]));
  const isPublic = (p) => {
    const decl = p.valueDeclaration ?? p.declarations?.[0];
    const flags = decl ? ts.getCombinedModifierFlags(decl) : 0;
    return !(flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) && !p.name.startsWith('#') && !ts.getJSDocTags(decl ?? {}).some((t) => t.tagName.text === 'internal')
      && !(decl && ts.getLeadingCommentRanges(decl.getSourceFile().text, decl.pos)?.some((r) => decl.getSourceFile().text.slice(r.pos, r.end).includes('@internal')));
  };
  const members = (type) => checker.getPropertiesOfType(type).filter(isPublic);
  const liteModel = members(checker.getDeclaredTypeOfSymbol(resolve(lite.get('Model'))));
  const fullModel = members(checker.getDeclaredTypeOfSymbol(resolve(full.get('Model'))));
  const names = new Set(liteModel.map((p) => p.name));
  const out = ['## edgetune/lite', '',
    "`import { ... } from 'edgetune/lite'`: the core entry's exports on the lite kernels (or an app's own kernel build,",
    '`npx edgetune kernels`, loaded with `ready(url)`), plus `usedOps()` (the ops of every plan checked in the process,',
    'for that build). Its `sequential` and `model` make LiteModels (`Model` is that class), which have the members below.',
    `Left out of the core entry's Model: ${fullModel.filter((p) => !names.has(p.name)).map((p) => `\`${p.name}\``).join(', ')}; fit, evaluate and`,
    'trainOnBatch refuse `sampleWeight` and `classWeight` with an InvalidArgumentError, and `callbacks.modelCheckpoint` refuses',
    'a LiteModel when training begins (it has no save). Its models run on one thread until the app calls `setThreads`, which',
    'brings the thread pool (in a page, before `ready()`; docs/threads.md).', '', '### Model (edgetune/lite)', '', '| member | type |', '|---|---|'];
  for (const p of liteModel) out.push(`| \`${p.name}\` | \`${cell(text(checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration ?? p.declarations[0])).replace(/<ArrayBufferLike>/g, ''))}\` |`);
  out.push('');
  for (const name of ['FitOptions', 'EvaluateOptions']) {
    out.push(`### ${name} (edgetune/lite)`, '', '| option | type |', '|---|---|', ...optionRows(checker.getDeclaredTypeOfSymbol(resolve(lite.get(name)))), '');
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const md = apiMarkdown();
  const path = `${root}docs/api.md`;
  let old = '';
  try { old = readFileSync(path, 'utf8'); } catch {}
  if (old !== md) writeFileSync(path, md);
  console.log(`docs/api.md: ${md.split('\n').filter((l) => l.startsWith('| `')).length} options${old === md ? ' (unchanged)' : ''}`);
}
