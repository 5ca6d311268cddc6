/**
 * The engine: pairs every invalidation range per task, tracks subscriber
 * callbacks and OOM-reaper context, and hands the rules what it found with a
 * verdict on how sure it is. It never looks at trace text.
 */
import { taskKey, type EventFilter, type TraceEvent, type TraceRecord } from '../model/event';
import { diffNs, timestampFromParts } from '../model/time';
import type { Semantics } from '../semantics';
import { eventTypeName, type Operation, type Role } from '../semantics/operations';
import { Coverage } from './coverage';
import { LatencyTable } from './latency';
import type {
  CallerEvidence, Finding, KernelInfo, OperationHandler, RangeRecord, RuleContext, RuleHandlers, RuleMeta, Severity,
  UnlistedFindings, Verdict,
} from './types';
import { FindingStore, type FindingStoreOptions } from './findings';
import { SubscriberTracker, type SubscriberSummary } from './subscribers';
import { latestOpen, NO_OPS, rangeKey, stubEvent, type LeftProof, type TaskState } from './task';
import { Verdicts } from './verdicts';

export { DEFAULT_MAX_FINDINGS_PER_RULE } from './findings';
export type { SubscriberSummary } from './subscribers';

/** The handlers a rule may have besides `on`: the engine's own events. */
type Hook = Exclude<keyof RuleHandlers, 'on'>;

/** Tasks kept before idle ones are forgotten (Engine.forgetIdleTasks; the rules' own per-task trackers sweep at the same size). */
export const TASKS_KEPT = 4096;

/**
 * Open ranges kept, over all tasks: a start past this many is counted
 * (RangeCounts.notKept), not kept, and from it on the capture counts as
 * incomplete (Coverage.rangesNotKept), since the end of a range not kept
 * would otherwise read as an end without a start. About 1 KB each.
 */
export const MAX_OPEN_RANGES = 20_000;

export interface EngineOptions extends FindingStoreOptions {
  semantics: Semantics;
  /** A missing end becomes `likely` when the task ran on this long after the start (ns). */
  likelyAfterNs: number;
  /**
   * Live input (`--follow`): a range still open `likelyAfterNs` after its start,
   * while its task runs on with no events lost, is reported then (as likely),
   * not only at the end of the input.
   */
  live?: boolean;
  /** The kernel the trace was captured on, when known: rules read it as `context.kernel`. */
  kernel?: KernelInfo;
  /** Each range's outcome as the engine decides it (after the rules heard of it): the timeline's collector. */
  onRange?: (range: RangeRecord, outcome: RangeOutcome) => void;
}

/** What became of a range start: paired with its end, left open, failed, or failed and ended anyway. */
export type RangeOutcome = 'paired' | 'open' | 'failed' | 'end-after-failed';

/** Stack frames that mark the OOM reaper path (KERNEL.md section 3). */
const REAPER_FRAMES = new Set([
  '__oom_reap_task_mm', 'oom_reap_task_mm', 'oom_reap_task', 'oom_reaper',
  '__do_sys_process_mrelease', '__x64_sys_process_mrelease', '__arm64_sys_process_mrelease', '__se_sys_process_mrelease',
]);
/** Frames of the tracing machinery itself, above the probed function. */
const TRACING_FRAMES = /^(kprobe_|aggr_pre_handler|kprobe_ftrace_handler|ftrace_|trace_|__traceiter_|perf_|0x|event_triggers_call|__ftrace_trace_stack|stack_trace_)/;

export interface RangeCounts {
  starts: number;
  paired: number;
  open: number;
  failedStarts: number;
  orphanEnds: number;
  endsAfterFailedStart: number;
  nonBlockingStarts: number;
  /** Returns with no start on their task (the start predates the capture). */
  unmatchedReturns: number;
  /** Starts past MAX_OPEN_RANGES open at once: counted, not kept (see Engine.rangeStart). */
  notKept: number;
  startsByEventType: Record<string, number>;
}

export class Engine {
  readonly coverage = new Coverage();
  /** What the rules reported, kept or counted (see FindingStore). */
  private readonly store: FindingStore;
  /** The findings kept, in trace order. */
  get findings(): Finding[] {
    return this.store.findings;
  }
  /** Findings past the per-rule limit, counted by rule, severity and confidence. */
  get unlisted(): ReadonlyMap<string, UnlistedFindings> {
    return this.store.unlisted;
  }
  readonly counts: RangeCounts = {
    starts: 0, paired: 0, open: 0, failedStarts: 0, orphanEnds: 0, endsAfterFailedStart: 0,
    nonBlockingStarts: 0, unmatchedReturns: 0, notKept: 0, startsByEventType: {},
  };
  /** Start-to-end latency of paired ranges, by event type and by caller (bounded memory). */
  readonly latencyByEventType = new LatencyTable();
  readonly latencyByCaller = new LatencyTable();
  /** By taskKey: the pid, or machine and pid in a report of several machines. */
  private readonly tasks = new Map<number | string, TaskState>();
  /** Per hook, the rules' handler objects that have it, in rule order. */
  private readonly hooks: Record<Hook, RuleHandlers[]> = {
    rangeStart: [], rangeStartResolved: [], pairClosed: [], pairLeftOpen: [], startFailed: [], endAfterFailedStart: [], orphanEnd: [],
    subscriberImbalance: [], endOfTrace: [],
  };
  /** Per role, the rules' `on` handlers for it, in rule order. */
  private readonly onRole = new Map<Role, OperationHandler[]>();
  private nextRangeId = 1;
  /** Rules whose findings rest on an event being absent (RuleMeta.restsOnAbsence). */
  private readonly restOnAbsence = new Set<string>();

  /** The verdict texts: how sure the engine is that a partner is missing, and why. */
  private readonly verdicts: Verdicts;
  /** Subscriber callbacks, matched per task and range. */
  private readonly subscribers: SubscriberTracker;

  constructor(private readonly opts: EngineOptions) {
    this.store = new FindingStore(opts);
    this.verdicts = new Verdicts(this.coverage, opts.likelyAfterNs);
    this.subscribers = new SubscriberTracker(this.verdicts, (imb) => {
      for (const h of this.hooks.subscriberImbalance) h.subscriberImbalance!(imb);
    });
  }

  /** Attach rules: `create` gets a context bound to this engine. */
  addRule(id: string, severity: Severity, options: Record<string, unknown>, create: (ctx: RuleContext) => RuleHandlers, meta: Partial<Pick<RuleMeta, 'operations' | 'restsOnAbsence' | 'messages' | 'evidenceRoles'>> = {}): void {
    for (const role of meta.operations ?? []) this.neededRoles.add(role);
    if (meta.restsOnAbsence) this.restOnAbsence.add(id);
    const ctx: RuleContext = {
      id,
      severity,
      options,
      coverage: this.coverage,
      latestOpenOn: (task, mm) => this.latestOpenOn(task as TaskState, mm),
      ...(this.opts.kernel ? { kernel: this.opts.kernel } : {}),
      report: (d) => {
        const template = meta.messages?.[d.messageId];
        if (template === undefined) throw new Error(`rule ${id} reported messageId '${d.messageId}', which is not in its meta.messages`);
        for (const e of d.evidence) {
          if (e.role !== undefined && !Object.hasOwn(meta.evidenceRoles ?? {}, e.role)) throw new Error(`rule ${id} reported evidence role '${e.role}', which is not in its meta.evidenceRoles`);
        }
        this.store.add(id, severity, d, template);
      },
    };
    const handlers = create(ctx);
    for (const hook of Object.keys(this.hooks) as Hook[]) if (handlers[hook] !== undefined) this.hooks[hook].push(handlers);
    for (const [role, handler] of Object.entries(handlers.on ?? {}) as Array<[Role, OperationHandler | undefined]>) {
      if (handler === undefined) continue;
      const list = this.onRole.get(role);
      if (list) list.push(handler);
      else this.onRole.set(role, [handler]);
    }
  }

  /** Roles the engine and the enabled rules need in full; other events are only counted (see EventFilter). */
  readonly neededRoles = new Set<Role>(['range-start', 'range-start-return', 'range-end', 'subscriber-start', 'subscriber-end', 'oom-reap', 'oom-reap-begin', 'oom-reap-end', 'task-exit', 'syscall', 'notifier-release']);

  /** The EventFilter for parsers: full events only for roles someone needs. */
  readonly filter: EventFilter = {
    wants: (name, group, probe) => {
      const role = this.opts.semantics.roleOf(name, group, probe);
      return role !== undefined && this.neededRoles.has(role);
    },
    skipped: (cpu, pid, sec, nsec, digits, line) => {
      this.coverage.tick(cpu, sec, nsec, digits, line);
      const t = this.tasks.get(pid);
      if (t !== undefined) {
        t.lastSeenSec = sec;
        t.lastSeenNsec = nsec;
        t.lastSeenDigits = digits;
        t.lastSeenLine = line;
        if (this.opts.live && t.openRanges.length) this.reportOverdue(t, sec, nsec, stubEvent(t, timestampFromParts(sec, nsec, digits), line));
      }
    },
  };

  push(r: TraceRecord): void {
    this.coverage.record(r);
    if (r.kind !== 'event') return;
    const task = this.task(r);
    if (this.opts.live && task.openRanges.length) this.reportOverdue(task, r.ts.sec, r.ts.nsec, r);
    const op = this.opts.semantics.resolve(r);
    if (!op) return;
    if (op.role === 'range-start' && this.startNotKept(op, task)) return;
    const handlers = this.onRole.get(op.role);
    if (handlers !== undefined) for (let i = 0; i < handlers.length; i++) handlers[i](op, task);
    switch (op.role) {
      case 'range-start': return this.rangeStart(op, task);
      case 'range-start-return': return this.rangeStartReturn(op, task);
      case 'range-end': return this.rangeEnd(op, task);
      case 'subscriber-start': return this.subscribers.start(op, task);
      case 'subscriber-end': return this.subscribers.end(op, task);
      case 'oom-reap': task.lastOomReap = op; return;
      case 'oom-reap-begin': task.inOomReapWindow = op.ev; return;
      case 'oom-reap-end': task.inOomReapWindow = undefined; return;
      case 'task-exit': return this.taskExit(op);
      case 'syscall': return this.syscallBoundary(op, task);
      case 'notifier-release': return this.mmTornDown(op, task);
      default: return;
    }
  }

  private droppedAtEnd: Array<{ cpu: number; count: number }> = [];

  /** Ring-buffer stats saved with the capture (see Coverage.bufferOverrun): call before the first record. */
  bufferStats(stats: ReadonlyArray<{ cpu: number; overrun: number; dropped: number }>): void {
    for (const s of stats) {
      if (s.overrun > 0) this.coverage.bufferOverrun(s.cpu, s.overrun);
      if (s.dropped > 0) this.droppedAtEnd.push({ cpu: s.cpu, count: s.dropped });
    }
  }

  /** The capture is over: judge what is still open, then let rules finish. */
  finish(): void {
    for (const d of this.droppedAtEnd) this.coverage.bufferDropped(d.cpu, d.count);
    for (const task of this.tasks.values()) {
      this.subscribers.finish(task);
      for (let i = task.openRanges.length - 1; i >= 0; i--) {
        const range = task.openRanges[i];
        this.resolveStart(range, task);
        if (this.reportedEarly.has(range)) continue;
        this.leftOpen(range, this.verdicts.openAtEnd(range, task, this.leftProof.get(range)));
      }
      this.dropOpenRanges(task, 0);
    }
    for (const h of this.hooks.endOfTrace) h.endOfTrace!();
    this.judgeMissingEntries();
  }

  /**
   * Known only at the end of an input: it holds fewer entries than its header
   * counted. What a finding found absent (an end, a start, a callback) may be
   * on one of the missing lines, so no such finding is asserted.
   */
  private judgeMissingEntries(): void {
    const gap = this.coverage.missingEntries;
    if (gap === undefined) return;
    this.store.demote(this.restOnAbsence, `; but the input lacks ${gap.claimed - gap.found} of the ${gap.claimed} entries its header counted (lines cut or removed after the capture), and what is missing may be among them`);
  }

  // ---- core ranges -------------------------------------------------------

  private rangeStart(op: Operation, task: TaskState): void {
    this.subscribers.checkDue(task, op);
    const key = rangeKey(op);
    const keyKind = op.args.range !== undefined ? 'pointer' : 'mm+start+end';
    this.countStart(op);
    if (op.blockable === false) this.counts.nonBlockingStarts++;
    // The same range pointer started again while still open: the earlier one never ended.
    if (keyKind === 'pointer') {
      const prev = latestOpen(task, key);
      if (prev !== undefined) {
        this.removeOpen(task, prev);
        this.resolveStart(prev, task);
        this.leftOpen(prev, this.verdicts.restarted(prev, op));
      }
    }
    task.failed?.delete(key);
    const range: RangeRecord = {
      id: `r${this.nextRangeId++}`,
      pid: task.pid,
      comm: op.ev.comm,
      start: op,
      key,
      keyKind,
      subscriberStarts: NO_OPS,
      subscriberEnds: NO_OPS,
      depth: task.openRanges.length,
    };
    this.addOpen(task, range);
    for (const h of this.hooks.rangeStart) h.rangeStart!(range, task);
  }

  private rangeStartReturn(op: Operation, task: TaskState): void {
    let range: RangeRecord | undefined;
    // The innermost open range still waiting for its return; none when every one has it (then no scan).
    if (task.awaitingReturn) {
      for (let i = task.openRanges.length - 1; i >= 0; i--) {
        if (!task.openRanges[i].startReturn) {
          range = task.openRanges[i];
          break;
        }
      }
    }
    if (!range) {
      this.counts.unmatchedReturns++;
      return;
    }
    range.startReturn = op;
    (task.awaitingReturn as number)--;
    if (op.ret !== undefined && op.ret !== 0n) {
      this.removeOpen(task, range);
      this.counts.failedStarts++;
      (task.failed ??= new Map()).set(range.key, range);
      this.resolveStart(range, task);
      for (const h of this.hooks.startFailed) h.startFailed!(range);
      this.opts.onRange?.(range, 'failed');
      // Subscribers that succeeded must have had their end called already (c2655835fd8c) — before this return.
      this.subscribers.due(task, range, op);
      this.subscribers.checkDue(task, op);
      return;
    }
    this.resolveStart(range, task);
  }

  private rangeEnd(op: Operation, task: TaskState): void {
    this.subscribers.checkDue(task, op);
    const key = rangeKey(op);
    const idx = this.openIndexForEnd(task, op, key);
    if (idx < 0) {
      const failed = task.failed?.get(key);
      if (failed) {
        task.failed?.delete(key);
        failed.end = op;
        this.counts.endsAfterFailedStart++;
        for (const h of this.hooks.endAfterFailedStart) h.endAfterFailedStart!(failed, op);
        this.opts.onRange?.(failed, 'end-after-failed');
        return;
      }
      this.counts.orphanEnds++;
      const verdict = this.verdicts.orphanEnd(op, task, key);
      for (const h of this.hooks.orphanEnd) h.orphanEnd!(op, verdict);
      return;
    }
    const range = task.openRanges[idx];
    // Ranges nest LIFO on a task: anything opened inside this one and still open will never end.
    while (task.openRanges.length - 1 > idx) {
      const inner = task.openRanges[task.openRanges.length - 1];
      this.removeOpen(task, inner);
      this.resolveStart(inner, task);
      this.leftOpen(inner, this.verdicts.outlivedBy(inner, range, op));
    }
    this.removeOpen(task, range);
    this.resolveStart(range, task);
    range.end = op;
    this.counts.paired++;
    // Reported live as left open, yet it ended: count it as paired only (the live finding stands, as printed).
    if (this.reportedEarly.has(range)) this.counts.open--;
    const ns = diffNs(range.start.ev.ts, op.ev.ts);
    this.latencyByEventType.add(eventTypeName(range.start.args.event) ?? 'unknown', ns);
    this.latencyByCaller.add(range.caller?.caller ?? range.startReturn?.returnSite ?? 'unknown', ns);
    const closed = (task.closed ??= new Map());
    closed.delete(range.key);
    closed.set(range.key, range);
    if (closed.size > 64) closed.delete(closed.keys().next().value as string);
    this.subscribers.due(task, range, op);
    for (const h of this.hooks.pairClosed) h.pairClosed!(range);
    this.opts.onRange?.(range, 'paired');
  }

  /** Live input: report the task's ranges open longer than the threshold while it runs on (once each). */
  private reportOverdue(task: TaskState, sec: number, nsec: number, now: TraceEvent): void {
    // Open ranges are in start order, so the overdue ones come first: each is looked at until it is
    // reported (or events were lost since it started, which stays so), then passed over for good.
    const open = task.openRanges;
    let k = task.overdueFrom ?? 0;
    for (; k < open.length; k++) {
      const range = open[k];
      if (this.reportedEarly.has(range)) continue;
      const since = range.start.ev.ts;
      const ranFor = (sec - since.sec) * 1e9 + (nsec - since.nsec);
      if (ranFor <= this.opts.likelyAfterNs) break;
      if (this.coverage.lossBetween(since, now.ts)) continue;
      this.reportedEarly.add(range);
      this.resolveStart(range, task);
      this.leftOpen(range, this.verdicts.overdue(ranFor, now), true);
    }
    task.overdueFrom = k;
  }

  /** Proofs that open ranges can no longer end (see LeftProof). */
  private readonly leftProof = new WeakMap<RangeRecord, LeftProof>();

  /** Ranges already reported by reportOverdue (not reported again at the end). */
  private readonly reportedEarly = new WeakSet<RangeRecord>();

  private leftOpen(range: RangeRecord, verdict: Verdict, live = false): void {
    // Live input may have reported it already (reportOverdue); count and report each range once.
    if (!live && this.reportedEarly.has(range)) return;
    this.counts.open++;
    for (const h of this.hooks.pairLeftOpen) h.pairLeftOpen!(range, verdict);
    this.opts.onRange?.(range, 'open');
  }

  // ---- leaving the kernel entry ------------------------------------------

  /**
   * The task is at a system call boundary: whatever it still holds open was
   * started in an earlier kernel entry, and a range lives on its caller's
   * stack within one entry, so none of them can end any more.
   */
  private syscallBoundary(op: Operation, task: TaskState): void {
    task.syscallSeen = op;
    // Ranges before provedFrom have this proof from an earlier boundary (or the task's own teardown), which stands.
    const open = task.openRanges;
    for (let k = task.provedFrom ?? 0; k < open.length; k++) this.proveLeft(open[k], task, op, 'syscall');
    task.provedFrom = open.length;
  }

  /** An mm is torn down (__mmu_notifier_release, exit_mmap): ranges still open on it. */
  private mmTornDown(op: Operation, task: TaskState): void {
    const mm = op.args.mm;
    const open = mm === undefined ? undefined : this.openByMm.get(mm);
    if (open === undefined) return;
    for (const [range, t] of open) this.proveLeft(range, t, op, t === task ? 'own-teardown' : 'teardown');
  }

  /** Keep the first proof that `range` can no longer end; a proof by the task itself outranks another task's teardown. */
  private proveLeft(range: RangeRecord, task: TaskState, op: Operation, kind: LeftProof['kind']): void {
    const had = this.leftProof.get(range);
    if (had !== undefined && (had.kind !== 'teardown' || kind === 'teardown')) return;
    const proof = { op, kind };
    this.leftProof.set(range, proof);
    // Live input: the task's own proof is final, so say so now rather than at the end of the input.
    if (this.opts.live && kind !== 'teardown' && !this.reportedEarly.has(range) && !this.coverage.lossBetween(range.start.ev.ts, op.ev.ts)) {
      this.reportedEarly.add(range);
      this.resolveStart(range, task);
      this.leftOpen(range, this.verdicts.openAtEnd(range, task, proof), true);
    }
  }

  /** Fill in caller evidence and tell rules the start's outcome is known. Idempotent. */
  private resolveStart(range: RangeRecord, task: TaskState): void {
    if (range.caller) return;
    range.caller = this.callerEvidence(range, task);
    for (const h of this.hooks.rangeStartResolved) h.rangeStartResolved!(range);
  }

  private callerEvidence(range: RangeRecord, task: TaskState): CallerEvidence {
    const start = range.start;
    const stack = start.ev.stack;
    if (stack && stack.length) {
      const reaper = stack.find((f) => REAPER_FRAMES.has(f.symbol));
      if (reaper) return { verdict: 'reaper', basis: `stack frame ${reaper.symbol}`, caller: reaper.symbol, evidence: [start.ev] };
      const caller = callerFromStack(stack.map((f) => f.symbol));
      return { verdict: 'other', basis: `stack trace (no __oom_reap_task_mm frame)`, caller, evidence: [start.ev] };
    }
    const ret = range.startReturn;
    if (ret?.returnSite) {
      if (REAPER_FRAMES.has(ret.returnSite)) {
        return { verdict: 'reaper', basis: `the start returned to ${ret.returnSite}`, caller: ret.returnSite, evidence: [ret.ev] };
      }
      return { verdict: 'other', basis: `the start returned to ${ret.returnSite}`, caller: ret.returnSite, evidence: [ret.ev] };
    }
    const reap = task.lastOomReap;
    if (reap && (reap.args.mm === undefined || start.args.mm === undefined || reap.args.mm === start.args.mm)) {
      return { verdict: 'reaper', basis: `__oom_reap_task_mm was entered on this task at line ${reap.ev.src.line}${reap.args.mm ? ` for the same mm ${reap.args.mm}` : ''}`, caller: '__oom_reap_task_mm', evidence: [reap.ev] };
    }
    if (task.inOomReapWindow) {
      return { verdict: 'reaper', basis: `inside the oom:start_task_reaping window opened at line ${task.inOomReapWindow.src.line}`, caller: 'oom_reaper', evidence: [task.inOomReapWindow] };
    }
    return { verdict: 'unknown', basis: 'no stack, return site, __oom_reap_task_mm probe or oom reaping window was captured for this start', evidence: [] };
  }

  // ---- open-range storage ------------------------------------------------
  //
  // task.openRanges holds a task's open ranges in start order (they nest LIFO);
  // task.openByKey finds one by key without a scan, so a task holding tens of
  // thousands of open ranges stays linear. Every change goes through these.

  /** Open ranges kept, over all tasks (at most MAX_OPEN_RANGES). */
  private openKept = 0;
  /** Open ranges by their mm, in start order, with their task: a teardown of the mm finds them without a scan of every open range. */
  private readonly openByMm = new Map<string, Map<RangeRecord, TaskState>>();

  private addOpen(task: TaskState, range: RangeRecord): void {
    task.openRanges.push(range);
    // A range is opened by its start, before any return.
    task.awaitingReturn = (task.awaitingReturn ?? 0) + 1;
    const byKey = (task.openByKey ??= new Map());
    const same = byKey.get(range.key);
    if (same === undefined) byKey.set(range.key, range);
    else if (Array.isArray(same)) same.push(range);
    else byKey.set(range.key, [same, range]);
    const mm = range.start.args.mm;
    if (task.openPerMm !== undefined) {
      const list = task.openPerMm.get(mm ?? '');
      if (list === undefined) task.openPerMm.set(mm ?? '', [range]);
      else list.push(range);
    }
    if (mm !== undefined) {
      const onMm = this.openByMm.get(mm);
      if (onMm === undefined) this.openByMm.set(mm, new Map([[range, task]]));
      else onMm.set(range, task);
    }
    this.openKept++;
  }

  /** Take `range` off the task's open ranges (usually the innermost: then no scan). */
  private removeOpen(task: TaskState, range: RangeRecord): void {
    const open = task.openRanges;
    const at = open[open.length - 1] === range ? open.length - 1 : open.lastIndexOf(range);
    if (at === open.length - 1) open.pop();
    else open.splice(at, 1);
    if (task.overdueFrom !== undefined && at < task.overdueFrom) task.overdueFrom--;
    if (task.provedFrom !== undefined && at < task.provedFrom) task.provedFrom--;
    if (!range.startReturn) (task.awaitingReturn as number)--;
    const byKey = task.openByKey as NonNullable<TaskState['openByKey']>;
    const same = byKey.get(range.key);
    if (same === range) byKey.delete(range.key);
    else if (Array.isArray(same)) {
      same.splice(same.lastIndexOf(range), 1);
      if (same.length === 1) byKey.set(range.key, same[0]);
    }
    const mm = range.start.args.mm;
    if (task.openPerMm !== undefined) {
      if (open.length === 0) task.openPerMm = undefined;
      else {
        const list = task.openPerMm.get(mm ?? '') as RangeRecord[];
        if (list[list.length - 1] === range) list.pop();
        else list.splice(list.lastIndexOf(range), 1);
        if (list.length === 0) task.openPerMm.delete(mm ?? '');
      }
    }
    const onMm = mm === undefined ? undefined : this.openByMm.get(mm);
    if (onMm !== undefined && onMm.delete(range) && onMm.size === 0) this.openByMm.delete(mm as string);
    this.openKept--;
  }

  /** Forget the task's open ranges from index `from` on (they have been judged). */
  private dropOpenRanges(task: TaskState, from: number): void {
    while (task.openRanges.length > from) this.removeOpen(task, task.openRanges[task.openRanges.length - 1]);
  }

  /**
   * Past MAX_OPEN_RANGES open at once, a start is counted, not kept: neither
   * the engine nor the rules see it (a start that restarts an open range of
   * the task frees its place, so it is kept). From the first such start on,
   * the capture counts as incomplete (Coverage.rangesNotKept).
   */
  private startNotKept(op: Operation, task: TaskState): boolean {
    if (this.openKept < MAX_OPEN_RANGES || (op.args.range !== undefined && latestOpen(task, op.args.range) !== undefined)) return false;
    this.countStart(op);
    this.counts.notKept++;
    if (this.counts.notKept === 1) this.coverage.rangesNotKept(op.ev.ts, op.ev.src.line);
    return true;
  }

  /** A start counted in the totals, kept or not. */
  private countStart(op: Operation): void {
    this.counts.starts++;
    const type = eventTypeName(op.args.event) ?? 'unknown';
    this.counts.startsByEventType[type] = (this.counts.startsByEventType[type] ?? 0) + 1;
  }

  /**
   * The task's innermost open range that may be on `mm`: its mm is `mm`, or one of the two was
   * not captured. A task holding many ranges gets a per-mm index on the first such question, so
   * a run of calls on another mm does not scan them all each time (RuleContext.latestOpenOn).
   */
  latestOpenOn(task: TaskState, mm: string | undefined): RangeRecord | undefined {
    const open = task.openRanges;
    if (mm === undefined || open.length === 0) return open[open.length - 1];
    if (open.length <= 32) {
      for (let i = open.length - 1; i >= 0; i--) {
        const other = open[i].start.args.mm;
        if (other === undefined || other === mm) return open[i];
      }
      return undefined;
    }
    if (task.openPerMm === undefined) {
      task.openPerMm = new Map();
      for (const r of open) {
        const key = r.start.args.mm ?? '';
        const list = task.openPerMm.get(key);
        if (list === undefined) task.openPerMm.set(key, [r]);
        else list.push(r);
      }
    }
    const same = task.openPerMm.get(mm);
    const unknown = task.openPerMm.get('');
    const a = same?.[same.length - 1];
    const b = unknown?.[unknown.length - 1];
    if (a === undefined || b === undefined) return a ?? b;
    // Both are open on the task: the later start is the inner one (ids count up in start order).
    return Number(a.id.slice(1)) > Number(b.id.slice(1)) ? a : b;
  }

  /**
   * Where in task.openRanges the range an end closes is (-1: none): the
   * innermost of its key, or within the innermost few, one whose key is of
   * the other kind (pointer vs mm+start+end) with the same mm, start and end.
   */
  private openIndexForEnd(task: TaskState, end: Operation, key: string): number {
    const open = task.openRanges;
    const byKey = latestOpen(task, key);
    const stop = Math.max(0, open.length - FALLBACK_DEPTH);
    for (let i = open.length - 1; i >= stop; i--) if (open[i] === byKey || sameRange(open[i], end, key)) return i;
    return byKey === undefined ? -1 : open.lastIndexOf(byKey);
  }

  // ---- tasks -------------------------------------------------------------

  private task(ev: TraceEvent): TaskState {
    const key = taskKey(ev.pid, ev.machine);
    let t = this.tasks.get(key);
    if (!t) {
      t = {
        key, pid: ev.pid, comm: ev.comm, openRanges: [], firstEvent: ev, lastEvent: ev,
      };
      // Sweep before the new task is kept: it has nothing open yet, and would be forgotten with the idle ones.
      if (this.tasks.size >= this.sweepAt) this.forgetIdleTasks();
      this.tasks.set(key, t);
    } else {
      t.lastEvent = ev;
      if (t.lastSeenLine !== undefined && t.lastSeenLine < ev.src.line) t.lastSeenLine = undefined;
      if (ev.comm !== '<...>') t.comm = ev.comm;
    }
    return t;
  }

  /** Above this many tasks, idle ones are forgotten (see forgetIdleTasks). */
  private sweepAt = TASKS_KEPT;

  /**
   * Memory grows with what is open, not with how many tasks ran: a capture of
   * kmem events from a fork-heavy machine sees millions of pids. A task with
   * nothing open (no range, failed start, subscriber call or OOM reaping
   * state) is forgotten. All it loses is the proof that a range of it was
   * already ended, so a second end of that range would read as likely or
   * inconclusive instead of certain: never a finding that was not there.
   */
  private forgetIdleTasks(): void {
    for (const [key, t] of this.tasks) {
      if (t.openRanges.length === 0 && !t.failed?.size && this.subscribers.idle(t) &&
        t.lastOomReap === undefined && t.inOomReapWindow === undefined) this.tasks.delete(key);
    }
    // When most tasks hold something open, sweep again only after as many more have come.
    this.sweepAt = Math.max(TASKS_KEPT, this.tasks.size * 2);
  }

  private taskExit(op: Operation): void {
    const pid = op.targetPid ?? op.ev.pid;
    // The exiting task is of the machine that traced its exit.
    const key = taskKey(pid, op.ev.machine);
    const task = this.tasks.get(key);
    if (!task) return;
    task.exited = op.ev;
    this.subscribers.checkDue(task, op);
    for (let i = task.openRanges.length - 1; i >= 0; i--) {
      const range = task.openRanges[i];
      this.resolveStart(range, task);
      this.leftOpen(range, this.verdicts.exited(range, task, op));
    }
    this.dropOpenRanges(task, 0);
    this.tasks.delete(key);
  }

  /** Subscriber in-progress counts at the end of the capture. */
  subscriberSummaries(): SubscriberSummary[] {
    return this.subscribers.summaries();
  }
}

/** How deep in a task's open ranges an end is matched by mm, start and end when its key is of the other kind. */
const FALLBACK_DEPTH = 64;

function sameRange(r: RangeRecord, end: Operation, key: string): boolean {
  if (r.key === key) return true;
  // An end probe without the pointer (or a start without it): fall back to mm + start + end.
  const a = r.start.args;
  const b = end.args;
  if ((r.keyKind === 'pointer') !== (end.args.range !== undefined)) {
    return a.mm !== undefined && a.mm === b.mm && a.start === b.start && a.end === b.end;
  }
  return false;
}

/** The first frame below the probed function that is not tracing machinery. */
function callerFromStack(symbols: string[]): string | undefined {
  const at = symbols.indexOf('__mmu_notifier_invalidate_range_start');
  const below = at >= 0 ? symbols.slice(at + 1) : symbols.filter((s) => !TRACING_FRAMES.test(s));
  return below.find((s) => !TRACING_FRAMES.test(s) && !s.startsWith('mmu_notifier_invalidate_range_start'));
}
