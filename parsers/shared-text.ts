/**
 * Helpers shared by the text parsers (trace-cmd report, perf script,
 * function_graph, systrace, CSV; ftrace.ts takes only the unreadable-line ones):
 *
 * - {@link HeldEvents}: the hold-until-we-know-whether-a-stack-follows queue
 *   that ftrace.ts uses, as a reusable piece (per-CPU "open" event, bounded).
 * - {@link ExtraFieldsEvent}: a ParsedEvent whose lazily parsed payload fields
 *   get a few synthetic fields merged in (e.g. the trace-cmd input file).
 * - {@link UnreadableLines}: counting and reporting a parser's unreadable lines.
 * - function_graph column and body parsing, shared by funcgraph.ts (raw tracer
 *   output) and tracecmd.ts (`funcgraph_entry`/`funcgraph_exit` events).
 */
import type { ParseInfo, ProbeSite, SourceLocation, Timestamp, UnreadableRecord } from '../src/model/event';
import { ParsedEvent } from './common';
import { UNREADABLE_HEAD } from '../src/model/limits';
import type { RecordSink } from './types';

/** Events held back waiting for a possible stack record (same bound as ftrace.ts). */
const MAX_HELD = 256;

/**
 * Events not yet emitted, in file order. An event is held until the next
 * record on its CPU shows whether a stack record belongs to it; the queue is
 * bounded (a stack record follows its event within a few lines).
 */
export class HeldEvents {
  private readonly queue: ParsedEvent[] = [];
  private head = 0;
  private readonly openByCpu = new Map<number, ParsedEvent>();

  constructor(private readonly sink: RecordSink) {}

  /** The event a stack record on this CPU would attach to, if it is still open. */
  open(cpu: number): ParsedEvent | undefined {
    return this.openByCpu.get(cpu);
  }

  /** Queue an event; the previous event on this CPU can no longer receive a stack. */
  hold(ev: ParsedEvent, cpu: number): void {
    this.openByCpu.set(cpu, ev);
    this.queue.push(ev);
    this.drain(false);
  }

  /** Close the CPU's open event (a marker came between it and any stack). */
  close(cpu: number): void {
    this.openByCpu.delete(cpu);
    this.drain(false);
  }

  /** Emit everything still held. */
  flush(): void {
    this.openByCpu.clear();
    this.drain(true);
  }

  /** Emit a non-event record in order: everything queued before it goes first. */
  emitInOrder(record: Parameters<RecordSink>[0]): void {
    this.openByCpu.clear();
    this.drain(true);
    this.sink(record);
  }

  private drain(all: boolean): void {
    const q = this.queue;
    while (this.head < q.length) {
      const ev = q[this.head];
      const cpu = ev.cpu ?? -1;
      const open = this.openByCpu.get(cpu) === ev;
      if (open && !all && q.length - this.head <= MAX_HELD) break;
      if (open) this.openByCpu.delete(cpu);
      this.sink(ev);
      this.head++;
    }
    if (this.head > 1024 || this.head === q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * A ParsedEvent with synthetic fields merged into the payload's key=value
 * fields on first use. Synthetic keys start with `@`, which no payload key can
 * (payload keys match `[A-Za-z_$][\w.$\->[\]]*`), so they never collide.
 */
export class ExtraFieldsEvent extends ParsedEvent {
  private extraMerged = false;

  constructor(
    ts: Timestamp,
    pid: number,
    comm: string,
    name: string,
    payload: string,
    src: SourceLocation,
    readonly extra: Readonly<Record<string, string>>,
  ) {
    super(ts, pid, comm, name, payload, src);
  }

  override get fields(): Record<string, string> {
    const f = super.fields;
    if (!this.extraMerged) {
      Object.assign(f, this.extra);
      this.extraMerged = true;
    }
    return f;
  }

  override set fields(f: Record<string, string>) {
    super.fields = f;
    this.extraMerged = false;
  }
}

/** Build an unreadable record (text cut to UNREADABLE_HEAD characters): every parser's, through UnreadableLines. */
function unreadableRecord(file: string, line: number, text: string, reason: string): UnreadableRecord {
  return { kind: 'unreadable', reason, text: text.length > UNREADABLE_HEAD ? text.slice(0, UNREADABLE_HEAD) + '…' : text, src: { file, line } };
}

/**
 * Where a parser's unreadable lines go (every line parser's, ftrace.ts's too):
 * each is counted in the parser's `info.unreadable` and handed to its sink as an
 * unreadable record. `ends` (optional) runs first, for what an unreadable line
 * ends in the parser: a multi-line payload it could have continued, an event
 * still waiting for its callchain. Built once per parser; nothing is allocated
 * here but the record.
 */
export class UnreadableLines {
  constructor(
    private readonly info: ParseInfo,
    private readonly sink: RecordSink,
    private readonly file: string,
    private readonly ends?: () => void,
  ) {}

  /** A line the parser was given (and counted in `info.lines`) but could not read. */
  report(text: string, lineNo: number, reason: string): void {
    this.info.unreadable++;
    this.ends?.();
    this.sink(unreadableRecord(this.file, lineNo, text, reason));
  }

  /** The last line of the file, without its newline, cut off where the parser cannot read it: the capture is truncated. */
  cutOff(text: string, lineNo: number): void {
    this.info.truncated = true;
    this.report(text, lineNo, 'the file ends in the middle of this line (truncated capture?)');
  }

  /** TraceParser.pushUnreadable: a line the reader could not hand over, counted as a line and reported. */
  pushed(text: string, lineNo: number, reason: string): void {
    this.info.lines++;
    this.report(text, lineNo, reason);
  }
}

// ------------------------------------------------------------ function_graph

/**
 * A function_graph duration as printed (`0.198`, `36.358`, `1000131`,
 * `12234.70`; always microseconds) in whole nanoseconds.
 */
export function graphDurationNs(usText: string): bigint | undefined {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(usText);
  // Over 15 digits of microseconds (31 years) is not a duration: the sum of a few would be no time at all.
  if (!m || m[1].length > 15) return undefined;
  const frac = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  return BigInt(m[1]) * 1000n + BigInt(frac);
}

/** What the function column of one function_graph line says. */
export type GraphBody =
  /** `func() {` (also `func(args) {` with funcgraph-args). */
  | { kind: 'entry'; func: string }
  /** `func();` (also `func(); /* ret=0 *\/`): entry and return in one line. */
  | { kind: 'leaf'; func: string }
  /** `}` or `} /* func *\/` (funcgraph-tail; possibly ` ret=...` after the name). */
  | { kind: 'exit'; func?: string }
  /** `/* text *\/`: an event or trace_printk() printed inside the graph. */
  | { kind: 'comment'; text: string }
  /** `==========>` / `<==========`: irq entry/exit markers (funcgraph-irqs). */
  | { kind: 'irq'; enter: boolean };

/** Parse the function column (after the indentation) of a function_graph line. */
export function parseGraphBody(body: string): GraphBody | undefined {
  const s = body.trim();
  if (s.length === 0) return undefined;
  if (s.charCodeAt(0) === 125 /* } */) {
    if (s === '}') return { kind: 'exit' };
    // `} /* func */`: read by position, not by one pattern (spaces inside would cost the pattern their square).
    const tail = s.slice(1).trimStart();
    if (!tail.startsWith('/*') || !tail.endsWith('*/') || tail.length < 4) return undefined;
    const name = tail.slice(2, -2).trim().split(/\s+/)[0];
    return name ? { kind: 'exit', func: name } : { kind: 'exit' };
  }
  if (s.startsWith('/*')) {
    const c = /^\/\*\s?([\s\S]*?)\s?\*\/$/.exec(s);
    return c ? { kind: 'comment', text: c[1] } : undefined;
  }
  if (s.startsWith('==========>')) return { kind: 'irq', enter: true };
  if (s.startsWith('<==========')) return { kind: 'irq', enter: false };
  const paren = s.indexOf('(');
  if (paren <= 0) return undefined;
  const func = s.slice(0, paren);
  if (/\s/.test(func)) return undefined;
  if (/\)\s*\{$/.test(s)) return { kind: 'entry', func };
  if (s.endsWith(');')) return { kind: 'leaf', func };
  // `func(); /* ret=0 */`: a comment that runs to the end of the line after the `);`.
  const comment = s.endsWith('*/') ? /\);\s*\/\*/.exec(s) : null;
  if (comment && comment.index + comment[0].length <= s.length - 2 && !/[\n\r\u2028\u2029]/.test(s)) return { kind: 'leaf', func };
  return undefined;
}

/** The duration column and function column of a function_graph line, as split by {@link splitGraphColumns}. */
export interface GraphColumns {
  /** Overhead mark (`+ ! # * @ $`), when printed. */
  mark?: string;
  /** The printed duration in ns (exits and leaves). */
  durationNs?: bigint;
  /** The duration text as printed (`36.358 us`). */
  durationText?: string;
  /** Call depth from the indentation (2 spaces per level). */
  depth: number;
  body: GraphBody;
  /** The function column exactly as printed (indentation removed). */
  bodyText: string;
}

const DURATION_COLUMN = /^\s*(?:([+!#*@$])\s+)?(?:(\d+(?:\.\d+)?) us\s*)?\|(.*)$/;

/**
 * Split `[mark] [duration us] |  <indent>body` (the part after the CPU/proc/
 * latency columns) when the duration column is on. The kernel prints `|  `
 * and then two spaces per depth level.
 */
export function splitGraphColumns(text: string): GraphColumns | undefined {
  const m = DURATION_COLUMN.exec(text);
  if (!m) return undefined;
  const after = m[3];
  const indent = leadingSpaces(after);
  const bodyText = after.slice(indent).trimEnd();
  const body = parseGraphBody(bodyText);
  if (!body) return undefined;
  const cols: GraphColumns = { depth: Math.max(0, Math.floor((indent - 2) / 2)), body, bodyText };
  if (m[1] !== undefined) cols.mark = m[1];
  if (m[2] !== undefined) {
    cols.durationText = `${m[2]} us`;
    cols.durationNs = graphDurationNs(m[2]);
    if (cols.durationNs === undefined) return undefined;
  }
  return cols;
}

export function leadingSpaces(s: string): number {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) === 32) i++;
  return i;
}

/**
 * Per-task function nesting for function_graph output, so that a bare `}`
 * knows which function it closes. Keys are chosen by the caller (CPU, or
 * CPU and pid when the pid is known).
 */
export class GraphNesting {
  private readonly stacks = new Map<string, Array<{ func: string; depth: number; ts: Timestamp }>>();

  enter(key: string, func: string, depth: number, ts: Timestamp): void {
    let st = this.stacks.get(key);
    if (!st) this.stacks.set(key, (st = []));
    // A deeper frame left open (max_graph_depth, lost events) is dropped.
    while (st.length && st[st.length - 1].depth >= depth) st.pop();
    st.push({ func, depth, ts });
  }

  /** Close the function at `depth`; returns it when known (and its entry timestamp). */
  exit(key: string, depth: number): { func: string; ts: Timestamp } | undefined {
    const st = this.stacks.get(key);
    if (!st) return undefined;
    while (st.length && st[st.length - 1].depth > depth) st.pop();
    const top = st[st.length - 1];
    if (top && top.depth === depth) {
      st.pop();
      return { func: top.func, ts: top.ts };
    }
    return undefined;
  }

  /** Move the open frames of one key to another (a task became known after the fact). */
  rename(from: string, to: string): void {
    const st = this.stacks.get(from);
    if (!st) return;
    this.stacks.delete(from);
    if (!this.stacks.has(to)) this.stacks.set(to, st);
  }
}

/**
 * trace-cmd and perf print a kretprobe site from the event's format string
 * `"(%lx <- %lx)", REC->__probe_func, REC->__probe_ret_ip`: the probed
 * function comes first and the return address second, the opposite of the
 * kernel's own text (`(caller+0x4a/0x60 <- sym)`). `splitProbeSite` reads the
 * kernel order; for bare addresses from those tools swap them back so that
 * `probe.address` is the probed function (it then equals the address of the
 * matching kprobe, e.g. mn_inv_start and mn_inv_start_ret).
 */
export function formatOrderKretprobe(probe: ProbeSite): ProbeSite {
  if (!probe.isReturn || probe.symbol !== undefined || probe.returnTo?.symbol !== undefined) return probe;
  if (probe.address === undefined || probe.returnTo?.address === undefined) return probe;
  return { isReturn: true, address: probe.returnTo.address, returnTo: { address: probe.address } };
}

/**
 * Feed a whole text to a parser line by line, the way readLines does (LF or
 * CRLF, 1-based line numbers, a last line without newline is unterminated).
 * For tests and small in-memory inputs.
 */
export function pushText(parser: { push(text: string, lineNo: number, terminated: boolean): void; end(): void }, text: string): void {
  const lines = text.split('\n');
  const last = lines.pop() as string;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    parser.push(l.endsWith('\r') ? l.slice(0, -1) : l, i + 1, true);
  }
  if (last !== '') parser.push(last.endsWith('\r') ? last.slice(0, -1) : last, lines.length + 1, false);
  parser.end();
}
