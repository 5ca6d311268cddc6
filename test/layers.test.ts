/**
 * The source layers point down: each module imports only from its own layer
 * and the layers below it. Read from the TypeScript sources (every `import`
 * and `export ... from`, type-only ones too: a type import is a dependency on
 * the module's design as well).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './report-helpers';

/**
 * Each layer and the layers it may import from (its own is always allowed).
 * From the bottom: base utilities (src/util: no import of the project), the event model, the probe catalog, the
 * parsers of text formats, the engine, the rules, reading files, the config,
 * the analysis pipeline, the reports, the command line.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  base: [],
  model: ['base'],
  btf: ['base'],
  probes: ['btf', 'base'],
  semantics: ['model', 'base'],
  parsers: ['semantics', 'model', 'base'],
  engine: ['semantics', 'model', 'base'],
  rules: ['engine', 'semantics', 'model', 'base'],
  io: ['parsers', 'semantics', 'model', 'base'],
  config: ['rules', 'engine', 'semantics', 'model', 'base'],
  analyze: ['config', 'io', 'rules', 'engine', 'parsers', 'semantics', 'probes', 'model', 'base'],
  report: ['analyze', 'engine', 'semantics', 'model', 'base'],
  cli: ['report', 'analyze', 'config', 'io', 'rules', 'engine', 'parsers', 'semantics', 'probes', 'btf', 'model', 'base'],
  library: Object.keys({ cli: 0, report: 0, analyze: 0, config: 0, io: 0, rules: 0, engine: 0, parsers: 0, semantics: 0, probes: 0, btf: 0, model: 0, base: 0 }),
};

/** The layer of a file (a path relative to the repository, without extension). */
export function layerOf(file: string): string {
  // package.json is required from the compiled dist/src/version.js, so from the source it resolves outside the checkout.
  if (file === 'src/version' || file === 'src/config/ajv' || /(^|\/)package$/.test(file) || file.startsWith('schemas/') || file.startsWith('src/util/')) return 'base';
  if (file === 'src/analyze') return 'analyze';
  if (file === 'src/index') return 'library';
  const [top, sub] = file.split('/');
  if (top === 'parsers' || top === 'rules') return top;
  if (top === 'src' && sub && sub in MAY_IMPORT) return sub;
  throw new Error(`${file}: in no layer; add it to test/layers.test.ts`);
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every relative module a source file imports or re-exports, as a repository path without extension. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s+'(\.[^']+)'|\brequire\('(\.[^']+)'\)/gm)) {
    const spec = m[1] ?? m[2]!;
    const target = relative(ROOT, resolve(dirname(file), spec)).replace(/\.(json|ts|js)$/, '').replace(/\/index$/, '');
    out.push(target === 'rules' || target === 'src/semantics' || target === 'src/probes' ? `${target}/index` : target);
  }
  return out;
}

describe('layers point down', () => {
  const files = ['src', 'parsers', 'rules'].flatMap((d) => sources(join(ROOT, d)));

  it('no module imports from a layer above its own', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const from = relative(ROOT, f).replace(/\.ts$/, '');
      const layer = layerOf(from);
      for (const to of importsOf(f)) {
        const target = layerOf(to);
        if (target !== layer && !MAY_IMPORT[layer]!.includes(target)) wrong.push(`${from} (${layer}) imports ${to} (${target})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('the check sees imports, and would fail on one that points up', () => {
    const detect = importsOf(join(ROOT, 'parsers', 'detect.ts'));
    assert.ok(detect.includes('src/model/event'), detect.join(', '));
    assert.equal(layerOf('src/io/source'), 'io');
    assert.ok(!MAY_IMPORT.parsers!.includes(layerOf('src/io/source')), 'parsers may not import io');
    assert.ok(!MAY_IMPORT.engine!.includes(layerOf('parsers/types')), 'the engine may not import parsers');
    assert.ok(!MAY_IMPORT.report!.includes(layerOf('rules/index')), 'reports may not import rules');
  });
});
