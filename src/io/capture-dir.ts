/**
 * A capture directory as `mntrace probes --format script` saves it:
 * `trace.txt` (or `.gz`/`.zst`/`.xz`), `kprobe_events.txt` (and
 * `dynamic_events.txt`), per-CPU ring-buffer stats `stats-cpuN.txt`, and
 * `uname.txt`. `mntrace check DIR` reads them together, so events the ring
 * buffer overwrote or dropped are known even when the text shows no marker,
 * and address-only formats map their kprobes without further flags.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseKprobeEvents, type KprobeDefinition } from '../semantics/kprobe-events';
import { InputError } from './source';

export interface CpuBufferStats {
  cpu: number;
  /** Events the ring buffer overwrote (overwrite mode): the oldest ones are gone. */
  overrun: number;
  /** Events dropped because the buffer was full (non-overwrite mode): the newest ones are gone. */
  dropped: number;
  entries?: number;
}

export interface CaptureDir {
  dir: string;
  trace: string;
  kprobeDefinitions: KprobeDefinition[];
  stats: CpuBufferStats[];
  /** `uname -r` of the traced machine, when saved. */
  kernelRelease?: string;
}

const TRACE_NAMES = ['trace.txt', 'trace.txt.gz', 'trace.txt.zst', 'trace.txt.xz', 'trace', 'trace.gz'];

export function isDirectory(path: string): boolean {
  try {
    return path !== '-' && statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function readCaptureDir(dir: string): CaptureDir {
  const trace = TRACE_NAMES.map((n) => join(dir, n)).find((p) => existsSync(p));
  if (!trace) {
    throw new InputError(`${dir} is a directory without a trace (expected one of ${TRACE_NAMES.join(', ')}, as \`mntrace probes --format script\` saves)`);
  }
  const kprobeDefinitions: KprobeDefinition[] = [];
  for (const name of ['kprobe_events.txt', 'dynamic_events.txt']) {
    const p = join(dir, name);
    if (!existsSync(p)) continue;
    const { definitions, errors } = parseKprobeEvents(readFileSync(p, 'utf8'));
    if (errors.length) throw new InputError(`${p}:${errors[0].line}: not a kprobe definition: ${JSON.stringify(errors[0].text)}`);
    kprobeDefinitions.push(...definitions);
  }
  const stats: CpuBufferStats[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^stats-cpu(\d+)\.txt$/.exec(name);
    if (!m) continue;
    stats.push(parseCpuStats(Number(m[1]), readFileSync(join(dir, name), 'utf8')));
  }
  stats.sort((a, b) => a.cpu - b.cpu);
  let kernelRelease: string | undefined;
  const uname = join(dir, 'uname.txt');
  if (existsSync(uname)) {
    // `uname -a`: Linux HOST RELEASE #VERSION ...
    const parts = readFileSync(uname, 'utf8').trim().split(/\s+/);
    if (parts[0] === 'Linux' && parts.length > 2) kernelRelease = parts[2];
  }
  return { dir, trace, kprobeDefinitions, stats, kernelRelease };
}

/** /sys/kernel/tracing/per_cpu/cpuN/stats: `entries: N`, `overrun: N`, `dropped events: N`, ... */
export function parseCpuStats(cpu: number, text: string): CpuBufferStats {
  const num = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return { cpu, overrun: num('overrun') ?? 0, dropped: num('dropped events') ?? 0, entries: num('entries') };
}
