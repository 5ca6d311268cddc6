/**
 * `perf script` text (perf 3.x to 6.x).
 *
 *   comm  tid [cpu]  seconds.usecs:  [period]  group:event: payload
 *           kvmnotif   345 [000]    39.964764:                 kprobes:mn_inv_start: (ffffffffb7d20eb0) range=0x...
 *              iperf 27409/28744 [000] 441995.133575: cpu-clock:        (pid/tid: tid is `pid`, pid is `tgid`)
 *           dd 29776 666709.771979:   10101010 cpu-clock:             (no CPU column, period column)
 *           func_ab 15294 cpu-clock:                                  (no CPU, no timestamp)
 *           emulator  4152 75695.008865:          1 cycles:u:         (event modifiers)
 *           java 19983 cycles:                                        (perf 3.x; unindented callchain)
 *
 * Columns may be missing (`-F` picks them): comm, then tid or pid/tid, then
 * optional `[cpu]`, optional `timestamp:` (6 or 9 decimals, kept as printed),
 * optional period, then the event and its payload. Comms may contain spaces
 * and end in `-`; the tid is the first all-digit token that leaves a valid
 * rest of line. An event with no timestamp column gets `ts.raw === ''` and
 * sec/nsec 0.
 *
 * Event names: `kprobes:mn_inv_start` gives `group: 'kprobes', name: 'mn_inv_start'`
 * (the same for `probe:`, `probe_libc:`, any `group:event`, and `__return`
 * kretprobes, whose name keeps the `__return` suffix as printed). Hardware and
 * software events with modifiers (`cycles:u`, `task-clock:ppp`) keep the whole
 * token as the name and have no group. kprobe/kretprobe payloads
 * `(ffffffffb7d20eb0) ...` and `(ffffffffb7d20eb0 <- ffffffffb7d3ae41) ret=0`
 * fill `probe`. `[FAILED TO PARSE]` payloads are kept as they are (the event
 * stays).
 *
 * Callchains: the indented `addr sym+off (dso)` lines after an event (ended by
 * a blank line) become the event's `stack`, innermost first, user and kernel
 * frames together. A frame's `module` is the DSO: `[kvm]` gives `kvm`, a path
 * stays a path, `[kernel.kallsyms]`/`[unknown]` give none; `address` is the
 * hex as printed. Header blocks (`# ========`, `# event : ...`) are consumed;
 * `# nrcpus online : N` becomes a header record with `cpus`.
 */
import type { ParseInfo, StackFrame, Timestamp } from '../src/model/event';
import { emptyParseInfo } from '../src/model/event';
import { parseTimestamp } from '../src/model/time';
import { exactInts, ParsedEvent, splitProbeSite } from './common';
import { FTRACE_EVENT_SHAPE } from './ftrace';
import { ExtraFieldsEvent, formatOrderKretprobe, UnreadableLines } from './shared-text';
import type { ParserOptions, RecordSink, TraceParser } from './types';

/**
 * comm, tid or pid/tid, [cpu], timestamp:, period, event:, payload.
 * The event token is the last `word:` before whitespace or the end of line.
 */
const SAMPLE = /^\s*(\S(?:.*?\S)?)\s+(\d+)(?:\/(\d+))?\s+(?:\[(\d+)\]\s+)?(?:(\d+\.\d+):\s+)?(?:(\d+)\s+)?([A-Za-z_]\S*):(?:\s(.*))?$/;
/** A callchain line's address and the rest (`\tffffffff8104f45a native_write_msr_safe ([kernel.kallsyms])`). */
const FRAME_ADDR = /^\s*([0-9a-fA-F]+)\s+/;
/** perf 3.x's unindented frames: an address of 4 or more digits. */
const UNINDENTED_ADDR = /^([0-9a-fA-F]{4,})\s+(?=\S)/;

/**
 * A callchain frame: address, symbol, and the DSO in the parentheses that end
 * the line (which may hold parentheses of their own). Found by scanning back
 * from the end rather than by one pattern: linear in the line whatever it holds.
 * Unindented frames (perf 3.x) need a symbol and a DSO.
 */
function splitFrame(text: string, indented: boolean): { addr: string; sym: string; dso: string | undefined } | undefined {
  const line = text.trimEnd();
  const a = (indented ? FRAME_ADDR : UNINDENTED_ADDR).exec(line);
  if (!a) return undefined;
  const rest = line.slice(a[0].length);
  let open = -1;
  if (rest.endsWith(')')) {
    let depth = 0;
    for (let i = rest.length - 1; i >= 0; i--) {
      const c = rest.charCodeAt(i);
      if (c === 41 /* ) */) depth++;
      else if (c === 40 /* ( */ && --depth === 0) {
        open = i;
        break;
      }
    }
  }
  // The DSO's parentheses follow whitespace (a symbol's own, `foo(int)`, do not).
  const dso = open > 0 && /\s/.test(rest[open - 1]) ? rest.slice(open + 1, -1) : undefined;
  const sym = dso === undefined ? rest : rest.slice(0, open).trimEnd();
  if (!indented && (dso === undefined || sym === '')) return undefined;
  return { addr: a[1], sym, dso };
}
const MODIFIERS = /^[ukhIGHpPSDWebR]{1,5}$/;
const NO_TS: Timestamp = { raw: '', sec: 0, nsec: 0, unit: 'seconds' };

export class PerfScriptParser implements TraceParser {
  readonly format = 'perf-script';
  readonly info: ParseInfo = emptyParseInfo();
  private readonly file: string;
  private readonly sink: RecordSink;
  private readonly unreadable: UnreadableLines;
  /** The last event, held while its callchain lines arrive. */
  private pending: ParsedEvent | undefined;
  private frames: StackFrame[] | undefined;

  constructor(opts: ParserOptions) {
    this.file = opts.file;
    this.sink = opts.sink;
    // An unreadable line ends the sample before it (and its callchain): it is emitted first.
    this.unreadable = new UnreadableLines(this.info, opts.sink, opts.file, () => this.flush());
  }

  push(text: string, lineNo: number, terminated: boolean): void {
    this.info.lines++;
    const c0 = text.charCodeAt(0);
    if (text.trim() === '') {
      // A blank line ends a sample (and its callchain).
      this.flush();
      this.info.consumed++;
      return;
    }
    if (this.frames !== undefined) {
      // Callchain lines are indented (a tab in every perf since 3.x); perf 3.x
      // printed them at column 0 (`ffffffff8103d0ca native_write_msr_safe ([kernel.kallsyms])`).
      const tab = c0 === 9; /* \t */
      const fm = splitFrame(text, tab || c0 === 32);
      if (fm && (tab || !SAMPLE.test(text))) {
        this.frames.push(frame(fm.addr, fm.sym, fm.dso));
        this.info.consumed++;
        return;
      }
    }
    if (c0 === 35 /* # */) {
      this.flush();
      this.info.consumed++;
      const cpus = /^#\s*nrcpus online\s*:\s*(\d+)/.exec(text);
      if (cpus && exactInts(Number(cpus[1]))) this.sink({ kind: 'header', cpus: Number(cpus[1]), src: { file: this.file, line: lineNo } });
      return;
    }
    if (this.sample(text, lineNo)) return;
    if (!terminated) {
      this.unreadable.cutOff(text, lineNo);
      return;
    }
    this.unreadable.report(text, lineNo, 'not a perf script line');
  }

  end(): void {
    this.flush();
  }

  private sample(text: string, lineNo: number): boolean {
    const m = SAMPLE.exec(text);
    if (!m) return false;
    const comm = m[1];
    let pid: number, tgid: number | undefined;
    if (m[3] !== undefined) {
      tgid = Number(m[2]);
      pid = Number(m[3]);
    } else pid = Number(m[2]);
    let ts = NO_TS;
    if (m[5] !== undefined) {
      const t = parseTimestamp(m[5]);
      if (!t) return false;
      ts = t;
    }
    const token = m[7];
    let group: string | undefined;
    let name = token;
    const colon = token.indexOf(':');
    if (colon > 0 && colon < token.length - 1 && !MODIFIERS.test(token.slice(colon + 1))) {
      group = token.slice(0, colon);
      name = token.slice(colon + 1);
    }
    let payload = (m[8] ?? '').trimEnd();
    const lost = /^PERF_RECORD_LOST(?:_SAMPLES)?$/.test(name) ? /(?<!\d)(\d+)$/.exec(payload) : null;
    this.flush();
    if (!exactInts(pid, tgid, m[4] === undefined ? undefined : Number(m[4]), lost ? Number(lost[1]) : undefined)) return false;
    if (lost && m[4] !== undefined) {
      const count = Number(lost[1]);
      this.info.lostMarkers++;
      this.info.lostEvents += count;
      this.info.consumed++;
      this.sink({ kind: 'lost', cpu: Number(m[4]), count, ...(ts.raw ? { after: ts } : {}), src: { file: this.file, line: lineNo } });
      return true;
    }
    const site = splitProbeSite(payload);
    if (site) payload = site.rest;
    const src = { file: this.file, line: lineNo };
    const ev = m[6] === undefined ? new ParsedEvent(ts, pid, comm, name, payload, src) : new ExtraFieldsEvent(ts, pid, comm, name, payload, src, { '@period': m[6] });
    if (m[4] !== undefined) ev.cpu = Number(m[4]);
    if (tgid !== undefined) ev.tgid = tgid;
    if (group !== undefined) ev.group = group;
    if (site) ev.probe = formatOrderKretprobe(site.probe);
    this.pending = ev;
    this.frames = [];
    this.info.events++;
    return true;
  }

  private flush(): void {
    const ev = this.pending;
    if (!ev) return;
    if (this.frames && this.frames.length) ev.stack = this.frames;
    this.pending = undefined;
    this.frames = undefined;
    this.sink(ev);
  }

  pushUnreadable(text: string, lineNo: number, reason: string): void {
    this.unreadable.pushed(text, lineNo, reason);
  }
}

/** One callchain frame: `ffffffff8104f45a native_write_msr_safe ([kernel.kallsyms])`, `aaaac1469a1c main+0x50 (/bin/x)`. */
function frame(addr: string, symText: string, dso: string | undefined): StackFrame {
  const sym = symText.trim();
  const off = /^(\S+)\+0x([0-9a-fA-F]+)$/.exec(sym);
  const f: StackFrame = off ? { symbol: off[1], offset: parseInt(off[2], 16) } : { symbol: sym || '[unknown]' };
  if (dso !== undefined) {
    const bracket = /^\[(.*)\]$/.exec(dso);
    if (!bracket) f.module = dso;
    else if (!/^(?:kernel\.kallsyms|guest\.kernel\.kallsyms|unknown)$/.test(bracket[1]) && !bracket[1].includes('kernel.kallsyms')) f.module = bracket[1];
  }
  f.address = addr;
  return f;
}


/** How sure we are that these first lines are `perf script` output (0: not at all). */
export function sniffPerfScript(lines: readonly string[]): number {
  let samples = 0;
  let frames = 0;
  let markers = 0;
  let others = 0;
  for (const l of lines) {
    if (/^# (?:========|perf version|captured on|cmdline :|event : )/.test(l)) markers += 5;
    else if (/^\t\s*[0-9a-fA-F]+ \S/.test(l) || splitFrame(l, false)) frames++;
    else if (SAMPLE.test(l) && !FTRACE_EVENT_SHAPE.test(l)) samples++;
    else if (/^ +[0-9a-fA-F]+ \S/.test(l)) frames++;
    else if (l.trim() !== '' && !l.startsWith('#')) others++;
  }
  // Prose that happens to hold a `word 12 word:` line is not perf output.
  if (samples === 0 || samples * 2 < others) return 0;
  return 3 * samples + frames + markers;
}
