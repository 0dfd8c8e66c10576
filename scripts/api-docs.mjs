// docs/api.md from the types: every factory of layers, optimizers, schedules, callbacks,
// regularizers and constraints, and the options of compile, fit and findLearningRate, with each
// option's name and type as the TypeScript compiler sees them (so the page cannot drift from the
// code; test/api-docs.test.ts checks it is current). `node scripts/api-docs.mjs` rewrites it.
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
  const program = ts.createProgram([`${root}host/index.ts`], { ...options, noEmit: true });
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
  out.push('');
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const md = apiMarkdown();
  const path = `${root}docs/api.md`;
  let old = '';
  try { old = readFileSync(path, 'utf8'); } catch {}
  if (old !== md) writeFileSync(path, md);
  console.log(`docs/api.md: ${md.split('\n').filter((l) => l.startsWith('| `')).length} options${old === md ? ' (unchanged)' : ''}`);
}
