/**
 * ftrace text: what users copy from /sys/kernel/tracing/trace, trace_pipe and
 * per_cpu/cpuN/trace (also `trace-cmd show`, and atrace text that is the same
 * format with a `TRACE:` preamble).
 *
 *   TASK-PID  [(TGID)]  [CPU]  [FLAGS]  TIMESTAMP: EVENT: PAYLOAD
 *   kvmnotif-147     [001] .....     6.667004: mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0x...
 *
 * and the latency format (`latency-format` option), detected from its header
 * or from the line shape:
 *
 *   CMD-PID  CPU FLAGS  TIMEus MARK: EVENT: PAYLOAD
 *     <idle>-0         0d.h3   12us+: hrtimer_cancel: hrtimer=...
 */
import type { ContextFlags, ParseInfo, PayloadKeys, ProbeSite, SourceLocation, Timestamp, StackFrame } from '../src/model/event';
import { emptyParseInfo } from '../src/model/event';
import { EventRec, RecordKind } from '../src/model/records';
import { decodeFlagsCached } from '../src/model/flags';
import { isTimestampText, parseTimestamp, timestampDigits, timestampFromMicros, timestampFromParts } from '../src/model/time';
import { ByteKey, ByteTable, ChunkView } from './byte-table';
import { readTokens, type KeyLayout } from './payload-tokens';
import { exactInts, ParsedEvent, parseFrame, splitEventBody, splitProbeSite } from './common';
import { UnreadableLines } from './shared-text';
import type { EventFilter, ParserOptions, RecordSink, TraceParser } from './types';

/**
 * The shape of an ftrace event line (`comm-pid [(tgid)] [cpu] [flags] ts: `), without reading it:
 * what the sniffers test (ftrace's, and perf script's to leave ftrace lines alone). Linear time.
 */
export const FTRACE_EVENT_SHAPE = /^\s*\S.*?-\d+\s+(?:\(\s*(?:\d+|-+)\s*\)\s+)?\[\d+\]\s+(?:\S+\s+)?\d+(?:\.\d+)?:\s/;

/** comm-pid, optional (tgid), [cpu], optional flags, timestamp, then the event text. */
const EVENT_LINE = /^\s*(\S.*?)-(\d+)\s+(?:\(\s*(\d+|-+)\s*\)\s+)?\[(\d+)\]\s+(?:(\S+)\s+)?(\d+(?:\.\d+)?):\s(.*)$/;
/** Latency format: comm-pid, cpu immediately followed by flags, time in µs with a delay mark. */
const LATENCY_LINE = /^\s*(\S.*?)-(\d+)\s+(\d+)([dDbX.][^\s]{3,})\s+(\d+)us(.):\s(.*)$/;
const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]\s*$/;
const BUFFER_STARTED = /^#{5} CPU (\d+) buffer started #{4}\s*$/;
const ENTRIES = /entries-in-buffer\/entries-written:\s*(\d+)\/(\d+)\s+#P:(\d+)/;
const DMESG = /^\[\s*\d+\.\d+\]\s/;
/** How many non-event lines may follow an event as a continuation of its payload (multi-line trace_marker writes). */
const MAX_CONTINUATION = 16;
/**
 * The only event whose payload may run on over later lines: a trace_marker
 * write (ftrace names it by the function that wrote it) prints embedded
 * newlines raw. A line after any other event is not part of it.
 */
const MARKER_EVENT = 'tracing_mark_write';
/** Events held back waiting for a possible stack record. */
const MAX_HELD = 256;
const BRACKET = 0x5b;
interface NameEntry {
  /** The name's bytes. */
  key: ByteKey;
  name: string;
  /** Wanted as a plain event (a kprobe line asks again with its probe site). */
  wanted: boolean;
  /** The probe sites seen after this name, most used first (see siteAt), and the rest. */
  recent: SiteEntry[];
  more: ByteTable<SiteEntry> | undefined;
  /** The key lists of its kprobe payloads (see readTokens). */
  layouts: KeyLayout[];
}
interface SiteEntry {
  /** The site's bytes, `(` to `)`. */
  key: ByteKey;
  /** undefined when the parenthesis is not a probe site (`(alloc_bprm+0x32) call_site=...`). */
  probe: ProbeSite | undefined;
  wanted: boolean;
}
/** Names kept in the parser's `recentNames` list (compared in place before the table is asked). */
const RECENT_NAMES = 8;
/** Sites kept in a name's `recent` list (compared in place, without first finding the `)`). */
const RECENT_SITES = 8;
const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

/** Where continuation lines of a filtered-out trace_marker write go. */
const DISCARD = { payload: '' };

export class FtraceParser implements TraceParser {
  readonly format = 'ftrace';
  readonly info: ParseInfo = emptyParseInfo();
  private readonly file: string;
  private readonly sink: RecordSink;
  private readonly unreadable: UnreadableLines;
  private readonly filter: EventFilter | undefined;
  /**
   * Events not yet emitted, in file order. An event is held until the next
   * line on its CPU shows whether a `<stack trace>` belongs to it; the queue
   * is bounded (a stack record follows its event within a few lines).
   */
  private readonly queue: ParsedEvent[] = [];
  private queueHead = 0;
  /** The latest event per CPU that a stack record could still attach to. */
  private readonly openByCpu: Array<ParsedEvent | undefined> = [];
  /** Frames of the stack record being read, and where they go. */
  private stackFrames: StackFrame[] | undefined;
  /** Last record an unparseable line may continue. */
  private continuable: { payload: string } | undefined;
  private continuations = 0;
  private inHeader = true;
  private latency = false;
  /** Last timestamp per CPU (parsed lazily), for lost-event markers. */
  private readonly lastTsByCpu: Array<Timestamp | string | undefined> = [];
  /** The last timestamp per CPU when it came through the fast lane (ns from parts, and decimals printed). */
  private readonly lastTsSecByCpu: number[] = [];
  private readonly lastTsNsecByCpu: number[] = [];
  private readonly lastTsDigitsByCpu: number[] = [];
  /** Event names by their bytes. */
  private readonly names = new ByteTable<NameEntry>(4096);
  private readonly view = new ChunkView();
  private readonly flagsByKey = new Map<number, ContextFlags | null>();
  private lastFlagsKey = -1;
  private lastFlags: ContextFlags | undefined;
  private readonly commByPid = new Map<number, string>();
  /** Task of the last filtered-out event per CPU: a stack record after it is dropped quietly. */
  private readonly skippedPidByCpu: Array<number | undefined> = [];
  /** Ring-buffer entries the header(s) counted (entries-in-buffer), and where the first count was. */
  private claimedEntries = 0;
  private claimedAt: SourceLocation | undefined;
  /** `<stack trace>` and `<user stack trace>` records read: each is a ring-buffer entry, as each event is. */
  private stackRecords = 0;
  private ended = false;

  constructor(opts: ParserOptions) {
    this.file = opts.file;
    this.sink = opts.sink;
    this.filter = opts.filter;
    // An unreadable line ends a trace_marker payload: the next line is not its continuation.
    this.unreadable = new UnreadableLines(this.info, opts.sink, opts.file, () => {
      this.continuable = undefined;
    });
  }

  push(text: string, lineNo: number, terminated: boolean): void {
    this.info.lines++;
    const c0 = text.charCodeAt(0);
    // Stack frame lines: " => func" (trace-cmd: "=> func (addr)").
    if (this.stackFrames !== undefined) {
      const arrow = text.indexOf('=>');
      if (arrow >= 0 && arrow <= 2 && text.slice(0, arrow).trim() === '') {
        this.stackFrames.push(parseFrame(text.slice(arrow + 2)));
        this.info.consumed++;
        return;
      }
      this.stackFrames = undefined;
    }
    if (c0 === 35 /* # */) {
      this.headerLine(text, lineNo);
      return;
    }
    if (text.length === 0 || (c0 === 32 && isBlank(text))) {
      this.info.consumed++;
      return;
    }
    if (c0 === 67 /* C */ && text.startsWith('CPU:')) {
      const m = LOST.exec(text);
      if (m && exactInts(Number(m[1]), Number(m[2]))) {
        const cpu = Number(m[1]);
        const count = Number(m[2]);
        this.flushCpu(cpu);
        this.info.lostMarkers++;
        this.info.lostEvents += count;
        this.info.consumed++;
        const last = this.lastTsByCpu[cpu];
        const after = typeof last === 'string' ? parseTimestamp(last) : last
          ?? (this.lastTsDigitsByCpu[cpu] !== undefined ? timestampFromParts(this.lastTsSecByCpu[cpu], this.lastTsNsecByCpu[cpu], this.lastTsDigitsByCpu[cpu]) : undefined);
        this.sink({ kind: 'lost', cpu, count, ...(after ? { after } : {}), src: { file: this.file, line: lineNo } });
        this.continuable = undefined;
        return;
      }
    }
    if (!terminated && looksCut(text)) {
      // The final line has no newline and stops mid-structure: the capture was cut off here.
      this.unreadable.cutOff(text, lineNo);
      return;
    }
    if (this.eventLine(text, lineNo)) return;
    if (text.startsWith('TRACE:') && this.info.events === 0) {
      // atrace/systrace preamble before the ftrace header
      this.info.consumed++;
      return;
    }
    if (!terminated) {
      this.unreadable.cutOff(text, lineNo);
      return;
    }
    if (DMESG.test(text)) {
      this.unreadable.report(text, lineNo, 'kernel console (dmesg) line mixed into the trace');
      return;
    }
    if (this.continuable && this.continuations < MAX_CONTINUATION && !/^\s*\S+-\d+\s+(?:[([]|\d+\S{3,}\s+\d+us)/.test(text)) {
      // A trace_marker write with embedded newlines prints its later lines raw.
      if (this.continuable !== DISCARD) this.continuable.payload += '\n' + text;
      this.continuations++;
      this.info.continuationLines++;
      this.info.consumed++;
      return;
    }
    this.unreadable.report(text, lineNo, 'not an ftrace event line');
  }

  /**
   * The fast lane for big captures: read an event line straight from its
   * bytes into a scan record (src/model/records.ts); a filtered-out event is
   * accounted for without building any string, a wanted one is built from the
   * record's columns. Anything unusual goes through push() as text, so both
   * lanes give the same result.
   */
  pushBytes(buf: Buffer, start: number, end: number, lineNo: number): void {
    const rec = this.record;
    const kind = this.scanBytes(buf, start, end, rec, 0);
    if (kind === RecordKind.Skipped) this.pushSkipped(rec, 0, lineNo);
    else if (kind === RecordKind.Wanted) this.pushWanted(buf, rec, 0, lineNo, (this.scannedEntry as NameEntry).name, this.scannedFlags, this.scannedProbe, this.scannedKeys);
    else this.push(buf.toString('utf8', start, end), lineNo, true);
  }

  /** The fast lane's own scan record. */
  private readonly record = new Int32Array(EventRec.size);

  /**
   * What the fast lane makes of this line, decided from its bytes alone (a
   * scan worker asks this, and hands on only the lines that need parsing):
   * Skipped for a plain event line the filter does not want, Wanted for a
   * wanted one (their columns written into `rec` from `o`, as EventRec
   * says), Line for anything the fast lane does not take (nothing written).
   * Changes no parser state but the name caches, the scanned* fields and
   * the `[` search kept for the next line (see nextBracket).
   */
  scanBytes(b: Buffer, start: number, end: number, rec: Int32Array, o: number): RecordKind {
    if (this.filter === undefined || this.latency) return RecordKind.Line;
    return this.scan(b, start, end, rec, o);
  }

  /**
   * Read kprobe payloads' tokens while scanning (TraceEvent.tokens): a scan
   * worker does, and the main thread then reads fields without matching text.
   * On one thread it costs more than it saves (a JavaScript loop over the
   * payload's bytes takes more instructions than the text reader's regular
   * expressions), so the fast lane leaves it off.
   */
  scanTokens = false;

  /** The name, flags and probe site of the line scanBytes last found Wanted (objects, so not in the record). */
  private scannedEntry: NameEntry | undefined;
  private scannedProbe: ProbeSite | undefined;
  private scannedFlags: ContextFlags | undefined;
  private scannedKeys: PayloadKeys | undefined;

  /**
   * A header line as the scan worker sees it: the latency format's header
   * switches the fast lane off (the parser itself only looks inside the
   * header block; the worker is stricter, so it never skips a line the parser would read).
   */
  noteHeaderLine(text: string): void {
    if (/_------=> CPU#/.test(text)) this.latency = true;
  }

  /** A filtered-out event line, from its scan record (the fast lane's, or a scan worker's). */
  pushSkipped(rec: Int32Array, o: number, lineNo: number): void {
    const cpu = rec[o + EventRec.cpu];
    const pid = rec[o + EventRec.pid];
    const sec = rec[o + EventRec.sec];
    const nsec = rec[o + EventRec.nsec];
    const digits = rec[o + EventRec.digits];
    this.eventLineSeen();
    this.lastTsByCpu[cpu] = undefined;
    this.lastTsSecByCpu[cpu] = sec;
    this.lastTsNsecByCpu[cpu] = nsec;
    this.lastTsDigitsByCpu[cpu] = digits;
    this.filter!.skipped(cpu, pid, sec, nsec, digits, lineNo);
    this.skippedPidByCpu[cpu] = pid;
    if (this.openByCpu[cpu] !== undefined) this.flushCpu(cpu);
    // Not known to be a trace_marker write (those are wanted by the check): a line after it is not part of it.
    this.continuable = undefined;
  }

  /** What every event line read from its bytes does to the parser's state first. */
  private eventLineSeen(): void {
    this.info.lines++;
    this.info.events++;
    if (this.stackFrames !== undefined) this.stackFrames = undefined;
    this.inHeader = false;
    this.continuations = 0;
  }

  /** The event name of the line scanBytes last found Wanted (one string per distinct name). */
  scannedName(): string {
    return (this.scannedEntry as NameEntry).name;
  }

  /** Its flags column decoded (one shared object per distinct column), if it has one. */
  scannedContext(): ContextFlags | undefined {
    return this.scannedFlags;
  }

  /** The probe site of the line scanBytes last found Wanted (one shared, frozen object per distinct site), if any. */
  scannedSite(): ProbeSite | undefined {
    return this.scannedProbe;
  }

  /** The keys of the payload tokens of the line scanBytes last found Wanted, when it read them. */
  scannedPayloadKeys(): PayloadKeys | undefined {
    return this.scannedKeys;
  }

  /** That site's text, `(sym+off/size)` (for sending it to another thread once). */
  scannedSiteText(b: Buffer, rec: Int32Array, o: number): string {
    return b.toString('utf8', rec[o + EventRec.nameEnd] + 2, rec[o + EventRec.siteClose] + 1);
  }

  /**
   * A wanted event line from a scan worker's record: built exactly as the
   * fast lane builds it, without reading the columns again. Its name, flags
   * (decodeFlagsCached of the column), probe site (splitProbeSite of the site
   * text) and payload keys are those the worker sent once each.
   */
  pushScanned(b: Buffer, rec: Int32Array, o: number, lineNo: number, name: string, flags: ContextFlags | undefined, probe: ProbeSite | undefined, keys: PayloadKeys | undefined): void {
    this.pushWanted(b, rec, o, lineNo, name, flags, probe, keys);
  }

  /** A wanted event, built from the columns of its scan record (no second tokenising of the text). */
  private pushWanted(b: Buffer, rec: Int32Array, o: number, lineNo: number, name: string, flags: ContextFlags | undefined, probe: ProbeSite | undefined, keys: PayloadKeys | undefined): void {
    this.eventLineSeen();
    const cpu = rec[o + EventRec.cpu];
    const pid = rec[o + EventRec.pid];
    const end = rec[o + EventRec.end];
    const ts: Timestamp = { raw: b.toString('latin1', rec[o + EventRec.tsFrom], rec[o + EventRec.tsTo]), sec: rec[o + EventRec.sec], nsec: rec[o + EventRec.nsec], unit: 'seconds' };
    this.lastTsByCpu[cpu] = ts;
    this.lastTsDigitsByCpu[cpu] = undefined as unknown as number;
    this.skippedPidByCpu[cpu] = undefined;
    const n = rec[o + EventRec.nameEnd];
    // A kprobe's payload proper is what follows its site; other events' all that follows `name: `.
    const payload = probe !== undefined ? b.toString('utf8', rec[o + EventRec.restFrom], end) : n + 2 <= end ? b.toString('utf8', n + 2, end) : '';
    const ev = new ParsedEvent(ts, pid, this.commAt(b, rec[o + EventRec.comm], rec[o + EventRec.commEnd], pid), name, payload, { file: this.file, line: lineNo });
    ev.cpu = cpu;
    if (flags !== undefined) ev.ctx = flags;
    if (probe !== undefined) ev.probe = probe;
    if (keys !== undefined) {
      const n = keys.keys.length;
      const ends = new Array<number>(n);
      for (let t = 0; t < n; t++) ends[t] = rec[o + EventRec.ends + t];
      ev.tokens = { keys, ends, canonical: rec[o + EventRec.canonical] };
    }
    this.hold(ev, cpu);
    this.continuable = ev.name === MARKER_EVENT ? ev : undefined;
  }

  /** The buffer of the last search for `[`, where the latest search in it started, and what it found (see nextBracket). */
  private bracketBuf: Buffer | undefined;
  private bracketLast = 0;
  private bracketAt = -1;

  /**
   * The first `[` in `b` at or after `from`, when it is before `end` (the
   * line's end); else any answer at or past `end`, or -1. Buffer.indexOf
   * cannot stop at the line's end, so on lines without one it runs on into
   * the lines after: what it found is kept, and a later search in the same
   * buffer that starts at or after the latest, and not past what it found,
   * takes it again when it lies past its own line's end (that line has no
   * `[`) instead of reading the same bytes: a run of lines without `[`, such
   * as garbage after a trace, costs one pass, not one pass a line (200,000
   * such lines took 6 s). A kept answer inside the line is searched again, so
   * a buffer refilled since (the line loops reuse theirs) can only send a
   * line to the text lane (RecordKind.Line), which reads any line.
   */
  private nextBracket(b: Buffer, from: number, end: number): number {
    const at = this.bracketAt;
    const again = b === this.bracketBuf && from >= this.bracketLast && (at < 0 || (from <= at && at >= end));
    this.bracketLast = from;
    if (again) return at;
    this.bracketBuf = b;
    return (this.bracketAt = b.indexOf(BRACKET, from));
  }

  /** The fast lane's reading of a line's columns (see scanBytes). */
  private scan(b: Buffer, start: number, end: number, rec: Int32Array, o: number): RecordKind {
    let i = start;
    while (i < end && b[i] === 32) i++;
    if (i >= end || b[i] === 35 /* # */ || b[i] === 61 /* = */) return RecordKind.Line;
    // " [NNN] " : the CPU column
    let open = i;
    let cpu = -1;
    let j = 0;
    for (;;) {
      // memchr: a JS loop over the task name costs about 17 instructions a byte.
      open = this.nextBracket(b, open, end);
      if (open < 0 || open >= end) {
        open = end;
        break;
      }
      if (b[open - 1] === 32) {
        j = open + 1;
        let v = 0;
        let c = b[j];
        while (c >= 48 && c <= 57) {
          v = v * 10 + (c - 48);
          c = b[++j];
        }
        if (j > open + 1 && c === 93 && b[j + 1] === 32) {
          cpu = v;
          break;
        }
      }
      open++;
    }
    if (cpu < 0 || open >= end) return RecordKind.Line;
    // pid: digits before the spaces before the bracket; a TGID column `(...)` takes the text lane.
    let k = open - 1;
    while (k > i && b[k] === 32) k--;
    let pid = 0;
    let mul = 1;
    const pidEnd = k;
    while (k > i && b[k] >= 48 && b[k] <= 57) {
      pid += (b[k] - 48) * mul;
      mul *= 10;
      k--;
    }
    if (k === pidEnd || b[k] !== 45 /* - */ || k === i) return RecordKind.Line;
    // flags, then the timestamp `sec.frac:`
    let p = j + 2;
    while (p < end && b[p] === 32) p++;
    let q = p;
    while (q < end && b[q] !== 32) q++;
    let flagsFrom = -1;
    let flagsTo = -1;
    if (b[q - 1] !== 58 /* : */) {
      flagsFrom = p;
      flagsTo = q;
      p = q;
      while (p < end && b[p] === 32) p++;
      q = p;
      while (q < end && b[q] !== 32) q++;
      if (b[q - 1] !== 58) return RecordKind.Line;
    }
    let sec = 0;
    let r = p;
    while (r < q - 1 && b[r] >= 48 && b[r] <= 57) {
      sec = sec * 10 + (b[r] - 48);
      r++;
    }
    // Up to 9 digits of seconds fit a 32-bit record slot (31 years of uptime); longer ones take the text lane.
    if (r === p || b[r] !== 46 /* . */ || r - p > 9) return RecordKind.Line;
    r++;
    const fracFrom = r;
    let frac = 0;
    while (r < q - 1 && b[r] >= 48 && b[r] <= 57) {
      frac = frac * 10 + (b[r] - 48);
      r++;
    }
    const digits = r - fracFrom;
    if (r !== q - 1 || digits === 0 || digits > 9) return RecordKind.Line;
    const nsec = frac * POW10[9 - digits];
    // event name up to `: ` (the function tracer's `a <-b` takes the text lane)
    const nameFrom = q + 1;
    if (nameFrom >= end || b[nameFrom] === 60 /* < */) return RecordKind.Line;
    let n = nameFrom;
    while (n < end) {
      const c = b[n];
      if (c === 58 || c === 32) break;
      n++;
    }
    if (n === nameFrom || b[n] !== 58 || (n + 1 < end && b[n + 1] !== 32)) return RecordKind.Line;
    // The role of a kprobe line depends on the probed symbol in its `(sym+off/size)` site.
    const view = this.view.get(b);
    const entry = this.nameEntry(view, b, nameFrom, n);
    let probe: ProbeSite | undefined;
    let wanted: boolean;
    let siteClose = -1;
    if (n + 2 < end && b[n + 2] === 40 /* ( */) {
      const site = this.siteAt(view, b, n + 2, end, entry);
      probe = site.probe;
      wanted = site.wanted;
      if (probe !== undefined) siteClose = n + 1 + site.key.len;
    } else {
      wanted = entry.wanted;
    }
    let flags: ContextFlags | undefined;
    if (flagsFrom >= 0) {
      flags = this.flagsAt(b, flagsFrom, flagsTo);
      if (flags === undefined) return RecordKind.Line;
    }
    rec[o + EventRec.cpu] = cpu;
    rec[o + EventRec.pid] = pid;
    rec[o + EventRec.sec] = sec;
    rec[o + EventRec.nsec] = nsec;
    rec[o + EventRec.digits] = digits;
    if (!wanted) return RecordKind.Skipped;
    rec[o + EventRec.end] = end;
    rec[o + EventRec.comm] = i;
    rec[o + EventRec.commEnd] = k;
    rec[o + EventRec.flagsFrom] = flagsFrom;
    rec[o + EventRec.flagsTo] = flagsTo;
    rec[o + EventRec.tsFrom] = p;
    rec[o + EventRec.tsTo] = q - 1;
    rec[o + EventRec.nameFrom] = nameFrom;
    rec[o + EventRec.nameEnd] = n;
    rec[o + EventRec.siteClose] = siteClose;
    // `(site) rest`: the payload proper starts after the site and one space.
    const restFrom = siteClose < 0 ? -1 : siteClose + 1 < end && b[siteClose + 1] === 32 ? siteClose + 2 : siteClose + 1;
    rec[o + EventRec.restFrom] = restFrom;
    const keys = probe !== undefined && this.scanTokens ? readTokens(view, b, restFrom, end, entry.layouts, rec, o) : undefined;
    this.scannedKeys = keys;
    this.scannedFlags = flags;
    this.scannedEntry = entry;
    this.scannedProbe = probe;
    return RecordKind.Wanted;
  }

  /**
   * An event name and whether the filter wants it (as a tracepoint), looked
   * up by its bytes: among the most used names first (compared in place, most
   * differ in their first 4 bytes), then in the table of all; the first
   * sighting of each decodes and checks it.
   */
  private nameEntry(view: DataView, b: Buffer, from: number, to: number): NameEntry {
    const recent = this.recentNames;
    const len = to - from;
    for (let i = 0; i < recent.length; i++) {
      const e = recent[i];
      if (e.key.len === len && e.key.matches(view, b, from)) {
        if (i > 0) {
          recent[i] = recent[i - 1];
          recent[i - 1] = e;
        }
        return e;
      }
    }
    let e = this.names.get(view, b, from, to);
    if (e === undefined) {
      const name = b.toString('utf8', from, to);
      e = this.names.set(view, b, from, to, { key: new ByteKey(b, from, to), name, wanted: this.filter!.wants(name, undefined, undefined), recent: [], more: undefined, layouts: [] });
    }
    if (recent.length < RECENT_NAMES) recent.push(e);
    else recent[RECENT_NAMES - 1] = e;
    return e;
  }

  /** The names seen most, most used first (see nameEntry). */
  private readonly recentNames: NameEntry[] = [];

  /**
   * A kprobe line's site `(sym+off/size)` at `from` (parsed by splitProbeSite,
   * so both lanes agree) and whether the filter wants the event with it. The
   * sites seen after this name are compared in place (a site's bytes hold one
   * `)`, at their end, so bytes equal to a site's end where the line's first
   * `)` is); a new one is decoded once. A line cut before its `)` has no site.
   */
  private siteAt(view: DataView, b: Buffer, from: number, end: number, name: NameEntry): SiteEntry {
    const recent = name.recent;
    for (let i = 0; i < recent.length; i++) {
      const e = recent[i];
      if (from + e.key.len <= end && e.key.matches(view, b, from)) {
        if (i > 0) {
          // Most used first: a hit moves one place up.
          recent[i] = recent[i - 1];
          recent[i - 1] = e;
        }
        return e;
      }
    }
    let close = from + 1;
    while (close < end && b[close] !== 41 /* ) */) close++;
    if (close >= end) return { key: new ByteKey(b, from, from), probe: undefined, wanted: this.filter!.wants(name.name, undefined, undefined) };
    const known = name.more?.get(view, b, from, close + 1);
    if (known !== undefined) return known;
    const probe = splitProbeSite(b.toString('utf8', from, close + 1))?.probe;
    const e: SiteEntry = { key: new ByteKey(b, from, close + 1), probe, wanted: this.filter!.wants(name.name, undefined, probe) };
    if (recent.length < RECENT_SITES) recent.push(e);
    else (name.more ??= new ByteTable(4096)).set(view, b, from, close + 1, e);
    return e;
  }

  /**
   * The flags column decoded (undefined when decodeFlags rejects it), cached
   * by its bytes: up to 6 bytes and their count make an exact key.
   */
  private flagsAt(b: Buffer, from: number, to: number): ContextFlags | undefined {
    const len = to - from;
    if (len > 6) return decodeFlagsCached(b.toString('utf8', from, to));
    let key = 0;
    for (let x = from; x < to; x++) key = key * 256 + b[x];
    key = key * 8 + len;
    if (key === this.lastFlagsKey) return this.lastFlags;
    let f = this.flagsByKey.get(key);
    if (f === undefined) {
      f = decodeFlagsCached(b.toString('utf8', from, to)) ?? null;
      this.flagsByKey.set(key, f);
    }
    if (f === null) return undefined;
    this.lastFlagsKey = key;
    this.lastFlags = f;
    return f;
  }

  /**
   * The task name, reusing the last one seen for this pid when the bytes are
   * the same ASCII (a task's name seldom changes; decoding it is the costly part).
   */
  private commAt(b: Buffer, from: number, to: number, pid: number): string {
    const last = this.commByPid.get(pid);
    if (last !== undefined && last.length === to - from) {
      let x = 0;
      while (x < last.length) {
        const c = b[from + x];
        if (c >= 128 || last.charCodeAt(x) !== c) break;
        x++;
      }
      if (x === last.length) return last;
    }
    const comm = b.toString('utf8', from, to);
    if (this.commByPid.size >= 65536) this.commByPid.clear();
    this.commByPid.set(pid, comm);
    return comm;
  }

  end(): void {
    this.openByCpu.length = 0;
    this.drain(true);
    if (this.ended) return;
    this.ended = true;
    // Fewer entries than the header counted: lines were cut or removed after the capture.
    // An unreadable line may have been an entry: counting it as one keeps the claim cautious.
    const found = this.info.events + this.stackRecords + this.info.unreadable;
    if (this.claimedAt !== undefined && found < this.claimedEntries) {
      this.sink({ kind: 'missing-entries', claimed: this.claimedEntries, found, src: this.claimedAt });
    }
  }

  private headerLine(text: string, lineNo: number): void {
    this.info.consumed++;
    this.continuable = undefined;
    const started = BUFFER_STARTED.exec(text);
    if (started && exactInts(Number(started[1]))) {
      const cpu = Number(started[1]);
      this.flushCpu(cpu);
      this.sink({ kind: 'buffer-started', cpu, src: { file: this.file, line: lineNo } });
      return;
    }
    if (text.startsWith('# tracer:')) {
      this.inHeader = true;
      this.sink({ kind: 'header', tracer: text.slice(9).trim(), src: { file: this.file, line: lineNo } });
      return;
    }
    const entries = ENTRIES.exec(text);
    if (entries && exactInts(Number(entries[1]), Number(entries[2]), Number(entries[3]))) {
      const src = { file: this.file, line: lineNo };
      this.claimedEntries += Number(entries[1]);
      this.claimedAt ??= src;
      this.sink({
        kind: 'header',
        entriesInBuffer: Number(entries[1]),
        entriesWritten: Number(entries[2]),
        cpus: Number(entries[3]),
        src,
      });
      return;
    }
    if (this.inHeader && /_------=> CPU#/.test(text)) {
      this.latency = true;
      this.sink({ kind: 'header', latencyFormat: true, src: { file: this.file, line: lineNo } });
      return;
    }
    if (this.inHeader && /TASK-PID/.test(text)) {
      this.sink({
        kind: 'header',
        hasFlagsColumn: /\|\|\|\|/.test(text),
        hasTgidColumn: /TGID/.test(text),
        src: { file: this.file, line: lineNo },
      });
    }
  }

  private eventLine(text: string, lineNo: number): boolean {
    let comm: string, pid: number, tgid: number | undefined, cpu: number, flagsRaw: string | undefined;
    let ts: Timestamp | undefined;
    let tsRaw: string;
    let body: string;
    const h = HEAD;
    if (!this.latency && tokenizeEventLine(text, h)) {
      comm = h.comm;
      pid = h.pid;
      tgid = h.tgid;
      cpu = h.cpu;
      flagsRaw = h.flags;
      tsRaw = h.ts;
      body = h.body;
    } else {
      const m = this.latency ? undefined : EVENT_LINE.exec(text);
      if (m) {
        comm = m[1];
        pid = Number(m[2]);
        if (m[3] !== undefined && m[3].charCodeAt(0) !== 45 /* - */) tgid = Number(m[3]);
        cpu = Number(m[4]);
        flagsRaw = m[5];
        tsRaw = m[6];
        body = m[7];
      } else {
        const l = LATENCY_LINE.exec(text);
        if (!l) return false;
        comm = l[1];
        pid = Number(l[2]);
        cpu = Number(l[3]);
        flagsRaw = l[4];
        tsRaw = `${l[5]}us`;
        ts = timestampFromMicros(tsRaw, l[5]);
        if (ts === undefined) return false;
        body = l[7];
      }
    }
    if (comm.length === 0 || (ts === undefined && !isTimestampText(tsRaw)) || !exactInts(pid, cpu, tgid, ts?.sec)) return false;
    const ctx = flagsRaw === undefined ? undefined : decodeFlagsCached(flagsRaw);
    if (flagsRaw !== undefined && ctx === undefined) return false;
    this.inHeader = false;
    this.lastTsByCpu[cpu] = ts ?? tsRaw;
    this.lastTsDigitsByCpu[cpu] = undefined as unknown as number;
    // <stack trace> / <user stack trace> records attach to the event before them.
    if (body.charCodeAt(0) === 60 /* < */) {
      const user = body.startsWith('<user stack trace>');
      if (user || body.startsWith('<stack trace>')) {
        this.info.consumed++;
        this.stackRecords++;
        const frames: StackFrame[] = [];
        const target = this.openByCpu[cpu];
        if (target && target.pid === pid) {
          if (user) target.userStack = frames;
          else target.stack = frames;
        } else if (this.skippedPidByCpu[cpu] === pid) {
          // The event it belongs to was filtered out: read the frames, keep nothing.
        } else {
          // Nothing to attach to (the event was before the capture began): frames are read and counted, then dropped.
          this.info.orphanStacks++;
        }
        this.stackFrames = frames;
        this.continuable = undefined;
        return true;
      }
    }
    const split = splitEventBody(body);
    if (!split) return false;
    if (this.filter && !this.filter.wants(split.name, undefined, split.probe)) {
      const t = ts ?? parseTimestamp(tsRaw);
      if (t === undefined) return false;
      this.filter.skipped(cpu, pid, t.sec, t.nsec, timestampDigits(t), lineNo);
      this.info.events++;
      this.skippedPidByCpu[cpu] = pid;
      if (this.openByCpu[cpu] !== undefined) this.flushCpu(cpu);
      this.continuable = split.name === MARKER_EVENT ? DISCARD : undefined;
      this.continuations = 0;
      return true;
    }
    if (ts === undefined) ts = parseTimestamp(tsRaw);
    if (ts === undefined) return false;
    this.skippedPidByCpu[cpu] = undefined;
    const ev = new ParsedEvent(ts, pid, comm, split.name, split.payload, { file: this.file, line: lineNo });
    ev.cpu = cpu;
    if (tgid !== undefined) ev.tgid = tgid;
    if (ctx !== undefined) ev.ctx = ctx;
    if (split.probe) ev.probe = split.probe;
    if (split.fields) ev.fields = split.fields;
    this.hold(ev, cpu);
    this.info.events++;
    this.continuable = ev.name === MARKER_EVENT ? ev : undefined;
    this.continuations = 0;
    return true;
  }

  /** Queue an event; the previous event on this CPU can no longer receive a stack. */
  private hold(ev: ParsedEvent, cpu: number): void {
    this.openByCpu[cpu] = ev;
    this.queue.push(ev);
    this.drain(false);
  }

  /** Close the CPU's open event (a marker or header line came between it and any stack). */
  private flushCpu(cpu: number): void {
    this.openByCpu[cpu] = undefined;
    this.drain(false);
  }

  /** Emit queued events from the head while they are closed (or the queue is over its bound). */
  private drain(all: boolean): void {
    const q = this.queue;
    while (this.queueHead < q.length) {
      const ev = q[this.queueHead];
      const open = this.openByCpu[ev.cpu as number] === ev;
      if (open && !all && q.length - this.queueHead <= MAX_HELD) break;
      if (open) this.openByCpu[ev.cpu as number] = undefined;
      this.sink(ev);
      this.queueHead++;
    }
    if (this.queueHead > 1024 || this.queueHead === q.length) {
      q.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  pushUnreadable(text: string, lineNo: number, reason: string): void {
    this.unreadable.pushed(text, lineNo, reason);
  }
}

/** The columns of an ftrace event line, filled in place by tokenizeEventLine. */
interface EventHead {
  comm: string;
  pid: number;
  tgid: number | undefined;
  cpu: number;
  flags: string | undefined;
  ts: string;
  body: string;
}

const HEAD: EventHead = { comm: '', pid: 0, tgid: undefined, cpu: 0, flags: undefined, ts: '', body: '' };

/**
 * The hot path: split `comm-pid [(tgid)] [cpu] [flags] ts: body` with indexOf
 * and char codes, no regular expression. Returns false for anything unusual;
 * the caller then tries EVENT_LINE, which accepts the same lines more slowly.
 */
function tokenizeEventLine(text: string, h: EventHead): boolean {
  const len = text.length;
  let open = text.indexOf(' [');
  let cpu = -1;
  let afterCpu = -1;
  while (open >= 0) {
    let j = open + 2;
    let v = 0;
    let c = text.charCodeAt(j);
    while (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      c = text.charCodeAt(++j);
    }
    if (j > open + 2 && c === 93 /* ] */ && text.charCodeAt(j + 1) === 32) {
      cpu = v;
      afterCpu = j + 2;
      break;
    }
    open = text.indexOf(' [', open + 1);
  }
  if (cpu < 0) return false;
  // Left of the CPU column: comm-pid, maybe followed by a TGID column "(  77)" or "(-----)".
  let left = open;
  while (left > 0 && text.charCodeAt(left - 1) === 32) left--;
  let tgid: number | undefined;
  if (text.charCodeAt(left - 1) === 41 /* ) */) {
    const paren = text.lastIndexOf('(', left - 1);
    if (paren < 0) return false;
    const inner = text.slice(paren + 1, left - 1).trim();
    if (inner.length === 0) return false;
    if (inner.charCodeAt(0) !== 45 /* - */) {
      const n = Number(inner);
      if (!Number.isInteger(n)) return false;
      tgid = n;
    } else if (!/^-+$/.test(inner)) return false;
    left = paren;
    while (left > 0 && text.charCodeAt(left - 1) === 32) left--;
  }
  const dash = text.lastIndexOf('-', left - 1);
  if (dash < 0 || dash === left - 1) return false;
  let pid = 0;
  for (let k = dash + 1; k < left; k++) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) return false;
    pid = pid * 10 + (c - 48);
  }
  let commStart = 0;
  while (commStart < dash && text.charCodeAt(commStart) === 32) commStart++;
  if (commStart === dash) return false;
  // Right of the CPU column: [flags] timestamp: body
  let i = afterCpu;
  while (i < len && text.charCodeAt(i) === 32) i++;
  let sp = text.indexOf(' ', i);
  if (sp < 0) return false;
  let flags: string | undefined;
  if (text.charCodeAt(sp - 1) !== 58 /* : */) {
    flags = text.slice(i, sp);
    i = sp;
    while (i < len && text.charCodeAt(i) === 32) i++;
    sp = text.indexOf(' ', i);
    if (sp < 0) {
      if (text.charCodeAt(len - 1) !== 58) return false;
      sp = len;
    }
    if (text.charCodeAt(sp - 1) !== 58) return false;
  }
  h.comm = text.slice(commStart, dash);
  h.pid = pid;
  h.tgid = tgid;
  h.cpu = cpu;
  h.flags = flags;
  h.ts = text.slice(i, sp - 1);
  h.body = sp + 1 <= len ? text.slice(sp + 1) : '';
  return true;
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9) return false;
  }
  return true;
}

/**
 * A final line without newline is fine when complete; it is cut when it ends
 * inside a probe site `(sym+0x0/0x1`, right after `key=`, or inside a `"..."`.
 */
function looksCut(text: string): boolean {
  const open = text.lastIndexOf('(');
  if (open >= 0 && text.indexOf(')', open) < 0) return true;
  if (text.endsWith('=') || text.endsWith(': ') || text.endsWith(':')) return true;
  let quotes = 0;
  for (let i = text.indexOf('="'); i >= 0 && i < text.length; i++) if (text.charCodeAt(i) === 34) quotes++;
  return quotes % 2 === 1;
}
