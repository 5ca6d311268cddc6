/**
 * The subscriber tracker: each subscriber's invalidate_range_start and _end
 * callbacks (KVM's kvm_mmu_notifier_invalidate_range_start/_end, say) per
 * task and range, matched as the core calls them. A start whose end has not
 * come by the task's next core operation after its range ended or failed
 * (the core calls every subscriber's end before it returns: c2655835fd8c),
 * or by the end of the capture, leaves the subscriber's in-progress count
 * raised (KVM's mmu_invalidate_in_progress); an end with no start drives it
 * below what it was. Both go to the rules as SubscriberImbalance.
 */
import type { Operation } from '../semantics/operations';
import { addOp, earliestOpen, latestOpen, rangeKey, type SubscriberCalls, type TaskState } from './task';
import type { RangeRecord, SubscriberImbalance, Verdict } from './types';
import type { Verdicts } from './verdicts';

export interface SubscriberSummary {
  subscriber: string;
  kind?: string;
  starts: number;
  ends: number;
  /** starts - ends at the end of the capture: KVM's mmu_invalidate_in_progress as the trace shows it. */
  inProgressAtEnd: number;
}

export class SubscriberTracker {
  private readonly bySubscriber = new Map<string, Omit<SubscriberSummary, 'inProgressAtEnd'>>();
  private nextSeq = 0;

  constructor(
    private readonly verdicts: Verdicts,
    private readonly onImbalance: (imb: SubscriberImbalance) => void,
  ) {}

  /** A subscriber's start callback: recorded on the task, and on the core range it belongs to when open. */
  start(op: Operation, task: TaskState): void {
    const key = rangeKey(op);
    this.summary(op).starts++;
    const calls = this.calls(task, op, key, true) as SubscriberCalls;
    calls.ops.push(op);
    const core = latestOpen(task, key);
    if (core !== undefined) addOp(core, 'subscriberStarts', op);
  }

  /** A subscriber's end callback: matches its latest start, else is an end without a start. */
  end(op: Operation, task: TaskState): void {
    const key = rangeKey(op);
    this.summary(op).ends++;
    const calls = this.calls(task, op, key, false);
    const core = earliestOpen(task, key) ?? (calls && task.subscriberDue?.get(calls)?.range) ?? task.closed?.get(key);
    if (core !== undefined) addOp(core, 'subscriberEnds', op);
    if (calls) {
      calls.ops.pop();
      if (calls.ops.length === 0) {
        dropCalls(task, calls);
        task.subscriberDue?.delete(calls);
      }
      return;
    }
    // An end with no start: the subscriber's in-progress count is driven below what it was.
    this.imbalance(task, [op], 'end-without-start', core, this.verdicts.subscriberStartMissing(core, op));
  }

  /** The core range ended (or its start failed, `at`): each of its subscriber starts is now due an end. */
  due(task: TaskState, range: RangeRecord, at: Operation): void {
    const list = task.subscriberOpen?.get(range.key);
    if (list !== undefined) for (const calls of list) (task.subscriberDue ??= new Map()).set(calls, { range, at });
  }

  /** At the task's next core operation (`next`; undefined: the capture ended), every due subscriber end must have come. */
  checkDue(task: TaskState, next: Operation | undefined): void {
    const dueMap = task.subscriberDue;
    if (dueMap === undefined || dueMap.size === 0) return;
    for (const [calls, due] of dueMap) {
      if (next && next.ev === due.at.ev && due.at.role !== 'range-start-return') continue;
      dueMap.delete(calls);
      dropCalls(task, calls);
      this.imbalance(task, calls.ops, 'start-without-end', due.range, this.verdicts.subscriberEndMissing(task, calls.ops, due, next));
    }
  }

  /** The capture is over for `task`: starts still waiting for their end (those of a core range left open are unpaired-start's). */
  finish(task: TaskState): void {
    this.checkDue(task, undefined);
    for (const calls of [...(task.subscriberOpen?.values() ?? [])].flat().sort((a, b) => a.seq - b.seq)) {
      if (latestOpen(task, calls.key)) continue;
      this.imbalance(task, calls.ops, 'start-without-end', undefined, this.verdicts.endOfCapture(task, calls.ops[0].ev, 'subscriber end'));
    }
    task.subscriberOpen = undefined;
  }

  /** Whether the task holds no subscriber call (it may be forgotten). */
  idle(task: TaskState): boolean {
    return !task.subscriberOpen?.size && !task.subscriberDue?.size;
  }

  /** Each subscriber's starts and ends, and its in-progress count at the end of the capture. */
  summaries(): SubscriberSummary[] {
    return [...this.bySubscriber.values()].map((s) => ({ ...s, inProgressAtEnd: s.starts - s.ends }));
  }

  /**
   * The task's entry for the subscriber and range key of `op` (created if
   * asked). A subscriber value with a `|` in it (never a pointer) splits there,
   * so pairs that read the same as `subscriber|key` share one entry.
   */
  private calls(task: TaskState, op: Operation, coreKey: string, create: boolean): SubscriberCalls | undefined {
    let subscriber = op.subscriber ?? '?';
    let key = coreKey;
    const bar = subscriber.indexOf('|');
    if (bar >= 0) {
      key = `${subscriber.slice(bar + 1)}|${key}`;
      subscriber = subscriber.slice(0, bar);
    }
    let list = task.subscriberOpen?.get(key);
    if (list !== undefined) for (const c of list) if (c.subscriber === subscriber) return c;
    if (!create) return undefined;
    const calls: SubscriberCalls = { subscriber, key, ops: [], seq: this.nextSeq++ };
    if (list === undefined) (task.subscriberOpen ??= new Map()).set(key, (list = []));
    list.push(calls);
    return calls;
  }

  private imbalance(task: TaskState, ops: Operation[], direction: SubscriberImbalance['direction'], range: RangeRecord | undefined, verdict: Verdict): void {
    const op = ops[0];
    this.onImbalance({
      subscriber: op.subscriber ?? '?',
      subscriberKind: op.subscriberKind,
      pid: task.pid,
      comm: op.ev.comm,
      key: rangeKey(op),
      direction,
      ops,
      range,
      verdict,
    });
  }

  private summary(op: Operation): Omit<SubscriberSummary, 'inProgressAtEnd'> {
    const id = op.subscriber ?? '?';
    let s = this.bySubscriber.get(id);
    if (!s) this.bySubscriber.set(id, (s = { subscriber: id, kind: op.subscriberKind, starts: 0, ends: 0 }));
    return s;
  }
}

function dropCalls(task: TaskState, calls: SubscriberCalls): void {
  const list = task.subscriberOpen?.get(calls.key) as SubscriberCalls[];
  list.splice(list.indexOf(calls), 1);
  if (list.length === 0) task.subscriberOpen?.delete(calls.key);
}
