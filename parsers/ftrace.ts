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
import type { ContextFlags, ParseInfo, ProbeSite, SourceLocation, Timestamp, StackFrame } from '../src/model/event';
import { emptyParseInfo } from '../src/model/event';
import { decodeFlagsCached } from '../src/model/flags';
import { isTimestampText, parseTimestamp, timestampDigits, timestampFromMicros, timestampFromParts } from '../src/model/time';
import { exactInts, ParsedEvent, parseFrame, splitEventBody, splitProbeSite } from './common';
import type { EventFilter, ParserOptions, RecordSink, TraceParser } from './types';

/** comm-pid, optional (tgid), [cpu], optional flags, timestamp, then the event text. */
const EVENT_LINE = /^\s*(.*?)-(\d+)\s+(?:\(\s*(\d+|-+)\s*\)\s+)?\[(\d+)\]\s+(?:(\S+)\s+)?(\d+(?:\.\d+)?):\s(.*)$/;
/** Latency format: comm-pid, cpu immediately followed by flags, time in µs with a delay mark. */
const LATENCY_LINE = /^\s*(.*?)-(\d+)\s+(\d+)([dDbX.][^\s]{3,})\s+(\d+)us(.):\s(.*)$/;
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
/** scanBytes results. */
export const SCAN_OTHER = 0;
export const SCAN_SKIP = 1;
export const SCAN_WANTED = 2;
/** Doubles a wanted line's columns take in a scan worker's records (writeScanned, pushScanned). */
export const SCANNED_SLOTS = 16;

interface NameEntry {
  /** Second hash of the name's bytes. */
  h2: number;
  latin1: string;
  utf8: string;
  name: string;
  /** Wanted as a plain event (a kprobe line asks again with its probe site). */
  wanted: boolean;
}
interface SiteEntry {
  s2: number;
  /** Bytes from the name's end to the site's `)` (negated, to the line's end, for a site without one). */
  len: number;
  name: NameEntry;
  /** undefined when the parenthesis is not a probe site (`(alloc_bprm+0x32) call_site=...`). */
  probe: ProbeSite | undefined;
  wanted: boolean;
}
const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

/** Where continuation lines of a filtered-out trace_marker write go. */
const DISCARD = { payload: '' };

export class FtraceParser implements TraceParser {
  readonly format = 'ftrace';
  readonly info: ParseInfo = emptyParseInfo();
  private readonly file: string;
  private readonly sink: RecordSink;
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
  private readonly names = new Map<number, NameEntry>();
  private readonly sites = new Map<number, SiteEntry>();
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
      this.info.truncated = true;
      this.unreadable(text, lineNo, 'the file ends in the middle of this line (truncated capture?)');
      return;
    }
    if (this.eventLine(text, lineNo)) return;
    if (text.startsWith('TRACE:') && this.info.events === 0) {
      // atrace/systrace preamble before the ftrace header
      this.info.consumed++;
      return;
    }
    if (!terminated) {
      this.info.truncated = true;
      this.unreadable(text, lineNo, 'the file ends in the middle of this line (truncated capture?)');
      return;
    }
    if (DMESG.test(text)) {
      this.unreadable(text, lineNo, 'kernel console (dmesg) line mixed into the trace');
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
    this.unreadable(text, lineNo, 'not an ftrace event line');
  }

  /**
   * The fast lane for big captures: read an event line straight from the bytes
   * and, when the consumer does not want the event, account for it without
   * building any string. Anything unusual, and every wanted event, goes through
   * push() as text, so both lanes give the same result.
   */
  pushBytes(buf: Buffer, start: number, end: number, lineNo: number): void {
    if (this.filter === undefined || this.latency || !this.fromBytes(buf, start, end, lineNo)) {
      this.push(buf.toString('utf8', start, end), lineNo, true);
    }
  }

  /**
   * What the fast lane would do with this line, decided from its bytes alone
   * (a scan worker asks this, and hands on only the lines that need parsing):
   * SCAN_SKIP for a plain event line the filter does not want (its columns are
   * then in `scanned`), SCAN_WANTED for a wanted one, SCAN_OTHER for anything
   * the fast lane does not take. Changes no parser state but the name caches.
   */
  scanBytes(b: Buffer, start: number, end: number): number {
    if (this.filter === undefined || this.latency) return SCAN_OTHER;
    return this.scan(b, start, end);
  }

  /** Columns of the last line scanBytes (or the fast lane) read. */
  readonly scanned = { cpu: 0, pid: 0, sec: 0, nsec: 0, digits: 0 };
  /** Where the last scan found each column (byte offsets), for building a wanted event. */
  private readonly at = {
    comm: 0, commEnd: 0, flagsFrom: -1, flagsTo: -1, tsFrom: 0, tsTo: 0, nameFrom: 0, nameEnd: 0,
    /** The name's two hashes (see nameEntry). */
    h: 0, h2: 0,
    /** With a probe site: where its `)` is, and where the payload after it starts (else -1). */
    siteClose: -1, restFrom: -1,
  };
  private scannedEntry: NameEntry | undefined;
  private scannedProbe: ProbeSite | undefined;
  private scannedFlags: ContextFlags | undefined;

  /**
   * A header line as the scan worker sees it: the latency format's header
   * switches the fast lane off (the parser itself only looks inside the
   * header block; the worker is stricter, so it never skips a line the parser would read).
   */
  noteHeaderLine(text: string): void {
    if (/_------=> CPU#/.test(text)) this.latency = true;
  }

  /**
   * A filtered-out event line, accounted for exactly as the fast lane does
   * (also fed directly with a scan worker's columns).
   */
  pushSkipped(cpu: number, pid: number, sec: number, nsec: number, digits: number, lineNo: number): void {
    this.info.lines++;
    if (this.stackFrames !== undefined) this.stackFrames = undefined;
    this.inHeader = false;
    this.info.events++;
    this.continuations = 0;
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

  /** Reads a plain event line from its bytes; returns false (having changed nothing) for anything else. */
  private fromBytes(b: Buffer, start: number, end: number, lineNo: number): boolean {
    const kind = this.scan(b, start, end);
    if (kind === SCAN_OTHER) return false;
    const c = this.scanned;
    if (kind === SCAN_SKIP) {
      this.pushSkipped(c.cpu, c.pid, c.sec, c.nsec, c.digits, lineNo);
      return true;
    }
    this.pushWanted(b, end, lineNo);
    return true;
  }

  /**
   * Write the columns of the line scanBytes just found SCAN_WANTED into a
   * scan worker's records (SCANNED_SLOTS doubles from `o`); `siteId` names its
   * probe site (-1: none), whose text siteText() gives.
   */
  writeScanned(rec: Float64Array, o: number, siteId: number): void {
    const c = this.scanned;
    const at = this.at;
    rec[o] = c.cpu;
    rec[o + 1] = c.pid;
    rec[o + 2] = c.sec;
    rec[o + 3] = c.nsec;
    rec[o + 4] = at.comm;
    rec[o + 5] = at.commEnd;
    rec[o + 6] = at.flagsFrom;
    rec[o + 7] = at.flagsTo;
    rec[o + 8] = at.tsFrom;
    rec[o + 9] = at.tsTo;
    rec[o + 10] = at.nameFrom;
    rec[o + 11] = at.nameEnd;
    rec[o + 12] = at.h;
    rec[o + 13] = at.h2;
    rec[o + 14] = at.restFrom;
    rec[o + 15] = siteId;
  }

  /** The probe site of the line scanBytes just found SCAN_WANTED (one shared, frozen object per distinct site), if any. */
  scannedSite(): ProbeSite | undefined {
    return this.scannedProbe;
  }

  /** That site's text, `(sym+off/size)` (for sending it to another thread once). */
  scannedSiteText(b: Buffer): string {
    return b.toString('utf8', this.at.nameEnd + 2, this.at.siteClose + 1);
  }

  /**
   * A wanted event line whose columns a scan worker read (writeScanned):
   * built exactly as the fast lane builds it, without reading the columns again.
   * `probe` is its probe site (splitProbeSite of the site text the worker sent).
   */
  pushScanned(b: Buffer, end: number, lineNo: number, rec: Float64Array, o: number, probe: ProbeSite | undefined): void {
    const c = this.scanned;
    const at = this.at;
    c.cpu = rec[o];
    c.pid = rec[o + 1];
    c.sec = rec[o + 2];
    c.nsec = rec[o + 3];
    at.comm = rec[o + 4];
    at.commEnd = rec[o + 5];
    at.flagsFrom = rec[o + 6];
    at.flagsTo = rec[o + 7];
    this.scannedFlags = at.flagsFrom >= 0 ? this.flagsAt(b, at.flagsFrom, at.flagsTo) : undefined;
    at.tsFrom = rec[o + 8];
    at.tsTo = rec[o + 9];
    at.nameFrom = rec[o + 10];
    at.nameEnd = rec[o + 11];
    this.scannedEntry = this.nameEntry(b, at.nameFrom, at.nameEnd, rec[o + 12], rec[o + 13]);
    at.restFrom = rec[o + 14];
    this.scannedProbe = probe;
    this.pushWanted(b, end, lineNo);
  }

  /** A wanted event, built from the columns of the last scan (no second tokenising of the text). */
  private pushWanted(b: Buffer, end: number, lineNo: number): void {
    const c = this.scanned;
    this.info.lines++;
    if (this.stackFrames !== undefined) this.stackFrames = undefined;
    this.inHeader = false;
    this.info.events++;
    this.continuations = 0;
    const at = this.at;
    const cpu = c.cpu;
    const ts: Timestamp = { raw: b.toString('latin1', at.tsFrom, at.tsTo), sec: c.sec, nsec: c.nsec, unit: 'seconds' };
    this.lastTsByCpu[cpu] = ts;
    this.lastTsDigitsByCpu[cpu] = undefined as unknown as number;
    this.skippedPidByCpu[cpu] = undefined;
    const n = at.nameEnd;
    // A kprobe's payload proper is what follows its site; other events' all that follows `name: `.
    const payload = this.scannedProbe !== undefined ? b.toString('utf8', at.restFrom, end) : n + 2 <= end ? b.toString('utf8', n + 2, end) : '';
    const ev = new ParsedEvent(ts, c.pid, this.commAt(b, at.comm, at.commEnd, c.pid), (this.scannedEntry as NameEntry).utf8, payload, { file: this.file, line: lineNo });
    ev.cpu = cpu;
    if (this.scannedFlags !== undefined) ev.ctx = this.scannedFlags;
    if (this.scannedProbe) ev.probe = this.scannedProbe;
    this.hold(ev, cpu);
    this.continuable = ev.name === MARKER_EVENT ? ev : undefined;
  }

  /** The fast lane's reading of a line's columns (see scanBytes). */
  private scan(b: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end && b[i] === 32) i++;
    if (i >= end || b[i] === 35 /* # */ || b[i] === 61 /* = */) return SCAN_OTHER;
    // " [NNN] " : the CPU column
    let open = i;
    let cpu = -1;
    let j = 0;
    for (;;) {
      // memchr: a JS loop over the task name costs about 17 instructions a byte.
      open = b.indexOf(BRACKET, open);
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
    if (cpu < 0 || open >= end) return SCAN_OTHER;
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
    if (k === pidEnd || b[k] !== 45 /* - */ || k === i) return SCAN_OTHER;
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
      if (b[q - 1] !== 58) return SCAN_OTHER;
    }
    let sec = 0;
    let r = p;
    while (r < q - 1 && b[r] >= 48 && b[r] <= 57) {
      sec = sec * 10 + (b[r] - 48);
      r++;
    }
    if (r === p || b[r] !== 46 /* . */ || r - p > 15) return SCAN_OTHER;
    r++;
    const fracFrom = r;
    let frac = 0;
    while (r < q - 1 && b[r] >= 48 && b[r] <= 57) {
      frac = frac * 10 + (b[r] - 48);
      r++;
    }
    const digits = r - fracFrom;
    if (r !== q - 1 || digits === 0 || digits > 9) return SCAN_OTHER;
    const nsec = frac * POW10[9 - digits];
    // event name up to `: ` (the function tracer's `a <-b` takes the text lane)
    const nameFrom = q + 1;
    if (nameFrom >= end || b[nameFrom] === 60 /* < */) return SCAN_OTHER;
    let n = nameFrom;
    let h = 0x811c9dc5;
    let h2 = 0x9747b28c;
    while (n < end) {
      const c = b[n];
      if (c === 58 || c === 32) break;
      h = Math.imul(h ^ c, 0x01000193);
      h2 = Math.imul(h2 + c, 0x5bd1e995) ^ (h2 >>> 15);
      n++;
    }
    if (n === nameFrom || b[n] !== 58 || (n + 1 < end && b[n + 1] !== 32)) return SCAN_OTHER;
    // The role of a kprobe line depends on the probed symbol in its `(sym+off/size)` site.
    let probe: ProbeSite | undefined;
    const entry = this.nameEntry(b, nameFrom, n, h, h2);
    let wanted: boolean;
    let siteClose = -1;
    if (n + 2 < end && b[n + 2] === 40 /* ( */) {
      // Hash the site's bytes up to its `)` (never inside a multi-byte character), with the name's.
      let x = n + 3;
      let s1 = h;
      let s2 = h2;
      while (x < end) {
        const c = b[x];
        if (c === 41 /* ) */) break;
        s1 = Math.imul(s1 ^ c, 0x01000193);
        s2 = Math.imul(s2 + c, 0x5bd1e995) ^ (s2 >>> 15);
        x++;
      }
      const site = this.siteEntry(b, n, x < end ? x : -1, end, s1, s2, entry);
      probe = site.probe;
      wanted = site.wanted;
      if (probe !== undefined) siteClose = x;
    } else {
      wanted = entry.wanted;
    }
    let flags: ContextFlags | undefined;
    if (flagsFrom >= 0) {
      flags = this.flagsAt(b, flagsFrom, flagsTo);
      if (flags === undefined) return SCAN_OTHER;
    }
    const c = this.scanned;
    c.cpu = cpu;
    c.pid = pid;
    c.sec = sec;
    c.nsec = nsec;
    c.digits = digits;
    if (!wanted) return SCAN_SKIP;
    const at = this.at;
    at.comm = i;
    at.commEnd = k;
    at.flagsFrom = flagsFrom;
    at.flagsTo = flagsTo;
    this.scannedFlags = flags;
    at.tsFrom = p;
    at.tsTo = q - 1;
    at.nameFrom = nameFrom;
    at.nameEnd = n;
    at.h = h;
    at.h2 = h2;
    at.siteClose = siteClose;
    // `(site) rest`: the payload proper starts after the site and one space.
    at.restFrom = siteClose < 0 ? -1 : siteClose + 1 < end && b[siteClose + 1] === 32 ? siteClose + 2 : siteClose + 1;
    this.scannedEntry = entry;
    this.scannedProbe = probe;
    return SCAN_WANTED;
  }

  /**
   * An event name and whether the filter wants it (as a tracepoint), by two
   * independent 32-bit hashes of its bytes and its length. A capture has a few
   * hundred distinct names at most, so two names colliding in all three (about
   * n^2 / 2^65) does not happen in practice; the first sighting of each
   * (hash, length) decodes and checks the name.
   */
  private nameEntry(b: Buffer, from: number, to: number, h: number, h2: number): NameEntry {
    const len = to - from;
    const cached = this.names.get(h);
    if (cached !== undefined && cached.h2 === h2 && cached.latin1.length === len) return cached;
    const utf8 = b.toString('utf8', from, to);
    const entry: NameEntry = { latin1: b.toString('latin1', from, to), utf8, name: utf8, h2, wanted: this.filter!.wants(utf8, undefined, undefined) };
    if (this.names.size < 4096 && cached === undefined) this.names.set(h, entry);
    return entry;
  }

  /**
   * A kprobe line's site `(sym+off/size)` (parsed by splitProbeSite, so both
   * lanes agree) and whether the filter wants the event with it, cached by two
   * hashes of the name and site bytes and the site's length, as nameEntry does
   * for names. `close` is the site's `)`, or -1 when the line has none.
   */
  private siteEntry(b: Buffer, nameEnd: number, close: number, end: number, s1: number, s2: number, name: NameEntry): SiteEntry {
    // A line cut before the `)` hashes the same bytes as a whole site, and is as long: a negative length keeps it from reading as one.
    const len = close < 0 ? -(end - nameEnd) : close - nameEnd;
    const cached = this.sites.get(s1);
    if (cached !== undefined && cached.s2 === s2 && cached.len === len && cached.name === name) return cached;
    const site = close < 0 ? undefined : splitProbeSite(b.toString('utf8', nameEnd + 2, close + 1));
    const probe = site?.probe;
    const entry: SiteEntry = { s2, len, name, probe, wanted: this.filter!.wants(name.name, undefined, probe) };
    if (close >= 0 && this.sites.size < 4096 && cached === undefined) this.sites.set(s1, entry);
    return entry;
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

  private unreadable(text: string, lineNo: number, reason: string): void {
    this.info.unreadable++;
    this.continuable = undefined;
    this.sink({ kind: 'unreadable', reason, text: text.length > 300 ? text.slice(0, 300) + '…' : text, src: { file: this.file, line: lineNo } });
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
