/**
 * Format sniffing: look at the first lines (after decompression) and pick the
 * parser. Each format says how sure it is; the best score wins.
 */
import { FtraceParser } from './ftrace';
import type { ParserOptions, TraceParser } from './types';

export interface FormatDescriptor {
  /** Name used by `--input-format` and in reports. */
  name: string;
  description: string;
  /** 0 = not this format; higher = more certain. Sees up to SNIFF_LINES lines. */
  sniff(lines: readonly string[]): number;
  create(opts: ParserOptions): TraceParser;
}

export const SNIFF_LINES = 200;

const FTRACE_EVENT = /^\s*.*?-\d+\s+(?:\(\s*(?:\d+|-+)\s*\)\s+)?\[\d+\]\s+(?:\S+\s+)?\d+(?:\.\d+)?:\s/;

export const ftraceFormat: FormatDescriptor = {
  name: 'ftrace',
  description: 'ftrace text from /sys/kernel/tracing/trace, trace_pipe or per_cpu/cpuN/trace (also latency-format)',
  sniff(lines) {
    let score = 0;
    for (const l of lines) {
      if (l.startsWith('# tracer:')) score += 10;
      else if (/^#\s+TASK-PID/.test(l) || /_------=> CPU#/.test(l)) score += 5;
      else if (FTRACE_EVENT.test(l)) score += 2;
    }
    return score;
  },
  create: (opts) => new FtraceParser(opts),
};

const registry: FormatDescriptor[] = [ftraceFormat];

/** Parsers for other formats register here (trace-cmd report, perf script, ...). */
export function registerFormat(f: FormatDescriptor): void {
  if (!registry.some((r) => r.name === f.name)) registry.push(f);
}

export function formats(): readonly FormatDescriptor[] {
  return registry;
}

export function formatByName(name: string): FormatDescriptor | undefined {
  return registry.find((f) => f.name === name);
}

/** The best-scoring format for these first lines, or undefined when none recognises them. */
export function detectFormat(lines: readonly string[]): FormatDescriptor | undefined {
  let best: FormatDescriptor | undefined;
  let bestScore = 0;
  for (const f of registry) {
    const s = f.sniff(lines);
    if (s > bestScore) {
      best = f;
      bestScore = s;
    }
  }
  return best;
}
