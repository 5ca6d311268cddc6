/**
 * Where a task stands in the invalidation calls it is making, for rules that
 * judge what a task does *inside* them (interval-op-in-invalidate,
 * reclaim-alloc-in-invalidate).
 *
 * kprobes show function entries only. So an event that comes after a core
 * start's entry is not yet known to be inside __mmu_notifier_invalidate_range_start
 * (where the subscribers' invalidate_range_start and the interval notifiers'
 * invalidate() callbacks run): it is kept pending until a later event on the
 * same task proves it:
 *   - the start's kretprobe (the call had not returned yet),
 *   - a subscriber's start callback for that range (called from inside the start),
 * and likewise after a core end's entry, until mn_itree_inv_end, a subscriber's
 * end or invalidate_range callback for that range proves the end call was still
 * running. A candidate whose own stack shows an invalidation call is placed at once.
 * Anything between the start's return and the end's entry is the caller's own
 * code: not inside a callback.
 */
import { taskKey, type StackFrame } from '../../src/model/event';
import { loadCatalog } from '../../src/semantics';
import { TASKS_KEPT } from '../../src/engine/engine';
import type { OperationHandlers, TaskView } from '../../src/engine/types';
import type { Operation } from '../../src/semantics/operations';
import { compareTimestamps } from '../../src/model/time';

/** Which call the candidate was inside: the start (subscribers' start and invalidate() callbacks), the end, or the secondary-TLB hook. */
export type CallSide = 'start' | 'end' | 'secondary-tlb';

export type Placement =
  /** The candidate's own stack shows it: `frame` is the invalidation function or callback found. */
  | { kind: 'stack'; side: CallSide; frame: string }
  /** Proven inside the call opened by `opened`: `proof` came later on the same task while the call was still running. */
  | { kind: 'call'; side: 'start' | 'end'; opened: Operation; proof: Operation; itree?: Operation }
  /** After a start's entry, and the start's return was never captured: inside the start call or in the caller that holds the range. */
  | { kind: 'start-unproven'; opened: Operation; closedBy?: Operation };

export interface Candidate<T> {
  op: Operation;
  data: T;
}

/** Invalidation core functions that run callbacks, by the call they belong to. */
const CORE_FRAMES: ReadonlyMap<string, CallSide> = new Map([
  ['__mmu_notifier_invalidate_range_start', 'start'],
  ['mn_hlist_invalidate_range_start', 'start'],
  ['mn_itree_invalidate', 'start'],
  ['__mmu_notifier_invalidate_range_end', 'end'],
  ['mn_hlist_invalidate_end', 'end'],
  ['__mmu_notifier_invalidate_range', 'secondary-tlb'],
  ['__mmu_notifier_arch_invalidate_secondary_tlbs', 'secondary-tlb'],
]);

let callbackFrames: Map<string, CallSide> | undefined;

/** Core frames plus the subscriber callbacks the catalog knows (kvm_mmu_notifier_invalidate_range_start, ...). */
function frames(): Map<string, CallSide> {
  if (callbackFrames) return callbackFrames;
  callbackFrames = new Map(CORE_FRAMES);
  for (const p of loadCatalog().probes) {
    if (p.return) continue;
    if (p.role === 'subscriber-start') callbackFrames.set(p.symbol, 'start');
    else if (p.role === 'subscriber-end') callbackFrames.set(p.symbol, 'end');
    else if (p.role === 'subscriber-secondary-tlb') callbackFrames.set(p.symbol, 'secondary-tlb');
  }
  return callbackFrames;
}

/** The first invalidation call or callback in a stack (innermost first), if any. */
export function invalidationFrame(stack: readonly StackFrame[] | undefined): { side: CallSide; frame: string } | undefined {
  if (!stack) return undefined;
  const known = frames();
  for (const f of stack) {
    const side = known.get(f.symbol);
    if (side) return { side, frame: f.symbol };
  }
  return undefined;
}

interface CallFrame<T> {
  side: 'start' | 'end';
  opened: Operation;
  /** Range pointer (or mm+start+end) of the call, when captured. */
  key?: string;
  mm?: string;
  /** Candidates waiting for proof (made on the first). */
  pending?: Candidate<T>[];
  /** Start calls: mn_itree_inv_start_range seen inside (the interval notifiers' invalidate() run after it). */
  itree?: Operation;
  /** End calls: subscribers whose invalidate_range_end already ran in this call (their invalidate_range came before it). */
  ended?: string[];
}

interface TaskCalls<T> {
  frames: CallFrame<T>[];
  /** The sweep generation in which the task was last looked at (see forgetIdleTasks). */
  seen: number;
  /** mn_itree_inv_start_range seen and mn_itree_inv_end not yet: the mm's interval tree is being invalidated by this task. */
  itree?: Operation;
}

/** Pending candidates kept per call, at most. */
const MAX_PENDING = 256;

/** Calls kept per task, at most: past it the outermost is let go (its candidates unproven). The kernel nests a few. */
const MAX_FRAMES = 256;


export class InsideInvalidationTracker<T> {
  /** By TaskView.key (the pid, or machine and pid). */
  private readonly tasks = new Map<number | string, TaskCalls<T>>();

  /** `placed` is called once per candidate that is proven inside an invalidation call (or never can be, for `start-unproven`). */
  constructor(private readonly placed: (c: Candidate<T>, where: Placement) => void) {}

  /** The operations that move a task in or out of invalidation calls: a rule passes these on as its own `on` handlers. */
  readonly on: OperationHandlers = {
    'range-start': (op, task) => {
      const t = this.task(task.key);
      this.closeEndCalls(t);
      this.push(t, { side: 'start', opened: op, key: keyOf(op), mm: op.args.mm });
    },
    'itree-inv-start': (op, task) => {
      const t = this.task(task.key);
      this.closeEndCalls(t);
      t.itree = op;
      const top = t.frames[t.frames.length - 1];
      if (top && top.side === 'start') top.itree ??= op;
      else this.push(t, { side: 'start', opened: op, key: op.args.range, mm: op.args.mm });
    },
    'range-start-return': (op, task) => {
      const t = this.known(task.key);
      if (!t) return;
      this.closeEndCalls(t);
      const f = t.frames.pop();
      if (f) this.confirm(f, op);
    },
    'subscriber-start': (op, task) => {
      const f = this.innermost(task.key, 'start');
      if (f && (f.key === undefined || op.args.range === undefined || f.key === keyOf(op))) this.confirm(f, op);
    },
    'range-end': (op, task) => {
      const t = this.known(task.key);
      if (!t) return;
      this.closeEndCalls(t);
      // A start call still open here never showed its return: its candidates cannot be placed for sure.
      const key = keyOf(op);
      let idx = -1;
      for (let i = t.frames.length - 1; i >= 0; i--) {
        const f = t.frames[i];
        if (f.key === undefined || f.key === key || (f.mm !== undefined && f.mm === op.args.mm && f.opened.role === 'itree-inv-start')) {
          idx = i;
          break;
        }
      }
      if (idx >= 0) {
        while (t.frames.length > idx) {
          const f = t.frames.pop() as CallFrame<T>;
          for (const c of f.pending ?? []) this.placed(c, { kind: 'start-unproven', opened: f.opened, closedBy: op });
        }
      }
      this.push(t, { side: 'end', opened: op, key, mm: op.args.mm });
    },
    'itree-inv-end': (op, task) => {
      const t = this.known(task.key);
      if (!t) return;
      t.itree = undefined;
      const f = this.innermost(task.key, 'end');
      if (f) this.confirm(f, op);
    },
    'subscriber-end': (op, task) => {
      const f = this.innermost(task.key, 'end');
      if (f && (f.key === undefined || op.args.range === undefined || f.key === keyOf(op))) {
        (f.ended ??= []).push(op.subscriber ?? '?');
        this.confirm(f, op);
      }
    },
    'subscriber-secondary-tlb': (op, task) => {
      // Before about 6.6 the end call runs each subscriber's invalidate_range (unless only_end) just before its
      // invalidate_range_end; after that subscriber's end, an invalidate_range comes from the separate hook.
      const f = this.innermost(task.key, 'end');
      if (f && f.opened.onlyEnd !== true && !f.ended?.includes(op.subscriber ?? '?') && (f.mm === undefined || op.args.mm === undefined || f.mm === op.args.mm)) this.confirm(f, op);
    },
    'secondary-tlb': (op, task) => {
      // The secondary-TLB hook is a core call of its own: any end call has returned.
      const t = this.known(task.key);
      if (t) this.closeEndCalls(t);
    },
    'task-exit': (op) => {
      // The exiting task may be another than the one that traced the exit (sched_process_exit's pid=), on the same machine.
      this.tasks.delete(taskKey(op.targetPid ?? op.ev.pid, op.ev.machine));
    },
  };

  /**
   * A candidate event (an allocation, an interval call) on `task` (the handler's). Returns how it stands now:
   * `placed` (its stack showed it), `pending` (after a call's entry: decided later),
   * or `outside` (no invalidation call is running on the task).
   */
  candidate(c: Candidate<T>, task: TaskView): 'placed' | 'pending' | 'outside' {
    const inStack = invalidationFrame(c.op.ev.stack);
    if (inStack) {
      this.placed(c, { kind: 'stack', ...inStack });
      return 'placed';
    }
    const t = this.known(task.key);
    const top = t?.frames[t.frames.length - 1];
    if (!top) return 'outside';
    const pending = (top.pending ??= []);
    if (pending.length < MAX_PENDING) pending.push(c);
    return 'pending';
  }

  /** The task's interval-tree invalidation window (mn_itree_inv_start_range seen, mn_itree_inv_end not yet). */
  itreeWindow(task: number | string): Operation | undefined {
    return this.tasks.get(task)?.itree;
  }

  /** The capture is over: start calls that never showed a return leave their candidates unproven. */
  finish(): void {
    for (const t of this.tasks.values()) {
      for (let i = t.frames.length - 1; i >= 0; i--) {
        const f = t.frames[i];
        if (f.side === 'start') for (const c of f.pending ?? []) this.placed(c, { kind: 'start-unproven', opened: f.opened });
      }
    }
    this.tasks.clear();
  }

  private task(key: number | string): TaskCalls<T> {
    let t = this.known(key);
    if (!t) {
      t = { frames: [], seen: this.generation };
      this.tasks.set(key, t);
      if (this.tasks.size > this.sweepAt) this.forgetIdleTasks();
    }
    return t;
  }

  /** The task's calls, if any are kept (marked as looked at in this generation). */
  private known(key: number | string): TaskCalls<T> | undefined {
    const t = this.tasks.get(key);
    if (t !== undefined) t.seen = this.generation;
    return t;
  }

  /** A call opens on the task; past MAX_FRAMES the outermost is let go, its candidates unproven. */
  private push(t: TaskCalls<T>, f: CallFrame<T>): void {
    if (t.frames.length >= MAX_FRAMES) {
      const outer = t.frames.shift() as CallFrame<T>;
      if (outer.side === 'start') for (const c of outer.pending ?? []) this.placed(c, { kind: 'start-unproven', opened: outer.opened });
    }
    t.frames.push(f);
  }

  private generation = 0;
  private sweepAt = TASKS_KEPT;

  /**
   * Memory grows with what is open, not with how many tasks ran: a task left
   * with nothing but end calls (an end's entry stays open until the task's
   * next core operation, to prove what came after it) and no interval-tree
   * window, not looked at since the last sweep, is forgotten. Its end calls
   * would only have placed a later candidate of the same end call: a finding
   * missed at worst, never one made up. Start calls are never forgotten:
   * their candidates are placed at the end (finish).
   */
  private forgetIdleTasks(): void {
    for (const [key, t] of this.tasks) {
      if (t.seen < this.generation && t.itree === undefined && t.frames.every((f) => f.side === 'end')) this.tasks.delete(key);
    }
    this.generation++;
    this.sweepAt = Math.max(TASKS_KEPT, this.tasks.size * 2);
  }

  private innermost(key: number | string, side: 'start' | 'end'): CallFrame<T> | undefined {
    const t = this.known(key);
    const f = t?.frames[t.frames.length - 1];
    return f && f.side === side ? f : undefined;
  }

  /** Everything pending in the call happened before `proof`, while the call was running. */
  private confirm(f: CallFrame<T>, proof: Operation): void {
    const pending = f.pending;
    if (pending === undefined || pending.length === 0) return;
    f.pending = undefined;
    for (const c of pending) this.placed(c, { kind: 'call', side: f.side, opened: f.opened, proof, ...(f.itree && f.itree !== f.opened && compareTimestamps(f.itree.ev.ts, c.op.ev.ts) <= 0 ? { itree: f.itree } : {}) });
  }

  /** End calls are not proven past their last callback: what is still pending there may be the caller's code after the end returned. */
  private closeEndCalls(t: TaskCalls<T>): void {
    while (t.frames.length && t.frames[t.frames.length - 1].side === 'end') t.frames.pop();
  }
}

function keyOf(op: Operation): string | undefined {
  if (op.args.range !== undefined) return op.args.range;
  if (op.args.mm === undefined && op.args.start === undefined) return undefined;
  return `mm=${op.args.mm ?? '?'} ${op.args.start ?? '?'}-${op.args.end ?? '?'}`;
}

const PROOF_WORDS: Partial<Record<Operation['role'], string>> = {
  'range-start-return': 'the start\'s return',
  'subscriber-start': 'a subscriber\'s invalidate_range_start callback',
  'subscriber-end': 'a subscriber\'s invalidate_range_end callback',
  'subscriber-secondary-tlb': 'a subscriber\'s invalidate_range callback',
  'itree-inv-end': 'mn_itree_inv_end',
};

const CALL_WORDS: Record<CallSide, string> = {
  start: '__mmu_notifier_invalidate_range_start, where subscribers\' invalidate_range_start and interval notifiers\' invalidate() callbacks run',
  end: '__mmu_notifier_invalidate_range_end, where subscribers\' invalidate_range_end callbacks run',
  'secondary-tlb': 'the secondary-TLB hook, whose invalidate_range callbacks run under the page table lock',
};

/** Where a placement puts the candidate, in words a kernel engineer can check against the trace. */
export function describePlacement(where: Placement): string {
  switch (where.kind) {
    case 'stack':
      return `its stack shows ${where.frame}: inside ${CALL_WORDS[where.side]}`;
    case 'call': {
      const what = where.opened.role === 'itree-inv-start' ? 'mn_itree_inv_start_range' : where.side === 'start' ? 'the invalidation start' : 'the invalidation end';
      const itree = where.itree ? ` and mn_itree_inv_start_range (line ${where.itree.ev.src.line})` : '';
      return `after ${what} (line ${where.opened.ev.src.line})${itree} and before ${PROOF_WORDS[where.proof.role] ?? where.proof.ev.name} (line ${where.proof.ev.src.line}) on the same task: inside ${CALL_WORDS[where.side]}`;
    }
    case 'start-unproven':
      return `after the invalidation start at line ${where.opened.ev.src.line}${where.closedBy ? ` and before its end at line ${where.closedBy.ev.src.line}` : ''}, but the start's return was not captured: it was inside the start call (a callback) or in the caller holding the range`;
  }
}

/** The evidence roles placementEvidence gives: a rule that uses it spreads these into its meta.evidenceRoles. */
export const PLACEMENT_ROLES = {
  'invalidation-start': 'the invalidation start it happened inside',
  'invalidation-end': 'the invalidation end it happened inside (or that closed the range)',
  'itree-invalidation': "mn_itree_inv_start_range: the interval tree's invalidation begun",
  'still-inside': 'what proves the task was still inside the invalidation',
} as const;
export type PlacementRole = keyof typeof PLACEMENT_ROLES;

/** The events a placement rests on, for a finding's evidence. */
export function placementEvidence(where: Placement): Array<{ ev: Operation['ev']; role: PlacementRole }> {
  switch (where.kind) {
    case 'stack':
      return [];
    case 'call':
      return [
        { ev: where.opened.ev, role: where.side === 'start' ? 'invalidation-start' as const : 'invalidation-end' as const },
        ...(where.itree ? [{ ev: where.itree.ev, role: 'itree-invalidation' as const }] : []),
        { ev: where.proof.ev, role: 'still-inside' as const },
      ];
    case 'start-unproven':
      return [{ ev: where.opened.ev, role: 'invalidation-start' as const }, ...(where.closedBy ? [{ ev: where.closedBy.ev, role: 'invalidation-end' as const }] : [])];
  }
}
