/**
 * `npm run fuzz`: random and mutated inputs through the library
 * (analyzeTrace, in a child process) and the CLI (`mntrace check --format
 * json`, a child process each). Every input must end as a result: exit code
 * 0, 1 or 2 (for the library: a report, or an InputError), no stack trace or
 * "internal error" on stderr, a JSON report valid against
 * schemas/report.schema.json, under the time limit, and (library) the child's
 * RSS under 300 MB.
 *
 * Inputs are mutations of the real captures and corpus files in fixtures/
 * (every format mntrace reads), random bytes and lines, and compressed
 * inputs: gzip of a mutated text, and byte-level damage to the gz, xz and
 * zstd fixtures. Input i of a run depends only on (seed, i): a failure is
 * reproduced with `--seed S --from i --count 1`.
 *
 *   node dist/bench/fuzz.js [--seed N] [--count N] [--cli-count N] [--time-limit MS] [--from I] [--keep DIR]
 */
import { spawn, spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import Ajv from 'ajv';
import { Command, CommanderError, InvalidArgumentError } from 'commander';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'mntrace.js');
export const RSS_LIMIT_MB = 300;
/** Inputs are cut to this size after each mutation (mutations compound). */
const MAX_INPUT = 1 << 20;

export interface FuzzOptions {
  seed: number;
  /** Inputs through the library. */
  count: number;
  /** Inputs through the CLI (each a process of its own). */
  cliCount: number;
  /** Per input, in ms. */
  timeLimitMs: number;
  /** First input index (to reproduce one). */
  from: number;
  /** Keep failing inputs here. */
  keep?: string;
  log?: (line: string) => void;
}

export interface FuzzFailure {
  via: 'library' | 'cli';
  index: number;
  kind: string;
  what: string;
  detail: string;
}

export interface FuzzResult {
  library: number;
  cli: number;
  failures: FuzzFailure[];
  maxRssMb: number;
  slowestMs: number;
  exits: Record<string, number>;
}

// ---- inputs ----------------------------------------------------------------

/** A fixed-seed generator (mulberry32): the same inputs for the same seed on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Base {
  name: string;
  ext: string;
  data: Buffer;
}

let basesCache: Base[] | undefined;

/** Text fixtures (decompressed when gzipped) and the compressed fixtures, as they are. */
function bases(): Base[] {
  if (basesCache) return basesCache;
  const out: Base[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'btf' && name !== 'meta') walk(p);
        continue;
      }
      if (/\.(md|json|dat|html)$/.test(name) || name.startsWith('kprobe_events')) continue;
      let data: Buffer = readFileSync(p);
      if (statSync(p).size > 4 << 20) continue;
      const rel = relative(ROOT, p);
      if (/\.(xz|zst)$/.test(name) || rel.startsWith(join('fixtures', 'compressed'))) {
        out.push({ name: rel, ext: name.slice(name.lastIndexOf('.')), data });
        continue;
      }
      if (name.endsWith('.gz')) {
        data = require('node:zlib').gunzipSync(data) as Buffer;
        // Big captures: a slice of lines from their middle, so one input stays small.
        if (data.length > 400_000) {
          const text = data.toString('latin1');
          const at = text.indexOf('\n', Math.floor(text.length / 2));
          data = Buffer.from(text.slice(0, text.indexOf('\n', 4000) + 1) + text.slice(at + 1, at + 200_000), 'latin1');
        }
      }
      out.push({ name: rel, ext: name.endsWith('.csv') ? '.csv' : '.txt', data });
    }
  };
  walk(join(ROOT, 'fixtures'));
  basesCache = out.sort((a, b) => a.name.localeCompare(b.name));
  return basesCache;
}

const TOKENS = [
  ' [001] ', '.....', 'd..1.', ' 6.667004: ', 'mn_inv_start: ', 'mn_inv_end: ', 'mn_inv_start_ret: ', 'range=0xff4d4553c041bb88',
  'mm=0xff201f0681057180', ' ret=-11', ' flags=1', ' event=1', 'kvmnotif-147', '# tracer: nop', 'CPU:1 [LOST 12 EVENTS]',
  '##### CPU 1 buffer started ####', ' => __oom_reap_task_mm', ' <stack trace>', '(__mmu_notifier_invalidate_range_start+0x0/0x190)',
  'kprobes:', 'cpus=2', ' | ', '-----', '\t', '\u001b[31m', '\r', '(', ')', '=', ':', ',', ' ', '  ', '\n',
];

/** One mutation of `b`, picked by `r`. */
function mutate(b: Buffer, r: () => number): Buffer {
  const at = Math.floor(r() * (b.length + 1));
  const len = Math.floor(r() * Math.min(200, b.length - at + 1));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  switch (Math.floor(r() * 11)) {
    case 0: { // flip bytes
      const c = Buffer.from(b);
      for (let k = 0; k < 1 + r() * 8 && c.length; k++) c[Math.floor(r() * c.length)] ^= 1 << Math.floor(r() * 8);
      return c;
    }
    case 1: return Buffer.concat([b.subarray(0, at), b.subarray(at + len)]); // delete
    case 2: return Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]); // duplicate
    case 3: return b.subarray(0, at); // cut
    case 4: return Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 64) }, () => Math.floor(r() * 256))), b.subarray(at)]);
    case 5: return Buffer.concat([b.subarray(0, at), Buffer.from(pick(TOKENS)), b.subarray(at)]);
    case 6: { // a digit run made huge
      const text = b.toString('latin1');
      const m = /\d+/g;
      m.lastIndex = at;
      const d = m.exec(text);
      if (!d) return b;
      return Buffer.from(text.slice(0, d.index) + '9'.repeat(1 + Math.floor(r() * 500)) + text.slice(d.index + d[0].length), 'latin1');
    }
    case 7: { // swap two lines
      const lines = b.toString('latin1').split('\n');
      const i = Math.floor(r() * lines.length);
      const j = Math.floor(r() * lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    case 8: return Buffer.concat([b.subarray(0, at), Buffer.from(pick(['x', ' ', '0', '=', '\u0000']).repeat(1 + Math.floor(r() * 3000))), b.subarray(at)]);
    case 9: { // a line repeated
      const text = b.toString('latin1');
      const s = text.lastIndexOf('\n', at) + 1;
      const e = text.indexOf('\n', at);
      const line = text.slice(s, e < 0 ? text.length : e + 1);
      return Buffer.from(text.slice(0, s) + line.repeat(1 + Math.floor(r() * 200)) + text.slice(s), 'latin1');
    }
    default: { // a field value replaced
      const text = b.toString('latin1');
      const eq = text.indexOf('=', at);
      if (eq < 0) return b;
      const end = text.slice(eq + 1).search(/[\s,]/);
      return Buffer.from(text.slice(0, eq + 1) + pick(['', '-1', '0x', '1e400', '-0', 'NaN', '0xffffffffffffffffffff', '(null)']) + text.slice(end < 0 ? text.length : eq + 1 + end), 'latin1');
    }
  }
}

/** Input `index` of a run with `seed`: its bytes, file extension and what it is. */
export function makeInput(seed: number, index: number): { data: Buffer; ext: string; what: string } {
  const r = rng((seed * 1_000_003 + index) >>> 0);
  const all = bases();
  const x = r();
  if (x < 0.08) {
    // Random lines of trace tokens and bytes.
    const n = Math.floor(r() * 200);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(r() < 0.8 ? TOKENS[Math.floor(r() * TOKENS.length)] : String.fromCharCode(Math.floor(r() * 256)));
    return { data: Buffer.from(parts.join(''), 'latin1'), ext: '.txt', what: 'random tokens' };
  }
  if (x < 0.1) return { data: Buffer.from(Array.from({ length: Math.floor(r() * 4096) }, () => Math.floor(r() * 256))), ext: '.txt', what: 'random bytes' };
  const compressed = all.filter((b) => b.ext === '.gz' || b.ext === '.xz' || b.ext === '.zst');
  if (x < 0.2) {
    const b = compressed[Math.floor(r() * compressed.length)];
    let data = b.data;
    const n = 1 + Math.floor(r() * 3);
    for (let k = 0; k < n; k++) data = mutate(data, r).subarray(0, MAX_INPUT);
    return { data, ext: `.txt${b.ext}`, what: `${b.name} damaged (${n} mutations)` };
  }
  const texts = all.filter((b) => !compressed.includes(b));
  const b = texts[Math.floor(r() * texts.length)];
  let data = b.data;
  const n = 1 + Math.floor(r() * 8);
  for (let k = 0; k < n; k++) data = mutate(data, r).subarray(0, MAX_INPUT);
  if (x < 0.3) return { data: gzipSync(data), ext: `${b.ext}.gz`, what: `${b.name} with ${n} mutations, gzipped` };
  return { data, ext: b.ext, what: `${b.name} with ${n} mutations` };
}

// ---- checks ----------------------------------------------------------------

let validate: ((x: unknown) => boolean) & { errors?: unknown } | undefined;

function reportErrors(json: string): string | undefined {
  validate ??= new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas', 'report.schema.json'), 'utf8')));
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  return validate(data) ? undefined : JSON.stringify(validate.errors).slice(0, 600);
}

const CRASH = /internal error|\n\s+at .+:\d+:\d+\)?\n|Error: .*\n\s+at /;

/** The library side: in a child process (so a hang is killed and RSS is its own), input after input. */
async function libraryInChild(seed: number, first: number, count: number, dir: string): Promise<{ done: number; lines: string[]; hungAt?: number; exitedAt?: number; stderr: string }> {
  return new Promise((resolvePromise) => {
    const paths: Record<number, string> = {};
    for (let i = first; i < first + count; i++) {
      const input = makeInput(seed, i);
      paths[i] = join(dir, `lib-${i}${input.ext}`);
      writeFileSync(paths[i], input.data);
    }
    writeFileSync(join(dir, 'batch.json'), JSON.stringify(paths));
    const child = spawn(process.execPath, [__filename, '--child', String(first), String(count), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    let current = first;
    let timer: NodeJS.Timeout | undefined;
    let hungAt: number | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        hungAt = current;
        child.kill('SIGKILL');
      }, timeLimit);
    };
    arm();
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 20000) stderr += d.toString();
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      try {
        current = (JSON.parse(line) as { index: number }).index + 1;
      } catch {
        // a stray line: judged by the caller
      }
      arm();
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      for (const p of Object.values(paths)) rmSync(p, { force: true });
      resolvePromise({ done: current - first, lines, hungAt, exitedAt: hungAt === undefined && code !== 0 ? current : undefined, stderr });
    });
  });
}

let timeLimit = 5000;

/**
 * Child: run inputs [first, first + count), written by the parent as
 * lib-<i><ext> (listed in batch.json; the child loads no fixtures, so its RSS
 * is the library's), through analyzeTrace and the JSON report, one line of
 * JSON each.
 */
async function child(first: number, count: number, dir: string): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { analyzeTrace } = require('../src/analyze') as typeof import('../src/analyze');
  const { buildReport, inputFromResult } = require('../src/report/report') as typeof import('../src/report/report');
  const { renderJson } = require('../src/report/json') as typeof import('../src/report/json');
  const { InputError } = require('../src/io/source') as typeof import('../src/io/source');
  const paths = JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as Record<string, string>;
  for (let i = first; i < first + count; i++) {
    const path = paths[i];
    const t0 = Date.now();
    let outcome: string;
    let error: string | undefined;
    try {
      const r = await analyzeTrace(path, { threads: 1 });
      const report = buildReport([inputFromResult(r)], r.findings, 'error');
      const bad = reportErrors(renderJson(report));
      outcome = report.summary.failed ? '1' : '0';
      if (bad) error = `report invalid: ${bad}`;
    } catch (err) {
      if (err instanceof InputError) outcome = '2';
      else {
        outcome = 'crash';
        error = (err as Error).stack ?? String(err);
      }
    }
    rmSync(path, { force: true });
    const rss = Math.round(process.memoryUsage().rss / 1048576);
    process.stdout.write(JSON.stringify({ index: i, outcome, ms: Date.now() - t0, rss, ...(error ? { error: error.slice(0, 2000) } : {}) }) + '\n');
    // RSS does not come back down: past the limit, end here (the parent starts afresh after this input).
    if (rss > RSS_LIMIT_MB) return;
  }
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  timeLimit = opts.timeLimitMs;
  const log = opts.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-fuzz-'));
  const res: FuzzResult = { library: 0, cli: 0, failures: [], maxRssMb: 0, slowestMs: 0, exits: {} };
  const fail = (f: FuzzFailure) => {
    res.failures.push(f);
    log(`FAIL ${f.via} seed ${opts.seed} input ${f.index} (${f.what}): ${f.kind}: ${f.detail.split('\n').slice(0, 4).join(' | ')}`);
    if (opts.keep) {
      mkdirSync(opts.keep, { recursive: true });
      const input = makeInput(opts.seed, f.index);
      writeFileSync(join(opts.keep, `seed${opts.seed}-${f.index}${input.ext}`), input.data);
    }
  };
  try {
    // Library: batches in a child; a hang or crash of the child restarts it after the input that caused it.
    let next = opts.from;
    const end = opts.from + opts.count;
    while (next < end) {
      const batch = Math.min(500, end - next);
      const out = await libraryInChild(opts.seed, next, batch, dir);
      for (const line of out.lines) {
        let r: { index: number; outcome: string; ms: number; rss: number; error?: string };
        try {
          r = JSON.parse(line);
        } catch {
          fail({ via: 'library', index: next, kind: 'stray output', what: '', detail: line });
          continue;
        }
        res.library++;
        res.exits[r.outcome] = (res.exits[r.outcome] ?? 0) + 1;
        res.maxRssMb = Math.max(res.maxRssMb, r.rss);
        res.slowestMs = Math.max(res.slowestMs, r.ms);
        const what = makeInput(opts.seed, r.index).what;
        if (r.error) fail({ via: 'library', index: r.index, kind: r.outcome === 'crash' ? 'crash' : 'invalid report', what, detail: r.error });
        if (r.rss > RSS_LIMIT_MB) fail({ via: 'library', index: r.index, kind: 'rss', what, detail: `${r.rss} MB after this input` });
      }
      next += out.done;
      if (out.done === 0 && out.hungAt === undefined && out.exitedAt === undefined) throw new Error(`the library child ran no input: ${out.stderr.slice(-500)}`);
      if (out.hungAt !== undefined || out.exitedAt !== undefined) {
        const i = (out.hungAt ?? out.exitedAt) as number;
        res.library++;
        fail({ via: 'library', index: i, kind: out.hungAt !== undefined ? `over the time limit (${opts.timeLimitMs} ms)` : 'process died', what: makeInput(opts.seed, i).what, detail: out.stderr.slice(-1500) });
        next = i + 1;
      }
      log(`library: ${res.library} inputs, ${res.failures.length} failures`);
    }
    // CLI: a process per input.
    for (let i = opts.from; i < opts.from + opts.cliCount; i++) {
      const index = 1_000_000_000 + i;
      const input = makeInput(opts.seed, index);
      const path = join(dir, `cli-${i}${input.ext}`);
      writeFileSync(path, input.data);
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [BIN, 'check', '--format', 'json', '--threads', '1', path], { encoding: 'utf8', timeout: opts.timeLimitMs + 2000, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } });
      const ms = Date.now() - t0;
      rmSync(path, { force: true });
      res.cli++;
      res.slowestMs = Math.max(res.slowestMs, ms);
      const code = r.status === null ? `signal ${r.signal}` : String(r.status);
      res.exits[code] = (res.exits[code] ?? 0) + 1;
      const f = (kind: string, detail: string) => fail({ via: 'cli', index, kind, what: input.what, detail });
      if (r.error || r.status === null) f(`over the time limit (${opts.timeLimitMs} ms) or killed`, String(r.error ?? r.signal));
      else if (![0, 1, 2].includes(r.status)) f(`exit ${r.status}`, r.stderr);
      else if (CRASH.test(r.stderr)) f('stack trace on stderr', r.stderr);
      else if (r.status !== 2 || r.stdout.trim()) {
        const bad = reportErrors(r.stdout);
        if (bad && !(r.status === 2 && !r.stdout.trim())) f('invalid report', bad);
      }
      if ((i + 1) % 100 === 0) log(`cli: ${res.cli} inputs, ${res.failures.length} failures`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

async function cli(argv: string[]): Promise<number> {
  if (argv[0] === '--child') {
    timeLimit = Infinity;
    await child(Number(argv[1]), Number(argv[2]), argv[3]);
    return 0;
  }
  const whole = (name: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${name} wants a whole number, not ${v}`);
    return n;
  };
  const o = new Command('npm run fuzz --')
    .description('Feed generated and mutated inputs (every format, every compression) to the library and the CLI; each must end cleanly.')
    .option('--seed <n>', 'the random seed (the same seed makes the same inputs)', whole('--seed'), 1)
    .option('--count <n>', 'inputs through the library', whole('--count'), 20_000)
    .option('--cli-count <n>', 'inputs through the CLI (child processes)', whole('--cli-count'), 1000)
    .option('--time-limit <ms>', 'the most one input may take', whole('--time-limit'), 5000)
    .option('--from <i>', 'start at input number i (to replay one failure with --count 1)', whole('--from'), 0)
    .option('--keep <dir>', 'keep each failing input in this folder')
    .showHelpAfterError('(--help lists the options)')
    .exitOverride()
    .parse(argv, { from: 'user' })
    .opts<{ seed: number; count: number; cliCount: number; timeLimit: number; from: number; keep?: string }>();
  const opts: FuzzOptions = {
    seed: o.seed,
    count: o.count,
    cliCount: o.cliCount,
    timeLimitMs: o.timeLimit,
    from: o.from,
    keep: o.keep,
    log: (l) => process.stderr.write(`${l}\n`),
  };
  const t0 = Date.now();
  const r = await fuzz(opts);
  const kinds = new Map<string, number>();
  for (const f of r.failures) kinds.set(`${f.via} ${f.kind}`, (kinds.get(`${f.via} ${f.kind}`) ?? 0) + 1);
  process.stdout.write(
    `fuzz seed ${opts.seed}: ${r.library} inputs through the library, ${r.cli} through the CLI in ${Math.round((Date.now() - t0) / 1000)} s; ` +
    `outcomes ${JSON.stringify(r.exits)}; slowest ${r.slowestMs} ms; library peak RSS ${r.maxRssMb} MB; ` +
    `${r.failures.length} failures${kinds.size ? ` (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}\n`,
  );
  return r.failures.length ? 1 : 0;
}

if (require.main === module) {
  cli(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2; // commander printed the help or the mistake
      return;
    }
    process.stderr.write(`fuzz: ${(err as Error).message}\n`);
    process.exitCode = 2;
  });
}
