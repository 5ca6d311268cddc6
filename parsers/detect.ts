/**
 * Format sniffing: look at the first lines (after decompression) and pick the
 * parser. Each format says how sure it is; the best score wins.
 */
import { ConsoleDumpParser, sniffConsoleDump } from './console';
import { CsvParser, sniffCsv } from './csv';
import { FTRACE_EVENT_SHAPE, FtraceParser } from './ftrace';
import { FuncGraphParser, sniffFuncGraph } from './funcgraph';
import { PastedParser, sniffPasted, type InnerDetector } from './pasted';
import { PerfScriptParser, sniffPerfScript } from './perfscript';
import { SystraceParser, sniffSystrace } from './systrace';
import { sniffTraceCmd, TraceCmdParser } from './tracecmd';
import type { ParserOptions, TraceParser } from './types';
import { parseKprobeEvents } from '../src/semantics/kprobe-events';
import { STDIN_NAME } from '../src/model/event';

export interface FormatDescriptor {
  /** Name used by `--input-format` and in reports. */
  name: string;
  description: string;
  /** 0 = not this format; higher = more certain. Sees up to SNIFF_LINES lines. */
  sniff(lines: readonly string[]): number;
  create(opts: ParserOptions): TraceParser;
}

export const SNIFF_LINES = 200;

/** The latency layout (`latency-format`, cyclictest -b, ftrace_dump): CPU and flags run together, time in µs with a delay mark. */
const LATENCY_EVENT = /^\s*\S.*?-\d+\s+\d+[dDbX.][NnpLlBb.]\S{2,}\s+\d+us.:\s/;

export const ftraceFormat: FormatDescriptor = {
  name: 'ftrace',
  description: 'ftrace text from /sys/kernel/tracing/trace, trace_pipe or per_cpu/cpuN/trace (also latency-format, with or without its header)',
  sniff(lines) {
    let score = 0;
    for (const l of lines) {
      if (l.startsWith('# tracer:')) score += 10;
      else if (/^#\s+TASK-PID/.test(l) || /_------=> CPU#/.test(l)) score += 5;
      else if (FTRACE_EVENT_SHAPE.test(l) || LATENCY_EVENT.test(l)) score += 2;
    }
    return score;
  },
  create: (opts) => new FtraceParser(opts),
};

const pastedFormat: FormatDescriptor = {
  name: 'pasted',
  description: 'any of these formats quoted in a mail (`> `, `>> `) or wrapped by a mail client',
  sniff: (lines) => sniffPasted(lines, detectInner),
  create: (opts) => new PastedParser(opts, detectInner, SNIFF_LINES, ftraceFormat.create),
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
    name: 'ftrace-dump',
    description: 'the ftrace buffer printed to the console (ftrace_dump_on_oops, sysrq-z) as dmesg, a serial log or the journal keep it',
    sniff: sniffConsoleDump,
    create: (opts) => new ConsoleDumpParser(opts),
  },
  pastedFormat,
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
    create: (opts) => new CsvParser(opts),
  },
];


export function formats(): readonly FormatDescriptor[] {
  return registry;
}

export function formatByName(name: string): FormatDescriptor | undefined {
  return registry.find((f) => f.name === name);
}

/** The best-scoring format for these first lines, or undefined when none recognises them. */
export function detectFormat(lines: readonly string[]): FormatDescriptor | undefined {
  return bestFormat(lines, undefined)?.format;
}

function bestFormat(lines: readonly string[], except: FormatDescriptor | undefined): { format: FormatDescriptor; score: number } | undefined {
  let best: FormatDescriptor | undefined;
  let bestScore = 0;
  for (const f of registry) {
    if (f === except) continue;
    const s = f.sniff(lines);
    if (s > bestScore) {
      best = f;
      bestScore = s;
    }
  }
  return best && { format: best, score: bestScore };
}

/** What a pasted text's unquoted, unwrapped lines are: any format but pasted text itself. */
const detectInner: InnerDetector = (lines) => {
  const b = bestFormat(lines, pastedFormat);
  return b && { create: b.format.create, score: b.score };
};

/**
 * For input no format recognises: what it is instead, when that is clear from
 * its first lines (the mistakes a kernel engineer makes: a binary capture
 * given before it was converted to text, or the probe definitions given as
 * the trace), with what to do. Undefined when it is just unknown text.
 */
export function explainUnrecognised(lines: readonly string[], file: string): string | undefined {
  const first = lines.find((l) => l.trim() !== '') ?? '';
  // The converters read the file itself: name it only when it is one they can open.
  const plain = (dflt: string) => (file === STDIN_NAME || /\.(gz|zst|xz)$/.test(file) ? dflt : file);
  if (first.startsWith('\x17\x08Dtracing')) {
    // Only from a pipe (a file is read directly: read-trace.ts): a trace.dat needs random access.
    return 'a trace-cmd binary capture (trace.dat), which mntrace reads as a file, not from a pipe: give its path (`mntrace check trace.dat`), ' +
      'or pipe its text: `trace-cmd report -i trace.dat | mntrace check -`';
  }
  if (first.startsWith('PERFILE2') || first.startsWith('PERFFILE') || first.startsWith('2ELIFREP')) {
    return `a perf binary capture (perf.data), not text: convert it with \`perf script -i ${plain('perf.data')} > perf.txt\`, or pipe it: \`perf script -i ${plain('perf.data')} | mntrace check -\``;
  }
  const defs = parseKprobeEvents(lines.join('\n'));
  if (defs.definitions.length > 0 && defs.errors.length === 0) {
    return `kprobe definitions (as in /sys/kernel/tracing/kprobe_events), not a trace: give them with --kprobe-events ${file}, and the trace itself as the input`;
  }
  // Compressions mntrace does not read itself (gzip, zstd and xz it does): what to pipe through.
  const unpack = /^BZh[1-9]1AY&SY/.test(first) ? ['bzip2', 'bzcat'] : first.startsWith('\u0004"M\u0018') ? ['lz4', 'lz4cat'] : undefined;
  if (unpack) {
    const [kind, cat] = unpack;
    const how = file === STDIN_NAME ? `decompress it before the pipe (\`${cat} FILE | mntrace check -\`)` : `\`${cat} ${file} | mntrace check -\``;
    return `${kind}-compressed, which mntrace does not decompress itself (it reads gzip, zstd and xz): ${how}, or recompress it with gzip, zstd or xz`;
  }
  if (withoutContext(lines)) {
    return 'ftrace event lines without their task, CPU and timestamp columns (captured with the `context-info` trace option off): ' +
      'mntrace pairs ranges per task and in time order, so it needs them: `echo context-info > /sys/kernel/tracing/trace_options`, then capture again';
  }
  if (lines.some((l) => l.includes('\u0000')) || looksBinary(lines)) {
    return 'binary data, not trace text: give the text of /sys/kernel/tracing/trace (or trace_pipe), `trace-cmd report` or `perf script`';
  }
  return undefined;
}

/**
 * ftrace tracers whose output is their own records, not trace events: what
 * each records. Their lines are not events mntrace can read.
 */
const TRACERS_WITHOUT_EVENTS: Record<string, string> = {
  hwlat: 'hardware latency samples',
  osnoise: 'operating system noise per sampling period',
  timerlat: 'timer wakeup latency samples',
  wakeup: 'the trace of the highest wakeup latency',
  wakeup_rt: 'the trace of the highest real-time wakeup latency',
  wakeup_dl: 'the trace of the highest deadline-task wakeup latency',
  irqsoff: 'the trace of the longest irqs-off section',
  preemptoff: 'the trace of the longest preempt-off section',
  preemptirqsoff: 'the trace of the longest irqs-off or preempt-off section',
  mmiotrace: 'MMIO accesses',
  blk: 'block I/O records',
  branch: 'branch prediction counts',
};

/**
 * For an ftrace capture made with a tracer other than nop/function (its
 * `# tracer:` header) in which no event mntrace checks was read: what that
 * tracer's output is and how to capture the events instead. Undefined for
 * the tracers whose output holds events.
 */
export function explainTracer(tracer: string, file: string): string | undefined {
  const what = TRACERS_WITHOUT_EVENTS[tracer];
  if (what === undefined) return undefined;
  return `${file} is the ${tracer} tracer's output (${what}): it records no events, and none of the mmu_notifier events mntrace checks is in it. ` +
    'Enable the events with the nop tracer instead: `echo nop > /sys/kernel/tracing/current_tracer`, enable the kprobes `mntrace probes` prints, ' +
    'run the workload, then capture /sys/kernel/tracing/trace again';
}

/** `name: payload` with nothing before the name: what tracefs prints with `nocontext-info` (kprobes as `name: (sym+0x0/0x190) ...`). */
const CONTEXTLESS_EVENT = /^[A-Za-z_][\w.-]*: \S/;

/** Whether at least 3 and 4 in 5 of the non-blank first lines are event lines without the context columns. */
function withoutContext(lines: readonly string[]): boolean {
  const text = lines.filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const events = text.filter((l) => CONTEXTLESS_EVENT.test(l)).length;
  return events >= 3 && events * 5 >= text.length * 4;
}

/**
 * Whether the first lines read as bytes rather than text: at least one in
 * ten of their characters is a control character (other than tab) or a byte
 * that is not UTF-8 (decoded as U+FFFD). Trace text is ASCII but for task
 * names, so a few odd characters never tip it.
 */
function looksBinary(lines: readonly string[]): boolean {
  let chars = 0;
  let odd = 0;
  for (const l of lines) {
    for (let i = 0; i < l.length && chars < 4096; i++, chars++) {
      const c = l.charCodeAt(i);
      if ((c < 32 && c !== 9) || c === 127 || c === 0xfffd) odd++;
    }
  }
  return chars >= 16 && odd * 10 >= chars;
}
