/**
 * `npm run bench:instructions [-- --mix reclaim|baseline|both --small 16M --large 48M --functions 30 --dir /tmp]`
 *
 * Wall-clock time on a shared VM moves by 10-40 % from run to run, which hides
 * any change smaller than that. This counts instructions instead, with
 * valgrind's callgrind, which gives the same count for the same program and
 * input whatever else the machine is doing. It runs the mawk pairing one-liner
 * and `mntrace check --threads 1` on two generated traces of the same mix and
 * reports the difference per line between them: the work each line costs once
 * startup and compilation are paid (the large file minus the small one).
 * V8 goes on compiling for the first tens of megabytes, so the files must be
 * that large for the difference to be the steady state: with the defaults a
 * run takes about 15 minutes. `--functions N` also lists the N functions
 * (JavaScript by name, through V8's `--perf-basic-prof` map, and native code)
 * that take most instructions a line, for finding where the time goes.
 *
 * V8 compiles hot functions on background threads; under valgrind those run
 * in turn with the main thread, so how long a function stays unoptimised
 * would depend on scheduling. `--no-concurrent-recompilation` and
 * `--no-concurrent-sparkplug` compile in line instead, which makes the count
 * repeatable to about 2-3 % (V8 still times some of its own decisions). The
 * count is one core's work: it says nothing of how the scan worker shares it
 * (`npm run bench` measures that).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { benchDir, benchFailed, checkCommand, commandPath, MAWK_PAIRING, MIXES, mixTemplate, parseSize } from './bench';
import { generate, loadTemplate } from './generate';


interface Count {
  total: number;
  /** Instructions by function (self), when asked for. */
  byFunction?: Map<string, number>;
}

/** Instructions callgrind counted for one run of `argv` (and per function, with `functions`). */
function instructions(argv: string[], functions: boolean): Count {
  const out = functions ? join(tmpdir(), `mntrace-callgrind-${process.pid}.out`) : '/dev/null';
  const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  const m = /I\s+refs:\s+([\d,]+)/.exec(r.stderr ?? '');
  if (!m) throw new Error(`no instruction count from valgrind for ${argv.join(' ')}:\n${(r.stderr ?? '').slice(-2000)}`);
  const count: Count = { total: Number(m[1].replace(/,/g, '')) };
  if (functions) {
    count.byFunction = byFunction(out, `/tmp/perf-${r.pid}.map`);
    for (const f of [out, `/tmp/perf-${r.pid}.map`]) if (existsSync(f)) unlinkSync(f);
  }
  return count;
}

/** Self instructions per function from callgrind_annotate, JIT code named through V8's perf map. */
function byFunction(out: string, perfMap: string): Map<string, number> {
  const syms: Array<[number, number, string]> = [];
  if (existsSync(perfMap)) {
    for (const line of readFileSync(perfMap, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
      if (m) syms.push([parseInt(m[1], 16), parseInt(m[2], 16), m[3].replace(/^JS:[*~^+]?/, 'JS:')]);
    }
    syms.sort((a, b) => a[0] - b[0]);
  }
  const name = (addr: number): string => {
    let lo = 0;
    let hi = syms.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (syms[mid][0] <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    const s = syms[hi];
    return s !== undefined && addr < s[0] + s[1] ? s[2] : '(unnamed JIT code)';
  };
  const r = spawnSync('callgrind_annotate', ['--threshold=100', out], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error || r.status !== 0) throw new Error(`callgrind_annotate (part of valgrind) failed on ${out}: ${r.error?.message ?? r.stderr}`);
  const counts = new Map<string, number>();
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = /^\s*([\d,]+) \([ \d.]+%\)\s+(.*)$/.exec(line);
    if (!m || m[2].includes('PROGRAM TOTALS')) continue;
    const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(m[2]);
    let fn = jit ? name(parseInt(jit[1], 16)) : m[2].replace(/ \[.*\]$/, '').replace(/^\?\?\?:/, '');
    if (/v8::internal::compiler::|Zone/.test(fn)) fn = '(V8 optimising compiler)';
    counts.set(fn, (counts.get(fn) ?? 0) + Number(m[1].replace(/,/g, '')));
  }
  return counts;
}

async function main(): Promise<void> {
  const o = new Command('npm run bench:instructions --')
    .description('Count instructions a line of the mawk one-liner and mntrace check --threads 1, with valgrind\'s callgrind.')
    .option('--mix <mix>', `which real capture the traces replay (${MIXES.join(', ')} or both)`, 'both')
    .option('--small <size>', "the smaller trace's size", '16M')
    .option('--large <size>', "the larger trace's size; the difference per line between the two is reported", '48M')
    .option('--functions <n>', 'also list the N functions that take most instructions a line', '0')
    .option('--dir <dir>', 'where the traces are written (made if missing)', tmpdir())
    .showHelpAfterError('(--help lists the options)')
    .exitOverride()
    .parse(process.argv.slice(2), { from: 'user' })
    .opts<{ mix: string; small: string; large: string; functions: string; dir: string }>();
  if (!commandPath('valgrind')) throw new Error('valgrind not found (apt-get install valgrind)');
  const mawk = commandPath('mawk');
  if (!mawk) process.stderr.write('mawk not found (apt-get install mawk): measuring mntrace check alone\n');
  const mixArg = o.mix;
  if (mixArg !== 'both' && !MIXES.includes(mixArg)) throw new Error(`bad --mix ${mixArg} (${MIXES.join(', ')} or both)`);
  const mixes = mixArg === 'both' ? [...MIXES] : [mixArg];
  const small = parseSize(o.small);
  const large = parseSize(o.large);
  const functions = Number(o.functions);
  if (!Number.isInteger(functions) || functions < 0) throw new Error(`bad --functions ${o.functions} (how many functions to list: a whole number)`);
  if (large <= small) throw new Error('--large must be larger than --small');
  const dir = benchDir(o.dir);
  const check = [...checkCommand(['--no-concurrent-recompilation', '--no-concurrent-sparkplug', ...(functions ? ['--perf-basic-prof', '--no-logfile-per-isolate', '--logfile=/dev/null'] : [])]), '--threads', '1'];
  console.log('| mix | tool | instructions a line | fixed (startup, compiling) | check / mawk a line |');
  console.log('|---|---|---|---|---|');
  for (const mix of mixes) {
    const tpl = loadTemplate(mixTemplate(mix));
    const files: Array<{ path: string; lines: number }> = [];
    for (const size of [small, large]) {
      const path = join(dir, `mntrace-instructions-${mix}-${size}.txt`);
      const g = await generate(path, size, tpl);
      files.push({ path, lines: g.lines });
    }
    const lines = files[1].lines - files[0].lines;
    const perLine = (argv: string[], withFunctions: boolean) => {
      const [a, b] = files.map((f) => instructions([...argv, f.path], withFunctions));
      const slope = (b.total - a.total) / lines;
      return { slope, fixed: a.total - slope * files[0].lines, a, b };
    };
    try {
      const ours = perLine(check, functions > 0);
      const theirs = mawk ? perLine([mawk, MAWK_PAIRING], false) : undefined;
      if (theirs) console.log(`| ${mix} | mawk pairing one-liner | ${theirs.slope.toFixed(0)} | ${(theirs.fixed / 1e6).toFixed(0)} M | |`);
      console.log(`| ${mix} | mntrace check --threads 1 | ${ours.slope.toFixed(0)} | ${(ours.fixed / 1e6).toFixed(0)} M | ${theirs ? (ours.slope / theirs.slope).toFixed(2) : 'n/a (no mawk)'} |`);
      if (functions > 0) {
        const a = ours.a.byFunction as Map<string, number>;
        const b = ours.b.byFunction as Map<string, number>;
        const rows = [...new Set([...a.keys(), ...b.keys()])].map((fn) => [fn, ((b.get(fn) ?? 0) - (a.get(fn) ?? 0)) / lines] as const);
        rows.sort((x, y) => y[1] - x[1]);
        console.log(`\n${mix}: where check's instructions a line go (self, large file minus small)`);
        for (const [fn, n] of rows.slice(0, functions)) console.log(`${n.toFixed(0).padStart(8)}  ${(100 * n / ours.slope).toFixed(1).padStart(5)} %  ${fn}`);
        console.log('');
      }
    } finally {
      for (const f of files) if (existsSync(f.path)) unlinkSync(f.path);
    }
  }
  console.log('(instructions a line: the large file\'s count minus the small one\'s, per line between them)');
}

main().catch((err) => benchFailed('bench:instructions', err));
