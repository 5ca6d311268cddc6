/**
 * The verdicts: how sure the engine is that a partner (an end, a start, a
 * subscriber's end) is really missing, and why, in words a finding quotes.
 * Each rests on what the trace holds (a later event of the task, a system
 * call boundary, an exit, a teardown of the mm) and on the coverage: where
 * events were lost or lines could not be read, a proof becomes inconclusive.
 */
import type { Timestamp, TraceEvent } from '../model/event';
import { diffNs, formatDuration, timestampFromParts } from '../model/time';
import type { Operation } from '../semantics/operations';
import type { Coverage } from './coverage';
import { stubEvent, type LeftProof, type SubscriberDue, type TaskState } from './task';
import type { RangeRecord, Verdict } from './types';

export class Verdicts {
  constructor(private readonly coverage: Coverage, private readonly likelyAfterNs: number) {}

  /**
   * A verdict the trace proves, unless events were lost (or lines could not
   * be read) between `from` and `to`: the missing `what` may be among them.
   */
  private unlessLost(from: Timestamp, to: Timestamp, what: string, v: Verdict): Verdict {
    if (v.confidence === 'inconclusive' || !this.coverage.lossBetween(from, to)) return v;
    return { confidence: 'inconclusive', reason: `${v.reason}; but events were lost or lines could not be read in between, and the ${what} may be among them`, evidence: v.evidence };
  }

  /** A missing partner at the end of the capture: likely if the task clearly ran on, else inconclusive. */
  endOfCapture(task: TaskState, since: TraceEvent, what: string): Verdict {
    const captureEnd = this.coverage.last;
    if (this.coverage.lossBetween(since.ts, captureEnd)) {
      return { confidence: 'inconclusive', reason: `events were lost after line ${since.src.line}: the ${what} may be among them`, evidence: [] };
    }
    const seen = task.lastSeenLine !== undefined && task.lastSeenLine > task.lastEvent.src.line
      ? timestampFromParts(task.lastSeenSec as number, task.lastSeenNsec as number, task.lastSeenDigits as number)
      : undefined;
    const lastTs = seen ?? task.lastEvent.ts;
    const lastLine = seen ? (task.lastSeenLine as number) : task.lastEvent.src.line;
    const ranOn = diffNs(since.ts, lastTs);
    if (ranOn > this.likelyAfterNs) {
      return {
        confidence: 'likely',
        reason: `the task ran on for ${formatDuration(ranOn)} (last event line ${lastLine}) with no ${what} and no events lost`,
        evidence: [seen ? stubEvent(task, seen, lastLine) : task.lastEvent],
      };
    }
    const left = captureEnd ? diffNs(since.ts, captureEnd) : 0;
    return {
      confidence: 'inconclusive',
      reason: `the capture ended ${formatDuration(left)} later and the task ran on for only ${formatDuration(Math.max(0, ranOn))}: the ${what} may simply not have been captured` +
        (what === 'end' ? ' (a later trace_marker write or system call event of the task would prove the leak: docs/capture.md, "What proves a leak")' : ''),
      evidence: [],
    };
  }

  // ---- a range left open -------------------------------------------------

  /** A range still open when the capture ended: what proves it will not end (`proof`), else how long its task ran on (the last resort). */
  openAtEnd(range: RangeRecord, task: TaskState, proof: LeftProof | undefined): Verdict {
    if (proof !== undefined) {
      const v = this.left(range, task, proof);
      if (v !== undefined) return this.unlessLost(range.start.ev.ts, proof.op.ev.ts, 'end', v);
    }
    return this.endOfCapture(task, range.start.ev, 'end');
  }

  /** The task left the kernel entry that started the range, or another task tore the range's mm down (undefined: that proves nothing yet). */
  private left(range: RangeRecord, task: TaskState, { op, kind }: LeftProof): Verdict | undefined {
    const ev = op.ev;
    const where = `at ${ev.ts.raw} (line ${ev.src.line})`;
    if (kind === 'syscall') {
      return {
        confidence: 'certain',
        reason: `${task.comm}-${task.pid} was back at a system call boundary ${where}, ${syscallWhat(ev)}, with the range still open: ` +
          'a range lives on its caller\'s stack within one kernel entry, so its end can no longer come',
        evidence: [ev],
      };
    }
    const by = probeName(ev);
    if (kind === 'own-teardown') {
      return {
        confidence: 'certain',
        reason: `${task.comm}-${task.pid} tore down the range's mm ${range.start.args.mm} itself ${where}, ${by}: it is exiting, out of the call that started the range`,
        evidence: [ev],
      };
    }
    // Another task released the mm: the range's task must have run on after that, still holding it.
    const seenLine = Math.max(task.lastEvent.src.line, task.lastSeenLine ?? 0);
    if (seenLine <= ev.src.line) return undefined;
    return {
      confidence: 'likely',
      reason: `${ev.comm}-${ev.pid} tore down the range's mm ${range.start.args.mm} ${where}, ${by}, and this task ran on (line ${seenLine}) without ending the range; ` +
        'likely, not certain: the OOM reaper (or process_mrelease) can still hold a range on a dying mm',
      evidence: [ev],
    };
  }

  /** The same range pointer started again (`again`) while `prev` was open: the earlier one never ended. */
  restarted(prev: RangeRecord, again: Operation): Verdict {
    const mayHaveFailed = prev.startReturn === undefined && prev.start.blockable !== true;
    return this.unlessLost(prev.start.ev.ts, again.ev.ts, 'end', {
      confidence: mayHaveFailed ? 'inconclusive' : 'certain',
      reason: `the same range pointer ${prev.key} was started again at ${again.ev.ts.raw} (line ${again.ev.src.line}) with no end in between` +
        (mayHaveFailed ? '; the first start was non-blocking and its return was not captured, so it may have failed (a failed start must not be ended)' : ''),
      evidence: [again.ev],
    });
  }

  /** `inner` was opened inside `outer`, which ended first (`end`): ranges nest LIFO on a task. */
  outlivedBy(inner: RangeRecord, outer: RangeRecord, end: Operation): Verdict {
    return this.unlessLost(inner.start.ev.ts, end.ev.ts, 'end', {
      confidence: 'certain',
      reason: `the enclosing range ${outer.key} (started line ${outer.start.ev.src.line}) ended first at ${end.ev.ts.raw} (line ${end.ev.src.line}); ranges nest LIFO on a task`,
      evidence: [outer.start.ev, end.ev],
    });
  }

  /** The range's task exited (`exit`) with the range open. */
  exited(range: RangeRecord, task: TaskState, exit: Operation): Verdict {
    return this.unlessLost(range.start.ev.ts, exit.ev.ts, 'end', {
      confidence: 'certain',
      reason: `task ${task.comm}-${task.pid} exited at ${exit.ev.ts.raw} (line ${exit.ev.src.line}) with the range still open`,
      evidence: [exit.ev],
    });
  }

  /** Live input: the task has run on for `ranFor` ns (up to `now`) with the range open and nothing lost. */
  overdue(ranFor: number, now: TraceEvent): Verdict {
    return {
      confidence: 'likely',
      reason: `the task has run on for ${formatDuration(ranFor)} (line ${now.src.line}) with no end and no events lost (reported live; the range is still open)`,
      evidence: [now],
    };
  }

  // ---- an end without a start --------------------------------------------

  /** An end (`op`, range key `key`) with no open start on its task: proved by an earlier end of the range, a system call boundary, or a long complete capture. */
  orphanEnd(op: Operation, task: TaskState, key: string): Verdict {
    const prev = task.closed?.get(key);
    if (prev?.end && !this.coverage.lossBetween(prev.end.ev.ts, op.ev.ts)) {
      return {
        confidence: 'certain',
        reason: `range ${key} was already ended at line ${prev.end.ev.src.line} and no start for it came since (no events were lost in between)`,
        evidence: [prev.start.ev, prev.end.ev],
      };
    }
    const back = task.syscallSeen;
    if (back !== undefined && !this.coverage.lossBetween(back.ev.ts, op.ev.ts)) {
      return {
        confidence: 'certain',
        reason: `the task was at a system call boundary at ${back.ev.ts.raw} (line ${back.ev.src.line}), ${syscallWhat(back.ev)}, after the capture was complete, and no start for this range came on it since ` +
          '(a range is started and ended within one kernel entry; no events were lost in between)',
        evidence: [back.ev],
      };
    }
    const from = this.coverage.completeFrom();
    if (from && diffNs(from, op.ev.ts) > this.likelyAfterNs && !this.coverage.lossBetween(from, op.ev.ts)) {
      return {
        confidence: 'likely',
        reason: `the capture had been complete for ${formatDuration(diffNs(from, op.ev.ts))} before this end with no start for it on this task and no events lost`,
        evidence: [],
      };
    }
    return {
      confidence: 'inconclusive',
      reason: this.coverage.lossBetween(from, op.ev.ts)
        ? 'events were lost before this end: its start may be among them'
        : `the capture began only ${from ? formatDuration(diffNs(from, op.ev.ts)) : 'just'} before this end: its start may predate the capture`,
      evidence: [],
    };
  }

  // ---- subscribers -------------------------------------------------------

  /**
   * A subscriber start (last of `ops`) whose end did not come when due: the
   * core start failed and returned, the core end returned (the task's `next`
   * core operation), or the capture ended first (`next` undefined).
   */
  subscriberEndMissing(task: TaskState, ops: readonly Operation[], due: SubscriberDue, next: Operation | undefined): Verdict {
    if (due.at.role === 'range-start-return') {
      return this.unlessLost(ops[ops.length - 1].ev.ts, due.at.ev.ts, 'subscriber end', {
        confidence: 'certain',
        reason: `the core start failed (ret=${due.at.ret}, line ${due.at.ev.src.line}) and the core did not call this subscriber's end before returning`,
        evidence: [due.at.ev],
      });
    }
    if (next) {
      return this.unlessLost(due.at.ev.ts, next.ev.ts, 'subscriber end', {
        confidence: 'certain',
        reason: `the core end at line ${due.at.ev.src.line} returned (the task's next invalidation call is at line ${next.ev.src.line}) without calling this subscriber's invalidate_range_end`,
        evidence: [due.at.ev, next.ev],
      });
    }
    return this.endOfCapture(task, due.at.ev, 'subscriber end');
  }

  /** A subscriber end with no start: likely when the core start of its range was captured (`core`) with nothing lost since. */
  subscriberStartMissing(core: RangeRecord | undefined, end: Operation): Verdict {
    return core !== undefined && !this.coverage.lossBetween(core.start.ev.ts, end.ev.ts)
      ? { confidence: 'likely', reason: `the core start of this range was captured (line ${core.start.ev.src.line}) but this subscriber's start callback was not`, evidence: [core.start.ev] }
      : { confidence: 'inconclusive', reason: 'the core start of this range was not captured: the subscriber start may predate the capture', evidence: [] };
  }
}

/** What a system call boundary event is, in words. */
function syscallWhat(ev: TraceEvent): string {
  if (ev.name === 'tracing_mark_write' || ev.name === 'print') return 'its write() to trace_marker (a new system call)';
  return `its ${ev.group !== undefined ? `${ev.group}:` : ''}${ev.name} event`;
}

/** The probed function of a kprobe event, else the event's name. */
function probeName(ev: TraceEvent): string {
  return ev.probe?.symbol ?? ev.name;
}
