/**
 * `npm run bench [-- --size 1G --mix reclaim|baseline --runs 3 --keep --dir /tmp]`
 *
 * Generates a synthetic trace of the given size at run time from a real
 * capture, then measures throughput (MB/s) and peak RSS of `mntrace check`
 * side by side with `wc -l` and a hand-written mawk pairing one-liner on the
 * same file (each run --runs times; the best time counts, as the one least
 * disturbed by whatever else the machine was doing), and prints the ratios.
 * `mntrace check --threads 1` is measured too: what one core does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { generate, loadTemplate } from './generate';

const root = resolve(__dirname, '..', '..');

/** The baseline a kernel engineer would write by hand: pair starts and ends per pid and range pointer. */
export const MAWK_PAIRING = String.raw`/ mn_inv_start: /{ match($0, /range=0x[0-9a-f]+/); n = split($1, t, "-"); k = t[n] " " substr($0, RSTART + 6, RLENGTH - 6); open[k]++; starts++ }
/ mn_inv_end: /{ match($0, /range=0x[0-9a-f]+/); n = split($1, t, "-"); k = t[n] " " substr($0, RSTART + 6, RLENGTH - 6); if (open[k] > 0) { open[k]--; paired++ } else orphan++ }
END { for (k in open) left += open[k]; printf "starts=%d paired=%d open=%d orphan=%d\n", starts, paired, left, orphan }`;

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(s);
  if (!m) throw new Error(`bad --size ${s} (e.g. 1G, 200M)`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Math.round(Number(m[1]) * mult);
}

interface Measured {
  name: string;
  /** Wall-clock seconds of each run. */
  runs: number[];
  /** CPU seconds (user + system, all threads) of each run, when /usr/bin/time is there. */
  cpu: number[];
  peakRssMB?: number;
  output: string;
}

const best = (m: Measured) => Math.min(...m.runs);
const median = (m: Measured) => [...m.runs].sort((a, b) => a - b)[Math.floor(m.runs.length / 2)];

/** Run a command `runs` times on the file (wall clock; peak RSS is the largest seen). */
function measure(name: string, cmd: string[], file: string, runs: number): Measured {
  const haveTime = existsSync('/usr/bin/time');
  const argv = haveTime ? ['/usr/bin/time', '-f', '__PEAK_KB=%M __CPU_S=%U+%S', ...cmd] : cmd;
  const m: Measured = { name, runs: [], cpu: [], output: '' };
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], [...argv.slice(1), file], { encoding: 'utf8', maxBuffer: 64 << 20 });
    m.runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r.error) throw r.error;
    const peak = /__PEAK_KB=(\d+)/.exec(r.stderr ?? '');
    if (peak) m.peakRssMB = Math.max(m.peakRssMB ?? 0, Number(peak[1]) / 1024);
    const cpu = /__CPU_S=([\d.]+)\+([\d.]+)/.exec(r.stderr ?? '');
    if (cpu) m.cpu.push(Number(cpu[1]) + Number(cpu[2]));
    m.output = (r.stdout ?? '').trim().split('\n').slice(-1)[0] ?? '';
  }
  return m;
}

/** The folder a bench script writes its traces in, made if missing. */
export function benchDir(dir: string): string {
  dir = resolve(dir);
  // One level at a time: Node 20's mkdirSync({ recursive: true }) never returns for a path under /proc.
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d);
  return dir;
}

/** The mixes `--mix` takes: each replays the real capture of that name (see generate.ts). */
export const MIXES: readonly string[] = ['reclaim', 'baseline'];

/** The options every trace bench takes (commander, as the CLI: --help, and unknown options refused); the caller adds its own and parses. */
export function benchCommand(name: string, description: string, defaultSize: string): Command {
  return new Command(`npm run ${name} --`)
    .description(description)
    .option('--size <size>', "the generated trace's size (K, M or G)", defaultSize)
    .option('--mix <mix>', `which real capture the trace replays (${MIXES.join(' or ')})`, 'reclaim')
    .option('--runs <n>', 'runs of each; the best time counts', '3')
    .option('--dir <dir>', 'where the trace is written (made if missing)', tmpdir())
    .option('--keep', 'keep the trace afterwards (a later run with the same --dir, --mix and --size reuses it)')
    .showHelpAfterError('(--help lists the options)')
    .exitOverride();
}

/** `npm run bench`'s options. */
export function benchOptions(argv: string[]): { size: string; mix: string; runs: string; dir: string; keep?: boolean } {
  return benchCommand('bench', 'Generate a trace from a real capture, then time wc -l, the mawk pairing one-liner and mntrace check on it.', '1G')
    .parse(argv, { from: 'user' })
    .opts();
}

/** `--runs` as a count of 1 or more. */
export function parseRuns(s: string): number {
  const runs = Number(s);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad --runs ${s}`);
  return runs;
}

/** The generated trace of this mix and size in `dir`: made unless a kept one is there. */
export async function ensureTrace(dir: string, mix: string, size: number): Promise<string> {
  const template = mixTemplate(mix);
  const file = join(benchDir(dir), `mntrace-bench-${mix}-${size}.txt`);
  if (!existsSync(file) || statSync(file).size < size) {
    process.stderr.write(`generating ${(size / 1e6).toFixed(0)} MB from ${template} ...\n`);
    const g = await generate(file, size, loadTemplate(template));
    process.stderr.write(`  ${g.lines} lines in ${file}\n`);
  }
  return file;
}

/** The capture a mix replays; throws on a mix that does not exist. */
export function mixTemplate(mix: string): string {
  if (!MIXES.includes(mix)) throw new Error(`bad --mix ${mix} (${MIXES.join(' or ')})`);
  return join(root, 'fixtures', 'real', `${mix}.trace.txt.gz`);
}

/** The node flags `bin/mntrace.js` runs with (the `exec node FLAGS "$0" "$@"` line sh reads), so a bench measures what users run. */
export function binNodeFlags(): string[] {
  return (binFlags ??= readBinNodeFlags());
}
let binFlags: string[] | undefined;

function readBinNodeFlags(): string[] {
  const second = readFileSync(join(root, 'bin', 'mntrace.js'), 'utf8').split('\n', 2)[1] ?? '';
  const m = /^':' \/\/; exec node((?: --\S+)*) "\$0" "\$@"$/.exec(second);
  if (!m) throw new Error(`bin/mntrace.js: unexpected second line ${second}`);
  return m[1].split(' ').filter((f) => f.length > 0);
}

/** `node [bin's flags] [nodeFlags] mntrace check` reporting JSON to /dev/null, as the bench scripts run it (the trace goes last). */
export function checkCommand(nodeFlags: string[] = []): string[] {
  return [process.execPath, ...binNodeFlags(), ...nodeFlags, join(root, 'bin', 'mntrace.js'), 'check', '--format', 'json', '-q', '-o', '/dev/null'];
}

/** Where a command is on the PATH ('' when it is not). */
export function commandPath(cmd: string): string {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
}

async function main(): Promise<void> {
  const o = benchOptions(process.argv.slice(2));
  const size = parseSize(o.size);
  const mix = o.mix;
  const keep = !!o.keep;
  const runs = parseRuns(o.runs);
  const file = await ensureTrace(o.dir, mix, size);
  const bytes = statSync(file).size;
  const mb = bytes / 1e6;
  const results: Measured[] = [];
  results.push(measure('wc -l', ['wc', '-l'], file, runs));
  const mawk = commandPath('mawk');
  if (mawk) results.push(measure('mawk pairing one-liner', [mawk, MAWK_PAIRING], file, runs));
  else process.stderr.write('mawk not found (apt-get install mawk): skipping the one-liner\n');
  const check = checkCommand();
  const single = measure('mntrace check --threads 1', [...check, '--threads', '1'], file, runs);
  const ours = measure('mntrace check', check, file, runs);
  results.push(single, ours);
  console.log(`input: ${file} (${mb.toFixed(0)} MB, mix ${mix}); ${runs} run(s) each, on ${availableParallelism()} core(s)`);
  console.log('| tool | best s | median s | MB/s (best) | CPU s (least) | peak RSS MB | mntrace check is faster by |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    const ratio = r === ours ? '1.00' : (best(r) / best(ours)).toFixed(2);
    const cpu = r.cpu.length ? Math.min(...r.cpu).toFixed(2) : 'n/a';
    console.log(`| ${r.name} | ${best(r).toFixed(2)} | ${median(r).toFixed(2)} | ${(mb / best(r)).toFixed(1)} | ${cpu} | ${r.peakRssMB?.toFixed(0) ?? 'n/a'} | ${ratio} |`);
  }
  console.log('(last column: that tool\'s best time / mntrace check\'s best time; above 1, mntrace check is faster.');
  console.log(' CPU s: user + system time of all its threads; more than the wall time means it ran on more than one core)');
  for (const r of results) if (r.output) console.log(`${r.name}: ${r.output}`);
  if (!keep) unlinkSync(file);
}

// Only when run (bench/instructions.ts imports its helpers).
if (require.main === module) main().catch((err) => benchFailed('bench', err));

/** A bench script's failure: commander has already printed its own (and --help is no failure); anything else is said here. */
export function benchFailed(script: string, err: unknown): void {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
    return;
  }
  process.stderr.write(`${script}: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
