/**
 * What the engine keeps per task, shared by the engine, the subscriber
 * tracker and the verdicts (one module, so none of them imports another for
 * a type).
 */
import type { Timestamp, TraceEvent } from '../model/event';
import type { Operation } from '../semantics/operations';
import type { RangeRecord, TaskView } from './types';

/**
 * One subscriber's start callbacks for one range key on a task, still
 * waiting for their end (never empty: it is dropped with its last start).
 * Entries are told apart by `${subscriber}|${range key}`, split at its first
 * `|` (see SubscriberTracker.calls).
 */
export interface SubscriberCalls {
  subscriber: string;
  key: string;
  ops: Operation[];
  /** Creation order among all of them (the order finish() reports what is left in). */
  seq: number;
}

/** A subscriber start whose core range has ended (`at`: the end) or failed (`at`: the failed return). */
export interface SubscriberDue {
  range: RangeRecord;
  at: Operation;
}

/**
 * A task's state. Its maps are made on first use: a fork-heavy capture keeps
 * thousands of tasks, most of which never need them.
 */
export interface TaskState extends TaskView {
  /** Its open ranges in start order (they nest LIFO). */
  openRanges: RangeRecord[];
  /** The same by key: the range, or those of the key in start order when it is open more than once (made on first use). */
  openByKey?: Map<string, RangeRecord | RangeRecord[]>;
  /**
   * The same by mm ('' for ranges whose mm was not captured), each in start order: made when a rule
   * first asks for a task's latest range on an mm while more than a few are open (Engine.latestOpenOn),
   * then kept up to date until the task holds none.
   */
  openPerMm?: Map<string, RangeRecord[]>;
  /** Live input: how many of openRanges, from the first, the overdue check has passed (reported, or with events lost since their start). */
  overdueFrom?: number;
  /** How many of openRanges, from the first, a system call boundary of the task has proved left (see Engine.syscallBoundary). */
  provedFrom?: number;
  /** How many of openRanges have no return yet (kept by the engine): a return when none waits is unmatched without a scan. */
  awaitingReturn?: number;
  /** Starts that returned non-zero, by key: an end for one of these is a bug. */
  failed?: Map<string, RangeRecord>;
  /** The last closed range per key (bounded), to prove a second end has no start. */
  closed?: Map<string, RangeRecord>;
  /** Subscriber starts without their end yet, by range key (see SubscriberCalls). */
  subscriberOpen?: Map<string, SubscriberCalls[]>;
  /** Those whose core range has ended or failed: their end must come before the task's next core operation. */
  subscriberDue?: Map<SubscriberCalls, SubscriberDue>;
  firstEvent: TraceEvent;
  lastEvent: TraceEvent;
  /** The task's latest filtered-out event (time parts and line), when later than lastEvent. */
  lastSeenSec?: number;
  lastSeenNsec?: number;
  lastSeenDigits?: number;
  lastSeenLine?: number;
  exited?: TraceEvent;
  /** The task's latest system-call boundary (a syscall event, a trace_marker write): it was outside any kernel entry just before. */
  syscallSeen?: Operation;
}

/**
 * What proves a range still open can no longer end: its task left the kernel
 * entry that started it (a system call boundary, or tearing down the range's
 * mm itself), or another task tore that mm down.
 */
export interface LeftProof {
  op: Operation;
  /** `syscall`: the task's own system call boundary; `own-teardown`: it released the range's mm itself; `teardown`: another task did. */
  kind: 'syscall' | 'own-teardown' | 'teardown';
}

/** Stands for a filtered-out event in evidence: its line and time are known, its content was not kept. */
export function stubEvent(task: TaskState, ts: Timestamp, line: number): TraceEvent {
  return {
    kind: 'event', ts, pid: task.pid, comm: task.comm, name: 'event', fields: {},
    payload: '(later event of this task; see the trace line)', src: { file: task.lastEvent.src.file, line },
    ...(task.lastEvent.machine !== undefined ? { machine: task.lastEvent.machine } : {}),
  };
}

/** The pairing key: the range pointer, or mm + start + end when no pointer was captured (RangeRecord.keyKind). */
export function rangeKey(op: Operation): string {
  if (op.args.range !== undefined) return op.args.range;
  return `mm=${op.args.mm ?? '?'} ${op.args.start ?? '?'}-${op.args.end ?? '?'}`;
}

/** An empty list of subscriber calls shared by ranges that have none (replaced on the first one, never changed). */
export const NO_OPS: Operation[] = [];

/** Add a subscriber call to a range's list (the shared empty one is replaced, never changed). */
export function addOp(range: RangeRecord, list: 'subscriberStarts' | 'subscriberEnds', op: Operation): void {
  if (range[list] === NO_OPS) range[list] = [op];
  else range[list].push(op);
}

/** The task's innermost open range of this key. */
export function latestOpen(task: TaskState, key: string): RangeRecord | undefined {
  const same = task.openByKey?.get(key);
  return Array.isArray(same) ? same[same.length - 1] : same;
}

/** The task's outermost open range of this key. */
export function earliestOpen(task: TaskState, key: string): RangeRecord | undefined {
  const same = task.openByKey?.get(key);
  return Array.isArray(same) ? same[0] : same;
}
