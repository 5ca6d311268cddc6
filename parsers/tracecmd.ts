/**
 * `trace-cmd report` text (trace-cmd 1.x to 3.x).
 *
 *   version = 6                               (older trace-cmd)
 *   cpus=2
 *   CPU 3 is empty
 *           kvmnotif-318   [001]    23.565443: mn_inv_start:         (ffffffffb7d20eb0) range=0x...
 *           kvmnotif-318   [001] ..... 23.565443: ...               (flags column, trace-cmd 3.x)
 *           kvmnotif-318   [001]    23.565443123: ...               (`-t`: nanoseconds)
 *           kvmnotif-318   [001]  182736451234: ...                 (raw counter clocks)
 *         <idle>-0       0d.h1. 106467.859747: function: ...        (`-l` latency form)
 *           kvmnotif-318   [001]    23.565443: (+5)     name: ...   (`--ts-diff`)
 *   CPU:1 [12 EVENTS DROPPED]  /  CPU:1 [EVENTS DROPPED]           (`lost` records)
 *           <idle>-0     [002] 23454.902258: kernel_stack:         <stack trace >
 *   => trace_event_raw_event_synth (ffffffff8121a0db)             (frames attach to the event before
 *                                                                   on the same CPU and task, as in ftrace.ts)
 *
 * Event names are padded to a column (`kmalloc:              (alloc_bprm+0x32) call_site=...`):
 * the padding is not part of the payload. `-R`/`-N`/`-r` raw field output
 * only changes the payload text, which is kept as printed.
 *
 * Special events:
 * - `print:  tracing_mark_write: KVMNOTIF ...` keeps the name `print` and the
 *   payload `tracing_mark_write: KVMNOTIF ...` (its fields parse from the marker
 *   text). Lines that follow a print event and are not event lines are taken as
 *   the continuation of a multi-line marker write (bounded); after any other
 *   event such a line is unreadable.
 * - `function:  func <-- parent` gets fields `{ func, parent }` (`func` alone when no parent).
 * - `funcgraph_entry:  |  do_IRQ() {` / `funcgraph_exit:  + 36.358 us |  }` get
 *   fields `{ func, depth }` / `{ func, depth, duration_ns }` (func tracked per
 *   CPU and task so a bare `}` knows its function). A leaf
 *   `funcgraph_entry:  0.5 us |  func();` gives two events: funcgraph_entry and
 *   a funcgraph_exit at entry time + duration (its `ts.raw` is empty: computed).
 *
 * Multi-file reports (`trace-cmd report -i host.dat -i guest.dat`, and buffer
 * instances) prefix every record with the input's name right-aligned:
 * `      trace.dat: cpus=28`, `trace-guest.dat:           <idle>-0 [000] ...`.
 * The prefix is stripped and kept as the synthetic field `@input` of each event
 * (`ev.fields['@input'] === 'trace-guest.dat'`); the comm stays the task name.
 * Inputs are learnt from their `NAME: cpus=N` header lines; without them a
 * prefix is recognised when it ends in `.dat`. Lines continuing a record
 * (stack frames, the event after a DROPPED marker) carry no prefix and take
 * the input of the record they belong to. Host and guest keep separate pid and
 * CPU numbering: consumers that pair events must also compare `@input`.
 *
 * Summary output is not events: `trace-cmd report --profile` blocks (from a
 * `task: comm-pid` line on), the `-w` wakeup-latency summary (`Average
 * wakeup latency: ...`, `Maximum Latency: ...`, `RT task timings:`) and the
 * ring-buffer statistics of `--stat` (from `Kernel buffer statistics:` on;
 * `trace-cmd record` prints the same block when it stops) are counted in
 * `info.summaryLines` (and in `info.consumed`), never unreadable.
 */
import type { LostEventsRecord, ParseInfo, StackFrame, Timestamp } from '../src/model/event';
import { emptyParseInfo } from '../src/model/event';
import { decodeFlagsCached as decodeFlags } from '../src/model/flags';
import { addNs, parseTimestamp } from '../src/model/time';
import { exactInts, ParsedEvent, parseFrame, splitProbeSite } from './common';
import { ExtraFieldsEvent, formatOrderKretprobe, GraphNesting, HeldEvents, splitGraphColumns, UnreadableLines } from './shared-text';
import type { ParserOptions, TraceParser } from './types';

export interface TraceCmdParseInfo extends ParseInfo {
  /** `--profile`, `-w` and `--stat` summary lines: always counted here. */
  summaryLines: number;
}

/** comm-pid [cpu] [flags] timestamp: [(+diff)] name: payload */
const EVENT_LINE = /^\s*(\S.*?)-(\d+)\s+\[(\d+)\]\s+(?:(\S+)\s+)?(\d+(?:\.\d+)?):\s+(?:\(\+\d+\)\s+)?([^\s:]+):(?: +(.*))?$/;
/** `-l`: comm (8 chars)-pid cpu+flags timestamp: name: payload */
const LATENCY_LINE = /^\s*(\S.*?)-(\d+)\s+(\d+)([dDbX.][^\s]{3,}|-0x[0-9a-fA-F]+)\s+(\d+(?:\.\d+)?):\s+(?:\(\+\d+\)\s+)?([^\s:]+):(?: +(.*))?$/;
const DROPPED = /^CPU:(\d+) \[(?:(\d+) )?EVENTS DROPPED\]\s*$/;
const CPUS = /^cpus=(\d+)\s*$/;
const VERSION = /^version = (\d+)\s*$/;
const EMPTY_CPU = /^CPU \d+ is empty\s*$/;
const SUBBUFFER = /^CPU:\d+ \[SUBBUFFER START\]/;
const PREFIX = /^\s*(\S+): (.*)$/;
/** The first line of the ring-buffer statistics (`--stat`, and `trace-cmd record` as it stops). */
const STAT_START = /^Kernel buffer statistics:\s*$/;
/** Where summary output begins, and what prints it. */
const SUMMARIES: ReadonlyArray<[RegExp, string]> = [
  [/^task: .*-\d+\s*$/, 'the `trace-cmd report --profile` summary'],
  [/^(?:Average wakeup latency: |Maximum Latency: |Minimum Latency: |RT task timings:)/, 'the wakeup-latency summary of `trace-cmd report -w`'],
  [STAT_START, 'the ring-buffer statistics that `trace-cmd report --stat` prints (and `trace-cmd record`, when it stops)'],
];
const CONTINUABLE = new Set(['print', 'bprint', 'bputs']);
const MAX_CONTINUATION = 16;

export class TraceCmdParser implements TraceParser {
  readonly format = 'trace-cmd';
  readonly info: TraceCmdParseInfo = { ...emptyParseInfo(), summaryLines: 0 };
  private readonly file: string;
  private readonly unreadable: UnreadableLines;
  private readonly held: HeldEvents;
  private readonly inputs = new Set<string>();
  /** Input of the record being continued (DROPPED marker, stack frames). */
  private carryInput: string | undefined;
  private stackFrames: StackFrame[] | undefined;
  private summary = false;
  private continuable: ParsedEvent | undefined;
  private continuations = 0;
  private readonly lastTsByCpu = new Map<string, Timestamp>();
  private readonly graph = new GraphNesting();

  constructor(opts: ParserOptions) {
    this.file = opts.file;
    this.held = new HeldEvents(opts.sink);
    // An unreadable line ends a multi-line payload: the next line is not its continuation.
    this.unreadable = new UnreadableLines(this.info, opts.sink, opts.file, () => {
      this.continuable = undefined;
    });
  }

  push(text: string, lineNo: number, terminated: boolean): void {
    this.info.lines++;
    // Stack frames: "=> func (addr)" (trace-cmd prints them unindented).
    if (this.stackFrames !== undefined) {
      const arrow = text.indexOf('=>');
      if (arrow >= 0 && text.slice(0, arrow).trim() === '') {
        this.stackFrames.push(parseFrame(text.slice(arrow + 2)));
        this.info.consumed++;
        return;
      }
      this.stackFrames = undefined;
    }
    if (text.trim() === '') {
      this.info.consumed++;
      return;
    }
    let body = text;
    let input: string | undefined;
    const pm = PREFIX.exec(text);
    if (pm && (this.inputs.has(pm[1]) || CPUS.test(pm[2]) || VERSION.test(pm[2]) || (this.inputs.size === 0 && pm[1].endsWith('.dat')))) {
      input = pm[1];
      body = pm[2];
    }
    if (input !== undefined && (CPUS.test(body) || VERSION.test(body))) this.inputs.add(input);
    if (input === undefined && this.carryInput !== undefined) input = this.carryInput;
    this.carryInput = undefined;
    if (this.line(body, input, text, lineNo, terminated)) return;
  }

  end(): void {
    this.held.flush();
  }

  /** Returns true when the line was taken. */
  private line(body: string, input: string | undefined, text: string, lineNo: number, terminated: boolean): boolean {
    const c0 = body.charCodeAt(0);
    if (c0 === 99 /* c */ || c0 === 118 /* v */) {
      const cpus = CPUS.exec(body);
      if (cpus && exactInts(Number(cpus[1]))) {
        this.info.consumed++;
        this.continuable = undefined;
        this.held.emitInOrder({ kind: 'header', cpus: Number(cpus[1]), src: { file: this.file, line: lineNo } });
        return true;
      }
      if (VERSION.test(body)) {
        this.info.consumed++;
        return true;
      }
    }
    if (c0 === 67 /* C */) {
      const d = DROPPED.exec(body);
      if (d && exactInts(Number(d[1]), d[2] === undefined ? undefined : Number(d[2]))) {
        const cpu = Number(d[1]);
        this.held.close(cpu);
        this.info.consumed++;
        this.info.lostMarkers++;
        const rec: LostEventsRecord = {
          kind: 'lost',
          cpu,
          src: { file: this.file, line: lineNo },
        };
        if (d[2] !== undefined) {
          rec.count = Number(d[2]);
          this.info.lostEvents += rec.count;
        }
        const after = this.lastTsByCpu.get(`${input ?? ''}/${cpu}`);
        if (after) rec.after = after;
        if (input !== undefined) rec.machine = input;
        this.held.emitInOrder(rec);
        this.continuable = undefined;
        this.carryInput = input;
        return true;
      }
      if (EMPTY_CPU.test(body) || SUBBUFFER.test(body)) {
        this.info.consumed++;
        return true;
      }
    }
    if (this.eventLine(body, input, lineNo)) return true;
    if (this.summary || this.summaryStarts(body)) {
      this.summary = true;
      this.continuable = undefined;
      this.info.consumed++;
      this.info.summaryLines++;
      return true;
    }
    if (!terminated) {
      this.unreadable.cutOff(text, lineNo);
      return true;
    }
    if (this.continuable && this.continuations < MAX_CONTINUATION) {
      this.continuable.payload += '\n' + text;
      this.continuations++;
      this.info.continuationLines++;
      this.info.consumed++;
      return true;
    }
    this.unreadable.report(text, lineNo, 'not a trace-cmd report line');
    return true;
  }

  private eventLine(body: string, input: string | undefined, lineNo: number): boolean {
    let comm: string, pid: number, cpu: number, flagsRaw: string | undefined, tsRaw: string, name: string, rest: string;
    const m = EVENT_LINE.exec(body);
    if (m) {
      [, comm, , , flagsRaw, tsRaw, name] = m;
      pid = Number(m[2]);
      cpu = Number(m[3]);
      rest = m[7] ?? '';
    } else {
      const l = LATENCY_LINE.exec(body);
      if (!l) return false;
      [, comm, , , flagsRaw, tsRaw, name] = l;
      pid = Number(l[2]);
      cpu = Number(l[3]);
      rest = l[7] ?? '';
      if (flagsRaw.startsWith('-0x')) flagsRaw = undefined;
    }
    if (comm.length === 0 || !exactInts(pid, cpu)) return false;
    const ts = parseTimestamp(tsRaw);
    if (!ts) return false;
    const ctx = flagsRaw === undefined ? undefined : decodeFlags(flagsRaw);
    if (flagsRaw !== undefined && ctx === undefined) return false;
    this.summary = false;
    this.lastTsByCpu.set(`${input ?? ''}/${cpu}`, ts);
    const src = { file: this.file, line: lineNo };
    const payloadRaw = rest.trimEnd();

    // kernel_stack: <stack trace >  /  user_stack: <user stack trace>
    if ((name === 'kernel_stack' || name === 'user_stack') && payloadRaw.startsWith('<') && /stack trace/.test(payloadRaw)) {
      this.info.consumed++;
      const frames: StackFrame[] = [];
      const target = this.held.open(cpu);
      if (target && target.pid === pid && target.machine === input) {
        if (name === 'user_stack' || payloadRaw.startsWith('<user')) target.userStack = frames;
        else target.stack = frames;
      } else {
        this.info.orphanStacks++;
      }
      this.stackFrames = frames;
      this.carryInput = input;
      this.continuable = undefined;
      return true;
    }

    const mk = (evName: string, payload: string, at: Timestamp = ts): ParsedEvent => {
      const ev = input === undefined ? new ParsedEvent(at, pid, comm, evName, payload, src) : new ExtraFieldsEvent(at, pid, comm, evName, payload, src, { '@input': input });
      ev.cpu = cpu;
      if (ctx) ev.ctx = ctx;
      if (input !== undefined) ev.machine = input;
      return ev;
    };
    const taskKey = `${input ?? ''}/${cpu}/${pid}`;

    if (name === 'funcgraph_entry' || name === 'funcgraph_exit') {
      const g = splitGraphColumns(rest);
      if (g && (g.body.kind === 'entry' || g.body.kind === 'leaf' || g.body.kind === 'exit')) {
        if (g.body.kind === 'entry') {
          this.graph.enter(taskKey, g.body.func, g.depth, ts);
          const ev = mk('funcgraph_entry', payloadRaw);
          setFields(ev, { func: g.body.func, depth: String(g.depth) }, input);
          this.emit(ev, cpu);
        } else if (g.body.kind === 'leaf') {
          const entry = mk('funcgraph_entry', payloadRaw);
          setFields(entry, { func: g.body.func, depth: String(g.depth) }, input);
          this.emit(entry, cpu);
          const exitTs = g.durationNs !== undefined ? addNs(ts, g.durationNs) : ts;
          const exit = mk('funcgraph_exit', payloadRaw, exitTs);
          const f: Record<string, string> = { func: g.body.func, depth: String(g.depth) };
          if (g.durationNs !== undefined) f.duration_ns = String(g.durationNs);
          setFields(exit, f, input);
          this.emit(exit, cpu);
        } else {
          const open = this.graph.exit(taskKey, g.depth);
          const func = g.body.func ?? open?.func;
          const ev = mk('funcgraph_exit', payloadRaw);
          const f: Record<string, string> = {};
          if (func !== undefined) f.func = func;
          f.depth = String(g.depth);
          if (g.durationNs !== undefined) f.duration_ns = String(g.durationNs);
          setFields(ev, f, input);
          this.emit(ev, cpu);
        }
        return true;
      }
      // Not graph-shaped: keep it as a plain event below.
    }

    const site = splitProbeSite(payloadRaw);
    const ev0 = mk(name, site ? site.rest : payloadRaw);
    if (site) ev0.probe = formatOrderKretprobe(site.probe);
    if (name === 'function') {
      const fm = /^(\S+)(?:\s+<-{1,2}\s*(\S+))?$/.exec(payloadRaw.trim());
      if (fm) {
        const f: Record<string, string> = { func: fm[1] };
        if (fm[2] !== undefined) f.parent = fm[2];
        setFields(ev0, f, input);
      }
    }
    this.emit(ev0, cpu);
    this.continuable = CONTINUABLE.has(name) ? ev0 : undefined;
    this.continuations = 0;
    return true;
  }

  private emit(ev: ParsedEvent, cpu: number): void {
    this.held.hold(ev, cpu);
    this.info.events++;
    this.continuable = undefined;
  }

  private summaryStarts(body: string): boolean {
    const hit = SUMMARIES.find(([start]) => start.test(body));
    if (hit === undefined) return false;
    this.info.summaryOf ??= hit[1];
    return true;
  }

  pushUnreadable(text: string, lineNo: number, reason: string): void {
    this.unreadable.pushed(text, lineNo, reason);
  }
}

function setFields(ev: ParsedEvent, f: Record<string, string>, input: string | undefined): void {
  ev.fields = input === undefined ? f : { ...f, '@input': input };
}

const SNIFF_PREFIX = /^\s*\S+: (?=cpus=|version = |CPU:)/;

/**
 * How sure we are that these first lines are `trace-cmd report` output: 0
 * unless something only trace-cmd prints is there (a `cpus=N`/`version = N`
 * header, `CPU N is empty`, a DROPPED marker, a `kernel_stack:` record,
 * unindented `=> func (addr)` frames, `<--` function parents, funcgraph_*
 * events, `--profile` blocks, or event names padded to a column); then more
 * than ftrace's score for the same event lines. Text with an ftrace header is
 * never trace-cmd.
 */
export function sniffTraceCmd(lines: readonly string[]): number {
  let events = 0;
  let padded = 0;
  let short = 0;
  let markers = 0;
  for (const raw of lines) {
    if (raw.startsWith('# tracer:') || /^#\s+TASK-PID/.test(raw)) return 0;
    const l = raw.replace(SNIFF_PREFIX, '');
    if (CPUS.test(l) || VERSION.test(l)) markers += 20;
    else if (EMPTY_CPU.test(l) || DROPPED.test(l)) markers += 10;
    else if (/^task: \S.*-\d+\s*$/.test(l) || STAT_START.test(l)) markers += 20;
    else if (/^\s+Event: \S/.test(l)) markers += 2;
    else if (/^=> \S+ \((?:0x)?[0-9a-fA-F]+\)\s*$/.test(l)) markers += 2;
    else {
      const pm = PREFIX.exec(l);
      const m = EVENT_LINE.exec(l) ?? LATENCY_LINE.exec(l) ?? (pm && pm[1].endsWith('.dat') ? EVENT_LINE.exec(pm[2]) : null);
      if (!m) continue;
      events++;
      const name = m[6];
      if (name === 'kernel_stack' || name === 'funcgraph_entry' || name === 'funcgraph_exit') markers += 5;
      if (/ <-- /.test(m[7] ?? '')) markers += 2;
      if (name.length < 19) {
        short++;
        if (new RegExp(`\\b${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: {2,}\\S`).test(l)) padded++;
      }
    }
  }
  if (markers === 0 && (padded === 0 || padded * 4 < short)) return 0;
  return 2 * events + padded + markers + 1;
}
