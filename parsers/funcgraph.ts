/**
 * Output of the kernel's function_graph tracer (/sys/kernel/tracing/trace or
 * trace_pipe with `current_tracer=function_graph`), in all its column options:
 *
 *   [ABSTIME |]  [RELTIME us |]  [CPU)]  [PROC |]  [LAT |]  [MARK DURATION us |]  INDENT FUNCTION
 *    7238523.638008 |   0)               |              finish_task_switch() {
 *    0)   0.198 us    |          _raw_spin_lock_irqsave();
 *    0) ! 2000147 us |  } /* sys_nanosleep *\/
 *    2678112.003180 |   0)  cksum-26695   | ! 8145.268 us |  } /* ext3_readpages *\/
 *    1)   getname() {                                       (funcgraph-duration off: no `|`)
 *    ------------------------------------------
 *    0)  platfor-3210  =>  vmstat-2854                       (context switch on CPU 0)
 *    ------------------------------------------
 *
 * Records:
 * - `func() {` gives a TraceEvent `funcgraph_entry` with fields `{ func, depth }`.
 * - `}` / `} /* func *\/` gives `funcgraph_exit` with `{ func, depth, duration_ns }`:
 *   `func` from the funcgraph-tail comment, else from the nesting tracked per
 *   CPU and task (absent when the entry was before the capture); `duration_ns`
 *   when a duration is printed (overhead marks `+ ! # * @ $` are dropped).
 * - `func();` (a leaf) gives both: `funcgraph_entry`, then `funcgraph_exit`
 *   with the leaf's duration.
 * - `/* name: payload *\/` (an event printed inside the graph, e.g. a kprobe)
 *   gives an event `name` with that payload; other comments (trace_printk
 *   text), irq markers `==========>`/`<==========`, separators and headers
 *   are consumed lines.
 * `depth` is the call depth read from the indentation (two spaces a level).
 * `payload` is the duration and function columns as printed.
 *
 * Timestamps: the abstime column when present (funcgraph-abstime; a leaf's
 * exit is entry + duration, with `ts.raw` empty because it is computed), else
 * the rel-time column (µs since the buffer start). With neither, timestamps are
 * SYNTHETIC: `ts.raw` is `''` and sec/nsec come from a clock that starts at 0,
 * advances 1 ns per event, and puts an exit at least its printed duration after
 * its entry. That clock only orders the events of one file; it has no relation
 * to real time or to other traces.
 *
 * Tasks: pid and comm come from the proc column (funcgraph-proc) when it is on,
 * else from the last context-switch separator on that CPU (`prev => next`:
 * later lines on the CPU belong to `next`); before any, pid is -1 and comm is ''.
 */
import type { ContextFlags, ParseInfo, Timestamp } from '../src/model/event';
import { emptyParseInfo } from '../src/model/event';
import { decodeFlags } from '../src/model/flags';
import { addNs, parseTimestamp, timestampFromMicros, timestampFromNs, timestampNs } from '../src/model/time';
import { exactInts, ParsedEvent, splitEventBody } from './common';
import {
  GraphNesting,
  leadingSpaces,
  parseGraphBody,
  splitGraphColumns,
  UnreadableLines,
  type GraphBody,
} from './shared-text';
import type { ParserOptions, RecordSink, TraceParser } from './types';

const ABSTIME = /^\s*(\d+\.\d+) \| ?/;
const RELTIME = /^\s*(\d+) us \| ?/;
const CPU_COL = /^\s*(\d+)\) /;
const PROC_COL = /^\s*(\S(?:.*?\S)?)-(\d+)\s*\| ?/;
const LAT_COL = /^\s*([dDbX.][NnpLlBb.][ZzHhs.][0-9a-f.]\S*)\s+\| ?/;
const SEPARATOR = /^\s*-{10,}\s*$/;
const SWITCH = /^\s*(\d+)\)\s+(\S(?:.*?\S)?)-(\d+)\s+=>\s+(\S(?:.*?\S)?)-(\d+)$/;

/** A context switch line (`  0)  kworker-1  =>  bash-2345 `): only a line that ends in `-pid` is tried, so the pattern scans the line once. */
function contextSwitch(text: string): RegExpExecArray | null {
  const t = text.trimEnd();
  return /-\d+$/.test(t) ? SWITCH.exec(t) : null;
}

export class FuncGraphParser implements TraceParser {
  readonly format = 'function_graph';
  readonly info: ParseInfo = emptyParseInfo();
  private readonly file: string;
  private readonly sink: RecordSink;
  private readonly unreadable: UnreadableLines;
  private readonly nesting = new GraphNesting();
  /** Task running on each CPU, from the context-switch separators. */
  private readonly taskByCpu = new Map<number, { pid: number; comm: string }>();
  /** Synthetic clock (ns) for output without time columns. */
  private now = 0n;

  constructor(opts: ParserOptions) {
    this.file = opts.file;
    this.sink = opts.sink;
    this.unreadable = new UnreadableLines(this.info, opts.sink, opts.file);
  }

  push(text: string, lineNo: number, terminated: boolean): void {
    this.info.lines++;
    if (text.trim() === '' || SEPARATOR.test(text)) {
      this.info.consumed++;
      return;
    }
    if (text.charCodeAt(0) === 35 /* # */) {
      this.info.consumed++;
      if (text.startsWith('# tracer:')) this.sink({ kind: 'header', tracer: text.slice(9).trim(), src: { file: this.file, line: lineNo } });
      return;
    }
    const sw = contextSwitch(text);
    if (sw && exactInts(Number(sw[1]), Number(sw[3]), Number(sw[5]))) {
      const cpu = Number(sw[1]);
      const prevPid = Number(sw[3]);
      const before = this.taskByCpu.get(cpu);
      if (!before) this.nesting.rename(`${cpu}/-1`, `${cpu}/${prevPid}`);
      this.taskByCpu.set(cpu, { pid: Number(sw[5]), comm: sw[4] });
      this.info.consumed++;
      return;
    }
    if (this.graphLine(text, lineNo)) return;
    if (!terminated) {
      this.unreadable.cutOff(text, lineNo);
      return;
    }
    this.unreadable.report(text, lineNo, 'not a function_graph line');
  }

  end(): void {
    // Nothing is held.
  }

  private graphLine(text: string, lineNo: number): boolean {
    let rest = text;
    let ts: Timestamp | undefined;
    let cpu: number | undefined;
    let task: { pid: number; comm: string } | undefined;
    let ctx: ContextFlags | undefined;
    let m = ABSTIME.exec(rest);
    if (m) {
      ts = parseTimestamp(m[1]);
      if (ts === undefined) return false;
      rest = rest.slice(m[0].length);
    } else if ((m = RELTIME.exec(rest))) {
      ts = timestampFromMicros(`${m[1]} us`, m[1]);
      if (ts === undefined) return false;
      rest = rest.slice(m[0].length);
    }
    if ((m = CPU_COL.exec(rest))) {
      cpu = Number(m[1]);
      rest = rest.slice(m[0].length);
    }
    if ((m = PROC_COL.exec(rest))) {
      task = { pid: Number(m[2]), comm: m[1] };
      rest = rest.slice(m[0].length);
    }
    if ((m = LAT_COL.exec(rest))) {
      ctx = decodeFlags(m[1]);
      if (ctx) rest = rest.slice(m[0].length);
    }
    if (!exactInts(cpu, task?.pid, ts?.sec)) return false;
    let body: GraphBody | undefined;
    let depth: number;
    let durationNs: bigint | undefined;
    const cols = splitGraphColumns(rest);
    if (cols) {
      body = cols.body;
      depth = cols.depth;
      durationNs = cols.durationNs;
    } else {
      // funcgraph-duration off: the indentation follows the CPU column directly.
      const indent = leadingSpaces(rest);
      body = parseGraphBody(rest.slice(indent));
      depth = Math.floor(indent / 2);
      if (!body || rest.includes('|') && body.kind !== 'irq' && body.kind !== 'comment') return false;
    }
    if (!body) return false;
    if (!task && cpu !== undefined) task = this.taskByCpu.get(cpu);
    const pid = task ? task.pid : -1;
    const comm = task ? task.comm : '';
    const key = `${cpu ?? -1}/${pid}`;
    const payload = rest.trim();
    const src = { file: this.file, line: lineNo };
    const synthetic = ts === undefined;
    const at = (t: Timestamp | undefined): Timestamp => t ?? timestampFromNs(this.now, '');
    const tick = (t: Timestamp): void => {
      if (synthetic) this.now = timestampNs(t) + 1n;
    };
    const make = (name: string, t: Timestamp, fields: Record<string, string>): ParsedEvent => {
      const ev = new ParsedEvent(t, pid, comm, name, payload, src);
      if (cpu !== undefined) ev.cpu = cpu;
      if (ctx) ev.ctx = ctx;
      ev.fields = fields;
      this.sink(ev);
      this.info.events++;
      return ev;
    };

    switch (body.kind) {
      case 'entry': {
        const t = at(ts);
        this.nesting.enter(key, body.func, depth, t);
        make('funcgraph_entry', t, { func: body.func, depth: String(depth) });
        tick(t);
        return true;
      }
      case 'leaf': {
        const t = at(ts);
        make('funcgraph_entry', t, { func: body.func, depth: String(depth) });
        const exitTs = durationNs !== undefined ? addNs(t, durationNs) : t;
        const f: Record<string, string> = { func: body.func, depth: String(depth) };
        if (durationNs !== undefined) f.duration_ns = String(durationNs);
        make('funcgraph_exit', exitTs, f);
        tick(exitTs);
        return true;
      }
      case 'exit': {
        const open = this.nesting.exit(key, depth);
        let t = at(ts);
        if (synthetic && open && durationNs !== undefined) {
          const earliest = addNs(open.ts, durationNs);
          if (timestampNs(earliest) > timestampNs(t)) t = earliest;
        }
        const f: Record<string, string> = {};
        const func = body.func ?? open?.func;
        if (func !== undefined) f.func = func;
        f.depth = String(depth);
        if (durationNs !== undefined) f.duration_ns = String(durationNs);
        make('funcgraph_exit', t, f);
        tick(t);
        return true;
      }
      case 'comment': {
        const split = /^[A-Za-z_][\w]*: /.test(body.text) ? splitEventBody(body.text) : undefined;
        if (split) {
          const t = at(ts);
          const ev = new ParsedEvent(t, pid, comm, split.name, split.payload, src);
          if (cpu !== undefined) ev.cpu = cpu;
          if (ctx) ev.ctx = ctx;
          if (split.probe) ev.probe = split.probe;
          this.sink(ev);
          this.info.events++;
          tick(t);
        } else this.info.consumed++;
        return true;
      }
      case 'irq':
        this.info.consumed++;
        return true;
    }
  }

  pushUnreadable(text: string, lineNo: number, reason: string): void {
    this.unreadable.pushed(text, lineNo, reason);
  }
}

const SNIFF_GRAPH_LINE =
  /^\s*(?:\d+\.\d+ \|\s+)?(?:\d+ us \|\s+)?\d+\)\s+(?:\S(?:.*?\S)?-\d+\s*\|\s*)?(?:[dDbX.]\S{3,}\s+\|\s*)?(?:(?:[+!#*@$]\s+)?(?:\d+(?:\.\d+)? us\s*)?\|\s*)?(?:[^\s(]+\(.*\)\s*(?:\{|;)|\}|\/\*|==========>|<==========)/;

/** A graph line stripped of every column (as pasted into a mail or a commit message): `func() {`, `func();`, `}`, or `}` with the funcgraph-tail comment. */
const BARE_GRAPH_LINE = /^\s*(?:[A-Za-z_][\w.]*\(\)\s*\{|[A-Za-z_][\w.]*\(\);|\}(?:\s*\/\*\s*[A-Za-z_][\w.]*\s*\*\/)?)\s*$/;

/**
 * How sure we are that these first lines are function_graph tracer output (0: not at all).
 * An excerpt of bare graph lines counts when nearly all its lines are such (at least 3, 4 in 5 of the non-blank ones).
 */
export function sniffFuncGraph(lines: readonly string[]): number {
  let graph = 0;
  let markers = 0;
  let bare = 0;
  let text = 0;
  for (const l of lines) {
    if (l.trim() !== '') text++;
    if (l.startsWith('# tracer: function_graph')) markers += 50;
    else if (/^#\s+(?:TIME\s+)?CPU\s+(?:TASK\/PID\s+)?DURATION\s+FUNCTION CALLS/.test(l)) markers += 20;
    else if (SNIFF_GRAPH_LINE.test(l)) graph++;
    else if (contextSwitch(l)) graph++;
    else if (BARE_GRAPH_LINE.test(l)) bare++;
  }
  if (bare >= 3 && bare * 5 >= text * 4) graph += bare;
  if (graph === 0 && markers === 0) return 0;
  return 3 * graph + markers;
}
