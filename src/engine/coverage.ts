/**
 * Capture coverage: where each CPU's data begins and ends, where events were
 * lost, and whether the ring buffer overwrote the oldest events. This is what
 * lets the engine tell "no end was ever issued" from "the capture missed it".
 */
import type { Timestamp, TraceRecord } from '../model/event';
import { compareTimestamps } from '../model/time';

export interface LossWindow {
  /** CPU the loss is on; undefined = unknown (an unreadable line). */
  cpu?: number;
  /** Last event before the loss (undefined = from the beginning). */
  from?: Timestamp;
  /** First event after the loss (undefined = to the end). */
  to?: Timestamp;
  /** Events lost, when known. */
  count?: number;
  why: 'lost-events' | 'buffer-started' | 'overwritten' | 'unreadable-line';
  line: number;
}

export interface CpuCoverage {
  cpu: number;
  first?: Timestamp;
  last?: Timestamp;
  events: number;
  lostMarkers: number;
  lostEvents: number;
}

export class Coverage {
  readonly cpus = new Map<number, CpuCoverage>();
  readonly losses: LossWindow[] = [];
  entriesInBuffer?: number;
  entriesWritten?: number;
  headerCpus?: number;
  first?: Timestamp;
  last?: Timestamp;
  private lastAny?: Timestamp;
  /** Losses waiting for the next event (on their CPU, or any CPU) to close their window. */
  private openLosses: LossWindow[] = [];
  private irqsOnKprobe = false;

  /** Records the ring buffer overwrote its oldest events (`entries-in-buffer < entries-written`). */
  get overwritten(): boolean {
    return this.entriesInBuffer !== undefined && this.entriesWritten !== undefined && this.entriesInBuffer < this.entriesWritten;
  }

  record(r: TraceRecord): void {
    switch (r.kind) {
      case 'event': {
        const ts = r.ts;
        const cpu = r.cpu ?? -1;
        let c = this.cpus.get(cpu);
        if (!c) {
          c = { cpu, events: 0, lostMarkers: 0, lostEvents: 0, first: ts };
          this.cpus.set(cpu, c);
        }
        c.events++;
        c.last = ts;
        if (!this.first || compareTimestamps(ts, this.first) < 0) this.first = ts;
        if (!this.last || compareTimestamps(ts, this.last) > 0) this.last = ts;
        this.lastAny = ts;
        if (this.openLosses.length) this.closeLosses(cpu, ts);
        if (!this.irqsOnKprobe && r.probe && r.ctx && !r.ctx.irqsOff && !r.ctx.irqsUnknown) this.irqsOnKprobe = true;
        break;
      }
      case 'header':
        if (r.entriesInBuffer !== undefined) this.entriesInBuffer = r.entriesInBuffer;
        if (r.entriesWritten !== undefined) this.entriesWritten = r.entriesWritten;
        if (r.cpus !== undefined) this.headerCpus = r.cpus;
        break;
      case 'lost': {
        const c = this.cpus.get(r.cpu);
        if (c) {
          c.lostMarkers++;
          c.lostEvents += r.count ?? 0;
        } else {
          this.cpus.set(r.cpu, { cpu: r.cpu, events: 0, lostMarkers: 1, lostEvents: r.count ?? 0 });
        }
        this.addLoss({ cpu: r.cpu, from: r.after ?? this.cpus.get(r.cpu)?.last, count: r.count, why: 'lost-events', line: r.src.line });
        break;
      }
      case 'buffer-started':
        this.addLoss({ cpu: r.cpu, from: undefined, why: 'buffer-started', line: r.src.line });
        break;
      case 'unreadable':
        this.addLoss({ cpu: undefined, from: this.lastAny, why: 'unreadable-line', line: r.src.line });
        break;
    }
  }

  private addLoss(w: LossWindow): void {
    this.losses.push(w);
    this.openLosses.push(w);
  }

  private closeLosses(cpu: number, ts: Timestamp): void {
    this.openLosses = this.openLosses.filter((w) => {
      if (w.cpu === undefined || w.cpu === cpu) {
        w.to = ts;
        return false;
      }
      return true;
    });
  }

  /**
   * The earliest time from which every CPU's data is complete. Without an
   * overwritten buffer that is the first event; with one, each CPU's data
   * starts where its oldest surviving event is, so take the latest of those.
   */
  completeFrom(): Timestamp | undefined {
    if (!this.overwritten) return this.first;
    let t: Timestamp | undefined;
    for (const c of this.cpus.values()) if (c.first && (!t || compareTimestamps(c.first, t) > 0)) t = c.first;
    return t;
  }

  /** True when any loss window overlaps [a, b] (undefined bounds are open). */
  lossBetween(a: Timestamp | undefined, b: Timestamp | undefined): boolean {
    if (this.overwritten) {
      const from = this.completeFrom();
      if (from && (!a || compareTimestamps(a, from) < 0)) return true;
    }
    for (const w of this.losses) {
      const startsBeforeB = !b || !w.from || compareTimestamps(w.from, b) <= 0;
      const endsAfterA = !a || !w.to || compareTimestamps(w.to, a) >= 0;
      if (startsBeforeB && endsAfterA) return true;
    }
    return false;
  }

  kprobeIrqsOnSeen(): boolean {
    return this.irqsOnKprobe;
  }
}
