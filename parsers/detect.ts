/**
 * Format sniffing: look at the first lines (after decompression) and pick the
 * parser. Each format says how sure it is; the best score wins.
 */
import { CsvParser, sniffCsv, type CsvParserOptions } from './csv';
import { FtraceParser } from './ftrace';
import { FuncGraphParser, sniffFuncGraph } from './funcgraph';
import { PerfScriptParser, sniffPerfScript } from './perfscript';
import { SystraceParser, sniffSystrace } from './systrace';
import { sniffTraceCmd, TraceCmdParser } from './tracecmd';
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

const registry: FormatDescriptor[] = [
  ftraceFormat,
  {
    name: 'trace-cmd',
    description: '`trace-cmd report` text (also multi-file reports, -l latency form, -t/-R/-N output)',
    sniff: sniffTraceCmd,
    create: (opts) => new TraceCmdParser(opts),
  },
  {
    name: 'perf-script',
    description: '`perf script` text (tracepoints, kprobes, samples with callchains)',
    sniff: sniffPerfScript,
    create: (opts) => new PerfScriptParser(opts),
  },
  {
    name: 'function_graph',
    description: 'function_graph tracer output (trace or trace_pipe, any column options)',
    sniff: sniffFuncGraph,
    create: (opts) => new FuncGraphParser(opts),
  },
  {
    name: 'systrace',
    description: 'Android systrace HTML (trace-data blocks or the old linuxPerfData string) and its saved string body',
    sniff: sniffSystrace,
    create: (opts) => new SystraceParser(opts),
  },
  {
    name: 'csv',
    description: 'CSV/TSV events with a header row (default columns ts,cpu,pid,tid,comm,event,args)',
    sniff: sniffCsv,
    create: (opts) => new CsvParser(opts as CsvParserOptions),
  },
];

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
