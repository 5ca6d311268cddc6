/**
 * `mntrace verify <dir...>`: CI on recorded traces. Every directory under
 * <dir> that holds an expected.json (schemas/expected.schema.json) is a
 * fixture: its trace is checked and the findings and range counts compared
 * with what expected.json lists. Each fixture passes or fails with a readable
 * diff (missing / unexpected findings, count mismatches); `--format junit`
 * writes JUnit XML; the exit code is 1 when any fixture fails.
 * `--update` rewrites each expected.json from what mntrace finds now, for
 * after a reviewed change.
 */
import { termSafe } from '../report/terminal';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { compileSchema } from '../config/ajv';
import type { Command } from 'commander';
import { analyzeTrace, readKprobeEventsFile } from '../analyze';
import { ConfigError, loadConfig } from '../config/config';
import type { RangeCounts } from '../engine/engine';
import type { Finding } from '../engine/types';
import { InputError } from '../io/source';
import { renderJunitSuites, type JunitCase } from '../report/junit';
import { colorWanted, makeStyle, type Style } from '../report/style';
import expectedSchema from '../../schemas/expected.schema.json';
import { EXIT, UsageError, writeOutput } from './common';

export interface ExpectedFinding {
  ruleId: string;
  confidence?: Finding['confidence'];
  severity?: Finding['severity'];
  line?: number;
  comm?: string;
  pid?: number;
  message?: string;
}

type CountKey = 'paired' | 'open' | 'failedStarts' | 'orphanEnds';
const COUNT_KEYS: readonly CountKey[] = ['paired', 'open', 'failedStarts', 'orphanEnds'];

export interface Expected {
  $schema?: string;
  description?: string;
  trace?: string;
  options?: { kprobeEvents?: string; inputFormat?: string; config?: string; kernel?: string };
  findings: ExpectedFinding[];
  counts?: Partial<Record<CountKey, number>>;
}

export interface FixtureResult {
  /** The fixture directory, as given or found. */
  dir: string;
  trace?: string;
  status: 'pass' | 'fail' | 'error';
  missing: ExpectedFinding[];
  unexpected: Finding[];
  counts: Array<{ key: CountKey; expected: number; actual: number }>;
  /** Why the fixture could not be run (bad expected.json, no trace, unreadable trace). */
  error?: string;
  findings: number;
  actualCounts?: RangeCounts;
  updated?: boolean;
}

interface VerifyOptions {
  format: string;
  output?: string;
  update?: boolean;
  color?: boolean;
  quiet?: boolean;
}

const FORMATS = ['text', 'junit'];
const EXPECTED = 'expected.json';
const TRACE_FILE = /\.(txt|log|gz|zst|xz|csv|tsv|html|dat)$/i;
const NOT_TRACE = /^(readme|expected\.json$|config|kprobe_events|kprobe-events)/i;

/** Compiled on first use (other commands load this module too). */
let validateExpected: ValidateFunction<Expected> | undefined;

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check recorded trace fixtures: each directory with an expected.json must give exactly the findings (and counts) it lists')
    .argument('<dirs...>', 'directories to search for fixtures (directories holding an expected.json)')
    .option('-f, --format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--update', 'rewrite each expected.json from what mntrace finds now (after reviewing the change)')
    .option('--no-color', 'no colour in text output (NO_COLOR is honoured too)')
    .option('-q, --quiet', 'text output: list only failing fixtures and the totals')
    .action(async (dirs: string[], opts: VerifyOptions) => {
      process.exitCode = await runVerify(dirs, opts);
    });
}

/** Every fixture directory under `root` (root itself included), sorted. */
export function findFixtures(root: string): string[] {
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new UsageError(`cannot read ${root}: no such directory`);
  }
  if (!st.isDirectory()) throw new UsageError(`${root} is not a directory`);
  const out: string[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === EXPECTED)) out.push(dir);
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') walk(join(dir, e.name));
    }
  };
  walk(root);
  return out;
}

/** The trace of a fixture: expected.json's `trace`, else the one trace-like file in the directory. */
export function fixtureTrace(dir: string, expected: Expected): string {
  if (expected.trace) return join(dir, expected.trace);
  const files = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && TRACE_FILE.test(e.name) && !NOT_TRACE.test(e.name)).map((e) => e.name);
  const preferred = files.filter((f) => /^trace\./i.test(f) || /\.trace\./i.test(f));
  const pick = preferred.length === 1 ? preferred : files;
  if (pick.length === 1) return join(dir, pick[0]);
  if (pick.length === 0) throw new Error(`no trace file in ${dir} (name one with "trace" in ${EXPECTED})`);
  throw new Error(`${pick.length} possible trace files in ${dir} (${pick.join(', ')}): name one with "trace" in ${EXPECTED}`);
}

function readExpected(dir: string): Expected {
  const file = join(dir, EXPECTED);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not JSON: ${(err as Error).message}`);
  }
  validateExpected ??= compileSchema<Expected>(expectedSchema);
  if (!validateExpected(data)) {
    const e = validateExpected.errors?.[0];
    throw new Error(`${file}: does not match schemas/expected.schema.json: ${e?.instancePath || '(top)'} ${e?.message ?? ''}${e?.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : ''}`);
  }
  return data;
}

function matches(e: ExpectedFinding, f: Finding): boolean {
  return e.ruleId === f.ruleId
    && (e.confidence === undefined || e.confidence === f.confidence)
    && (e.severity === undefined || e.severity === f.severity)
    && (e.line === undefined || e.line === f.evidence[0]?.line)
    && (e.comm === undefined || e.comm === f.comm)
    && (e.pid === undefined || e.pid === f.pid)
    && (e.message === undefined || f.message.includes(e.message));
}

/** Pair expected and actual findings (most specific expectations first); what is left on each side is the diff. */
export function compareFindings(expected: readonly ExpectedFinding[], actual: readonly Finding[]): { missing: ExpectedFinding[]; unexpected: Finding[] } {
  const specificity = (e: ExpectedFinding) => Object.values(e).filter((v) => v !== undefined).length;
  const order = expected.map((e, i) => i).sort((a, b) => specificity(expected[b]) - specificity(expected[a]) || a - b);
  const used = new Set<number>();
  const missingIdx = new Set<number>();
  for (const i of order) {
    const j = actual.findIndex((f, k) => !used.has(k) && matches(expected[i], f));
    if (j < 0) missingIdx.add(i);
    else used.add(j);
  }
  return { missing: expected.filter((_, i) => missingIdx.has(i)), unexpected: actual.filter((_, k) => !used.has(k)) };
}

/** What --update writes for a finding. */
export function expectationOf(f: Finding): ExpectedFinding {
  return { ruleId: f.ruleId, severity: f.severity, confidence: f.confidence, line: f.evidence[0]?.line ?? 1, comm: f.comm, pid: f.pid };
}

export async function verifyFixture(dir: string, update = false): Promise<FixtureResult> {
  const base: FixtureResult = { dir, status: 'error', missing: [], unexpected: [], counts: [], findings: 0 };
  let expected: Expected;
  let trace: string;
  try {
    expected = readExpected(dir);
    trace = fixtureTrace(dir, expected);
  } catch (err) {
    return { ...base, error: (err as Error).message };
  }
  base.trace = trace;
  let findings: Finding[];
  let counts: RangeCounts;
  try {
    const o = expected.options ?? {};
    const config = o.config ? loadConfig(resolve(dir, o.config)) : undefined;
    const kprobeEvents = o.kprobeEvents ? readKprobeEventsFile(resolve(dir, o.kprobeEvents)) : undefined;
    const result = await analyzeTrace(trace, { config, kprobeEvents, inputFormat: o.inputFormat, ...(o.kernel ? { kernel: o.kernel } : {}) });
    // A fixture that cannot be read whole fails, whatever was found before the damage.
    if (result.input.damaged !== undefined) return { ...base, error: result.input.damaged };
    findings = result.findings;
    counts = result.counts;
  } catch (err) {
    if (err instanceof InputError || err instanceof ConfigError || (err as Error).name === 'KernelVersionError') return { ...base, error: (err as Error).message };
    throw err;
  }
  if (update) {
    const sorted = [...findings].sort((a, b) => (a.evidence[0]?.line ?? 0) - (b.evidence[0]?.line ?? 0) || a.ruleId.localeCompare(b.ruleId));
    const next: Expected = {
      ...(expected.$schema ? { $schema: expected.$schema } : {}),
      ...(expected.description ? { description: expected.description } : {}),
      ...(expected.trace ? { trace: expected.trace } : {}),
      ...(expected.options ? { options: expected.options } : {}),
      findings: sorted.map(expectationOf),
      counts: { paired: counts.paired, open: counts.open, failedStarts: counts.failedStarts, orphanEnds: counts.orphanEnds },
    };
    writeFileSync(join(dir, EXPECTED), JSON.stringify(next, null, 2) + '\n');
    return { ...base, status: 'pass', findings: findings.length, actualCounts: counts, updated: true };
  }
  const { missing, unexpected } = compareFindings(expected.findings, findings);
  const countDiffs = COUNT_KEYS
    .filter((k) => expected.counts?.[k] !== undefined && expected.counts[k] !== counts[k])
    .map((k) => ({ key: k, expected: expected.counts?.[k] as number, actual: counts[k] }));
  const ok = !missing.length && !unexpected.length && !countDiffs.length;
  return { ...base, status: ok ? 'pass' : 'fail', missing, unexpected, counts: countDiffs, findings: findings.length, actualCounts: counts };
}

function describeExpected(e: ExpectedFinding): string {
  const parts = [e.ruleId];
  if (e.severity) parts.push(e.severity);
  if (e.confidence) parts.push(`[${e.confidence}]`);
  if (e.line !== undefined) parts.push(`line ${e.line}`);
  if (e.comm !== undefined || e.pid !== undefined) parts.push(`${e.comm ?? '?'}-${e.pid ?? '?'}`);
  if (e.message !== undefined) parts.push(`message containing ${JSON.stringify(e.message)}`);
  return parts.join(' ');
}

function describeActual(f: Finding): string {
  return `${f.ruleId} ${f.severity} [${f.confidence}] line ${f.evidence[0]?.line} ${f.comm}-${f.pid} at ${f.timestamp}: ${f.message}`;
}

/** The diff of one fixture, as lines (no colour). */
export function diffLines(r: FixtureResult): string[] {
  const out: string[] = [];
  if (r.error) out.push(`error: ${r.error}`);
  for (const e of r.missing) out.push(`- missing:    ${describeExpected(e)}`);
  for (const f of r.unexpected) out.push(`+ unexpected: ${describeActual(f)}`);
  for (const c of r.counts) out.push(`~ counts.${c.key}: expected ${c.expected}, got ${c.actual}`);
  if (r.unexpected.length) out.push('  (if the change is right: mntrace verify --update, then review the diff of expected.json)');
  return out;
}

/** A fixture's name for people: relative to the working directory when inside it, else its full path. */
function fixtureName(dir: string, cwd: string): string {
  const rel = relative(cwd, resolve(dir));
  return rel === '' ? '.' : rel.startsWith('..') ? resolve(dir) : rel;
}

function label(r: FixtureResult, cwd: string): string {
  const dir = fixtureName(r.dir, cwd);
  return r.trace ? `${dir} (${relative(r.dir, r.trace)})` : dir;
}

function renderText(unsafe: FixtureResult[], st: Style, quiet: boolean, cwd: string): string {
  // Fixture names and findings from their traces show their control characters escaped.
  const results = termSafe(unsafe);
  const out: string[] = [];
  for (const r of results) {
    if (r.updated) {
      out.push(`${st.cyan('UPDATED')} ${label(r, cwd)}: ${r.findings} finding(s), ${r.actualCounts?.paired ?? 0} paired`);
      continue;
    }
    if (r.status === 'pass') {
      if (!quiet) out.push(`${st.green('PASS')} ${label(r, cwd)}: ${r.findings} finding(s), ${r.actualCounts?.paired ?? 0} paired`);
      continue;
    }
    out.push(`${st.red(r.status === 'error' ? 'ERROR' : 'FAIL')} ${label(r, cwd)}`);
    for (const l of diffLines(r)) out.push(`    ${l.startsWith('-') ? st.red(l) : l.startsWith('+') ? st.yellow(l) : l}`);
  }
  const passed = results.filter((r) => r.status === 'pass').length;
  const failed = results.length - passed;
  const updated = results.filter((r) => r.updated).length;
  out.push(updated
    ? `verify: ${results.length} fixture(s), ${updated} expected.json rewritten${failed ? `, ${failed} could not be run` : ''}`
    : `verify: ${results.length} fixture(s), ${passed} pass, ${failed} fail`);
  return out.join('\n') + '\n';
}

export function renderVerifyJunit(results: FixtureResult[], cwd = process.cwd()): string {
  const cases: JunitCase[] = results.map((r) => {
    const name = fixtureName(r.dir, cwd);
    const c: JunitCase = { name, classname: 'mntrace.verify' };
    const text = diffLines(r).join('\n');
    if (r.status === 'error') c.error = { message: r.error ?? 'fixture could not be run', type: 'FixtureError', text };
    else if (r.status === 'fail') {
      const parts = [r.missing.length ? `${r.missing.length} missing` : '', r.unexpected.length ? `${r.unexpected.length} unexpected` : '', r.counts.length ? `${r.counts.length} count mismatch(es)` : ''].filter(Boolean);
      c.failure = { message: parts.join(', '), type: 'FixtureMismatch', text };
    } else c.systemOut = `${r.trace ? relative(cwd, r.trace) : ''}: ${r.findings} finding(s) as expected, ${r.actualCounts?.paired ?? 0} ranges paired`;
    return c;
  });
  return renderJunitSuites('mntrace verify', [{ name: 'mntrace verify', cases }]);
}

export async function runVerify(dirs: string[], opts: VerifyOptions): Promise<number> {
  if (!FORMATS.includes(opts.format)) throw new UsageError(`unknown --format '${opts.format}': expected one of ${FORMATS.join(', ')}`);
  const fixtures = dirs.flatMap((d) => findFixtures(d));
  if (!fixtures.length) throw new UsageError(`no fixtures under ${dirs.join(', ')}: a fixture is a directory with an ${EXPECTED}`);
  const results: FixtureResult[] = [];
  for (const dir of fixtures) results.push(await verifyFixture(dir, opts.update));
  const cwd = process.cwd();
  const text = opts.format === 'junit'
    ? renderVerifyJunit(results, cwd)
    : renderText(results, makeStyle(!opts.output && colorWanted(process.stdout, opts.color)), !!opts.quiet, cwd);
  if (opts.output) writeOutput(opts.output, text, '--output');
  else process.stdout.write(text);
  if (opts.format !== 'text' && !opts.quiet) {
    const failed = results.filter((r) => r.status !== 'pass').length;
    process.stderr.write(`mntrace verify: ${results.length} fixture(s), ${results.length - failed} pass, ${failed} fail\n`);
  }
  return results.every((r) => r.status === 'pass') ? EXIT.clean : EXIT.findings;
}
