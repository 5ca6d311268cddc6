/**
 * `npm run bench [-- --size 1G --mix reclaim --keep]`
 *
 * Generates a synthetic trace of the given size at run time from a real
 * capture, then measures throughput (MB/s) and peak RSS of `mntrace check`
 * side by side with `wc -l` and a hand-written mawk pairing one-liner on the
 * same file, and prints the ratios.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generate, loadTemplate } from './generate';

const root = resolve(__dirname, '..', '..');

/** The baseline a kernel engineer would write by hand: pair starts and ends per pid and range pointer. */
export const MAWK_PAIRING = String.raw`/ mn_inv_start: /{ match($0, /range=0x[0-9a-f]+/); n = split($1, t, "-"); k = t[n] " " substr($0, RSTART + 6, RLENGTH - 6); open[k]++; starts++ }
/ mn_inv_end: /{ match($0, /range=0x[0-9a-f]+/); n = split($1, t, "-"); k = t[n] " " substr($0, RSTART + 6, RLENGTH - 6); if (open[k] > 0) { open[k]--; paired++ } else orphan++ }
END { for (k in open) left += open[k]; printf "starts=%d paired=%d open=%d orphan=%d\n", starts, paired, left, orphan }`;

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(s);
  if (!m) throw new Error(`bad --size ${s} (e.g. 1G, 200M)`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Math.round(Number(m[1]) * mult);
}

interface Measured {
  name: string;
  seconds: number;
  peakRssMB?: number;
  output: string;
}

function measure(name: string, cmd: string[], file: string): Measured {
  const haveTime = existsSync('/usr/bin/time');
  const argv = haveTime ? ['/usr/bin/time', '-f', '__PEAK_KB=%M', ...cmd] : cmd;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], [...argv.slice(1), file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw r.error;
  const peak = /__PEAK_KB=(\d+)/.exec(r.stderr ?? '');
  return { name, seconds, peakRssMB: peak ? Number(peak[1]) / 1024 : undefined, output: (r.stdout ?? '').trim().split('\n').slice(-1)[0] ?? '' };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
  };
  const size = parseSize(opt('--size', '1G'));
  const mix = opt('--mix', 'reclaim');
  const keep = args.includes('--keep');
  const template = join(root, 'fixtures', 'real', mix === 'baseline' ? 'baseline.trace.txt.gz' : 'reclaim.trace.txt.gz');
  const file = join(opt('--dir', tmpdir()), `mntrace-bench-${mix}-${size}.txt`);
  if (!existsSync(file) || statSync(file).size < size) {
    process.stderr.write(`generating ${(size / 1e6).toFixed(0)} MB from ${template} ...\n`);
    const g = await generate(file, size, loadTemplate(template));
    process.stderr.write(`  ${g.lines} lines in ${file}\n`);
  }
  const bytes = statSync(file).size;
  const mb = bytes / 1e6;
  const runs: Measured[] = [];
  runs.push(measure('wc -l', ['wc', '-l'], file));
  const mawk = spawnSync('sh', ['-c', 'command -v mawk'], { encoding: 'utf8' }).stdout.trim();
  if (mawk) runs.push(measure('mawk pairing one-liner', [mawk, MAWK_PAIRING], file));
  else process.stderr.write('mawk not found (apt-get install mawk): skipping the one-liner\n');
  runs.push(measure('mntrace check', [process.execPath, join(root, 'bin', 'mntrace.js'), 'check', '--format', 'json', '-q', '-o', '/dev/null'], file));
  const ours = runs[runs.length - 1];
  console.log(`input: ${file} (${mb.toFixed(0)} MB, mix ${mix})`);
  console.log('| tool | seconds | MB/s | peak RSS MB | mntrace speed ratio |');
  console.log('|---|---|---|---|---|');
  for (const r of runs) {
    const ratio = r === ours ? '1.00' : (r.seconds / ours.seconds).toFixed(2);
    console.log(`| ${r.name} | ${r.seconds.toFixed(2)} | ${(mb / r.seconds).toFixed(1)} | ${r.peakRssMB?.toFixed(0) ?? 'n/a'} | ${ratio} |`);
  }
  console.log('(ratio > 1: mntrace is faster than that tool by that factor)');
  for (const r of runs) if (r.output) console.log(`${r.name}: ${r.output}`);
  if (!keep) unlinkSync(file);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
});
