/**
 * Capture coverage: where each CPU's data begins and ends, where events were
 * lost, and whether the ring buffer overwrote the oldest events. This is what
 * lets the engine tell "no end was ever issued" from "the capture missed it".
 */
import type { Timestamp, TraceRecord } from '../model/event';
import { compareTimestamps, timestampDigits, timestampFromParts } from '../model/time';

export interface LossWindow {
  /** CPU the loss is on; undefined = unknown (an unreadable line). */
  cpu?: number;
  /** The machine of that CPU, in a report of several (TraceEvent.machine). */
  machine?: string;
  /** Last event before the loss (undefined = from the beginning). */
  from?: Timestamp;
  /** First event after the loss (undefined = to the end). */
  to?: Timestamp;
  /** Events lost, when known; for unreadable lines, how many came in a row (`line` is the first). */
  count?: number;
  why: 'lost-events' | 'buffer-started' | 'overwritten' | 'unreadable-line' | 'missing-entries' | 'part-cut' | 'ranges-not-kept';
  line: number;
}

export interface CpuCoverage {
  cpu: number;
  /** The machine of this CPU, in a report of several (host and guest each have a CPU 0). */
  machine?: string;
  first?: Timestamp;
  last?: Timestamp;
  events: number;
  lostMarkers: number;
  lostEvents: number;
}

interface CpuState {
  cpu: number;
  machine?: string;
  first?: Timestamp;
  firstLine?: number;
  /** Last timestamp as parts (most events are never built in full); the Timestamp is made on demand. */
  lastSec: number;
  lastNsec: number;
  lastDigits: number;
  lastParsed?: Timestamp;
  /** Line of the last event: parsers may hand over filtered-out events before held full ones. */
  lastLine: number;
  events: number;
  lostMarkers: number;
  lostEvents: number;
}

/** Where the ids of other machines' CPUs begin (Linux has at most 8192 CPUs). */
const MACHINE_CPU_IDS = 1 << 20;

/** Loss windows listed for reports (timelines); all of them count for verdicts. */
const LOSSES_LISTED = 10000;

export class Coverage {
  /** By CPU id: the CPU number, or for another machine's CPU an id of its own (idOf). */
  private readonly cpuState = new Map<number, CpuState>();
  /** CPU ids of the machines of a report of several: by machine, by CPU number (no string built per event). */
  private readonly machineCpuIds = new Map<string, number[]>();
  private machineCpus = 0;
  /** Those machines, in the order they first appear (the order coverage lists them in). */
  private readonly machineOrder = new Map<string, number>();
  /** The same states indexed by CPU number (the per-event path). */
  private readonly cpuFast: Array<CpuState | undefined> = [];
  /** The loss windows for reports: the first LOSSES_LISTED (lossBetween sees them all). */
  readonly losses: LossWindow[] = [];
  /**
   * Every closed loss window, merged into disjoint spans sorted by time (an
   * undefined bound is open): lossBetween is a binary search, not a scan, so
   * a file with a loss on every other line stays linear.
   */
  private readonly spans: Array<{ from?: Timestamp; to?: Timestamp }> = [];
  entriesInBuffer?: number;
  entriesWritten?: number;
  headerCpus?: number;
  /**
   * The input holds fewer entries than its header counted (summed over the
   * files of a merged capture): lines were cut or removed, nobody knows where.
   */
  missingEntries?: { claimed: number; found: number };
  private lastAnySec = 0;
  private lastAnyNsec = 0;
  private lastAnyDigits?: number;
  /** Losses waiting for the next event (on their CPU, or any CPU) to close their window. */
  private openLosses: LossWindow[] = [];
  private irqsOnKprobe = false;

  /** Per-CPU coverage, sorted by CPU (in a report of several machines, by machine in the order they appear, then CPU). */
  get cpus(): CpuCoverage[] {
    return [...this.cpuState.values()]
      .sort((a, b) => this.orderOf(a.machine) - this.orderOf(b.machine) || a.cpu - b.cpu)
      .map((c) => ({
        cpu: c.cpu, ...(c.machine !== undefined ? { machine: c.machine } : {}),
        first: c.first, last: lastOf(c), events: c.events, lostMarkers: c.lostMarkers, lostEvents: c.lostEvents,
      }));
  }

  /**
   * The id a CPU is counted under: its number, or in a report of several
   * machines (whose CPUs are each numbered from 0) an id past any CPU number.
   */
  private idOf(cpu: number, machine: string | undefined): number {
    if (machine === undefined) return cpu;
    let ids = this.machineCpuIds.get(machine);
    if (ids === undefined) {
      ids = [];
      this.machineCpuIds.set(machine, ids);
      this.machineOrder.set(machine, this.machineOrder.size);
    }
    return (ids[cpu] ??= MACHINE_CPU_IDS + this.machineCpus++);
  }

  private orderOf(machine: string | undefined): number {
    return machine === undefined ? -1 : (this.machineOrder.get(machine) ?? -1);
  }

  /** The earliest event of the capture. */
  get first(): Timestamp | undefined {
    let t: Timestamp | undefined;
    for (const c of this.cpuState.values()) if (c.first && (!t || compareTimestamps(c.first, t) < 0)) t = c.first;
    return t;
  }

  /** The latest event of the capture. */
  get last(): Timestamp | undefined {
    let t: Timestamp | undefined;
    for (const c of this.cpuState.values()) {
      const l = lastOf(c);
      if (l && (!t || compareTimestamps(l, t) > 0)) t = l;
    }
    return t;
  }

  /** Records the ring buffer overwrote its oldest events (`entries-in-buffer < entries-written`). */
  get overwritten(): boolean {
    return this.overwrittenSeen;
  }

  /** Any header (one per file when per-CPU files are merged) said the buffer overwrote events. */
  private overwrittenSeen = false;

  /** An event: full (with its Timestamp) or filtered out (parts only). */
  tick(cpuNo: number | undefined, sec: number, nsec: number, digits: number, line: number, ts?: Timestamp, machine?: string): void {
    const cpu = cpuNo === undefined ? -1 : machine === undefined ? cpuNo : this.idOf(cpuNo, machine);
    let c = cpu >= 0 ? this.cpuFast[cpu] : undefined;
    if (c === undefined) c = this.cpuStateFor(cpu, cpuNo ?? -1, machine);
    if (c.first === undefined || line < (c.firstLine as number)) {
      c.first = ts ?? timestampFromParts(sec, nsec, digits);
      c.firstLine = line;
    }
    c.events++;
    if (line > c.lastLine) {
      c.lastSec = sec;
      c.lastNsec = nsec;
      c.lastDigits = digits;
      c.lastParsed = ts;
      c.lastLine = line;
    }
    this.lastAnySec = sec;
    this.lastAnyNsec = nsec;
    this.lastAnyDigits = digits;
    if (this.openLosses.length) this.closeLosses(cpu, ts ?? timestampFromParts(sec, nsec, digits));
  }

  /** The state of CPU id `id` (CPU `cpu` of `machine`). */
  private cpuStateFor(id: number, cpu = id, machine?: string): CpuState {
    let c = this.cpuState.get(id);
    if (!c) {
      c = { cpu, events: 0, lostMarkers: 0, lostEvents: 0, lastLine: 0, lastSec: 0, lastNsec: 0, lastDigits: 6 };
      if (machine !== undefined) c.machine = machine;
      this.cpuState.set(id, c);
    }
    if (id >= 0 && id < MACHINE_CPU_IDS) this.cpuFast[id] = c;
    return c;
  }

  record(r: TraceRecord): void {
    switch (r.kind) {
      case 'event':
        this.tick(r.cpu, r.ts.sec, r.ts.nsec, timestampDigits(r.ts), r.src.line, r.ts, r.machine);
        if (!this.irqsOnKprobe && r.probe && r.ctx && !r.ctx.irqsOff && !r.ctx.irqsUnknown) this.irqsOnKprobe = true;
        break;
      case 'header':
        if (r.entriesInBuffer !== undefined) this.entriesInBuffer = r.entriesInBuffer;
        if (r.entriesWritten !== undefined) this.entriesWritten = r.entriesWritten;
        if (r.entriesInBuffer !== undefined && r.entriesWritten !== undefined && r.entriesInBuffer < r.entriesWritten) this.overwrittenSeen = true;
        if (r.cpus !== undefined) this.headerCpus = r.cpus;
        break;
      case 'lost': {
        const c = this.cpuStateFor(this.idOf(r.cpu, r.machine), r.cpu, r.machine);
        c.lostMarkers++;
        c.lostEvents += r.count ?? 0;
        this.addLoss({ cpu: r.cpu, ...(r.machine !== undefined ? { machine: r.machine } : {}), from: r.after ?? lastOf(c), count: r.count, why: 'lost-events', line: r.src.line });
        break;
      }
      case 'buffer-started':
        this.addLoss({ cpu: r.cpu, from: undefined, why: 'buffer-started', line: r.src.line });
        break;
      case 'missing-entries': {
        const m = (this.missingEntries ??= { claimed: 0, found: 0 });
        m.claimed += r.claimed;
        m.found += r.found;
        // Known only at the end of the input, and the lines may have been anywhere: a window over the whole capture.
        this.fixedLoss({ cpu: undefined, from: undefined, to: undefined, count: r.claimed - r.found, why: 'missing-entries', line: r.src.line });
        break;
      }
      case 'part-cut':
        // The other parts of the merged capture go on: this part's CPUs are missing from its last event to the end.
        this.fixedLoss({ cpu: undefined, from: r.after, to: undefined, why: 'part-cut', line: r.src.line });
        break;
      case 'unreadable':
        this.addLoss({ cpu: undefined, from: this.lastAnyDigits !== undefined ? timestampFromParts(this.lastAnySec, this.lastAnyNsec, this.lastAnyDigits) : undefined, count: 1, why: 'unreadable-line', line: r.src.line });
        break;
    }
  }

  /**
   * The engine holds as many open ranges as it keeps (MAX_OPEN_RANGES in
   * engine.ts): from this start on, starts are counted, not kept, so an end
   * may belong to a start nobody remembers. Like lost events, that makes what
   * rests on an absent event after it inconclusive, to the end of the input.
   */
  rangesNotKept(from: Timestamp, line: number): void {
    this.fixedLoss({ cpu: undefined, from, to: undefined, why: 'ranges-not-kept', line });
  }

  /**
   * Per-CPU ring-buffer stats saved with the capture: an overrun means the
   * oldest events of that CPU were overwritten (a loss before its first
   * event); dropped events are the newest ones (a loss after its last event).
   * Call before the events (overruns) and again at the end (drops): see Engine.
   */
  bufferOverrun(cpu: number, count: number): void {
    this.addLoss({ cpu, from: undefined, count, why: 'overwritten', line: 0 });
  }

  bufferDropped(cpu: number, count: number): void {
    const c = this.cpuState.get(cpu);
    this.fixedLoss({ cpu, from: c ? lastOf(c) : undefined, count, why: 'lost-events', line: Number.MAX_SAFE_INTEGER });
  }

  private list(w: LossWindow): void {
    if (this.losses.length < LOSSES_LISTED) this.losses.push(w);
  }

  /** A window whose bounds are known now (an undefined one is open). */
  private fixedLoss(w: LossWindow): void {
    this.list(w);
    this.index(w.from, w.to);
  }

  /**
   * A window that closes at the next event on its CPU (any CPU for an unknown
   * one). One still open for the same reason, CPU and start takes it in (its
   * count summed; for unreadable lines, the lines of the run): a gigabyte of
   * unreadable lines or lost-event markers with no event between them is one
   * window, so memory does not grow with them.
   */
  private addLoss(w: LossWindow): void {
    const kind = lossKind(w);
    const same = this.openByKind.get(kind);
    if (same !== undefined && sameTime(same.from, w.from)) {
      same.count = same.count !== undefined && w.count !== undefined ? same.count + w.count : undefined;
      return;
    }
    this.list(w);
    this.openLosses.push(w);
    this.openByKind.set(kind, w);
  }

  /** The open window of each reason, CPU and machine that a new one may merge into (see addLoss). */
  private readonly openByKind = new Map<string, LossWindow>();

  private closeLosses(cpu: number, ts: Timestamp): void {
    let kept = 0;
    const open = this.openLosses;
    for (const w of open) {
      if (w.cpu === undefined || (w.machine === undefined ? w.cpu : this.idOf(w.cpu, w.machine)) === cpu) {
        const kind = lossKind(w);
        if (this.openByKind.get(kind) === w) this.openByKind.delete(kind);
        w.to = ts;
        this.index(w.from, ts);
      } else open[kept++] = w;
    }
    open.length = kept;
  }

  /** The first span that ends at or after `t` (undefined: before everything), or spans.length. */
  private firstSpanEndingFrom(t: Timestamp | undefined): number {
    const spans = this.spans;
    if (t === undefined) return 0;
    let lo = 0;
    let hi = spans.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const end = spans[mid].to;
      if (end === undefined || compareTimestamps(end, t) >= 0) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Add [from, to] to the spans, merging every span it touches. */
  private index(from: Timestamp | undefined, to: Timestamp | undefined): void {
    const spans = this.spans;
    const i = this.firstSpanEndingFrom(from);
    let j = i;
    while (j < spans.length) {
      const s = spans[j];
      if (to !== undefined && s.from !== undefined && compareTimestamps(s.from, to) > 0) break;
      if (from !== undefined && (s.from === undefined || compareTimestamps(s.from, from) < 0)) from = s.from;
      if (to !== undefined && (s.to === undefined || compareTimestamps(s.to, to) > 0)) to = s.to;
      j++;
    }
    spans.splice(i, j - i, { from, to });
  }

  /**
   * The earliest time from which every CPU's data is complete. Without an
   * overwritten buffer that is the first event; with one, each CPU's data
   * starts where its oldest surviving event is, so take the latest of those.
   */
  completeFrom(): Timestamp | undefined {
    if (!this.overwritten) return this.first;
    let t: Timestamp | undefined;
    for (const c of this.cpuState.values()) if (c.first && (!t || compareTimestamps(c.first, t) > 0)) t = c.first;
    return t;
  }

  /** True when any loss window overlaps [a, b] (undefined bounds are open). */
  lossBetween(a: Timestamp | undefined, b: Timestamp | undefined): boolean {
    // Events of two CPUs may be printed slightly out of time order: between two times means between, either way round.
    if (a && b && compareTimestamps(a, b) > 0) [a, b] = [b, a];
    if (this.overwritten) {
      const from = this.completeFrom();
      if (from && (!a || compareTimestamps(a, from) < 0)) return true;
    }
    // The first span ending at or after a starts earliest of those that do: it overlaps [a, b] if any does.
    const s = this.spans[this.firstSpanEndingFrom(a)];
    if (s !== undefined && (!b || !s.from || compareTimestamps(s.from, b) <= 0)) return true;
    // Windows still open run to the end.
    for (const w of this.openLosses) if (!b || !w.from || compareTimestamps(w.from, b) <= 0) return true;
    return false;
  }

  kprobeIrqsOnSeen(): boolean {
    return this.irqsOnKprobe;
  }
}

function sameTime(a: Timestamp | undefined, b: Timestamp | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && compareTimestamps(a, b) === 0;
}

function lastOf(c: CpuState): Timestamp | undefined {
  if (c.lastParsed === undefined && c.lastLine > 0) c.lastParsed = timestampFromParts(c.lastSec, c.lastNsec, c.lastDigits);
  return c.lastParsed;
}

/** What windows that may merge share (Coverage.addLoss): reason, CPU and machine. */
function lossKind(w: LossWindow): string {
  return `${w.why}|${w.cpu ?? ''}|${w.machine ?? ''}`;
}
