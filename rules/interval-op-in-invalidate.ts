import type { Confidence, TaskView } from '../src/engine/types';
import { defineRule } from '../src/engine/types';
import type { Operation } from '../src/semantics/operations';
import { describePlacement, InsideInvalidationTracker, PLACEMENT_ROLES, placementEvidence, type Placement, type PlacementRole } from './support/inside-invalidation';

const CALLS: Record<string, string> = {
  'interval-insert': 'mmu_interval_notifier_insert',
  'interval-remove': 'mmu_interval_notifier_remove',
  'interval-read-begin': 'mmu_interval_read_begin',
};

/** Calls that wait for the mm's invalidations to finish (wait_event on subscriptions->wq). */
const WAITS = new Set(['interval-remove', 'interval-read-begin']);

const rule = defineRule({
  meta: {
    id: 'interval-op-in-invalidate',
    defaultSeverity: 'error',
    restsOnAbsence: true,
    docs: {
      description: 'mmu_interval_notifier_insert/_insert_locked/_remove or mmu_interval_read_begin called by a task from inside an invalidation it is performing.',
      rationale:
        'mmu_interval_notifier_remove() and mmu_interval_read_begin() sleep until the invalidation in progress on the mm ends: ' +
        'wait_event(subscriptions->wq, invalidate_seq != seq), and invalidate_seq only moves on in mn_itree_inv_end(), which runs ' +
        'from the __mmu_notifier_invalidate_range_end() of the task that started the range. Called from inside an invalidate() ' +
        'callback (between mn_itree_inv_start_range and mn_itree_inv_end, or within __mmu_notifier_invalidate_range_start where ' +
        'callbacks run) they wait for the very task that is waiting: a self-deadlock. Both also take and release ' +
        '__mmu_notifier_invalidate_range_start_map, so lockdep reports them inside a start callback. mmu_interval_notifier_insert() ' +
        'may take mmap_lock (might_lock, mmu_notifier_register) which invalidation callers often hold. The merged API says of ' +
        'remove: "It cannot be called from any ops callback"; seed 001 is the review (Jan 2020) of a patch that tried to make ' +
        'insert/remove safe to call from invalidate(), and the merged API still forbids it. Between the start\'s return and the end the task holds the range open: a remove or ' +
        'read_begin there still waits for the task\'s own end if the interval overlaps the range (likely).',
      commits: [
        '99cb252f5e68 (v5.5): mm/mmu_notifier: add an interval tree notifier (mmu_interval_notifier_insert/remove, mmu_interval_read_begin)',
        'review of "[PATCH v5 1/2] mm/mmu_notifier: make interval notifier updates safe" (Jan 2020, seed 001): calling them from invalidate() stays forbidden',
      ],
      kernels: '5.5+ (interval notifiers; before 5.5 there is nothing to call)',
      capture:
        'kprobes on mmu_interval_notifier_insert(_locked)/_remove/mmu_interval_read_begin, mn_itree_inv_start_range/mn_itree_inv_end, ' +
        'the core start (with its kretprobe) and end, the subscriber callbacks; or a stacktrace trigger on the interval probes',
    },
    evidenceRoles: {
      ...PLACEMENT_ROLES,
      'interval-call': 'the mmu_interval_notifier_insert, _remove or mmu_interval_read_begin call',
      'start-return': 'the invalidation start\'s return',
    },
    messages: {
      inside: '{{comm}}-{{pid}} called {{call}} {{where}}. {{consequence}}',
      held: '{{comm}}-{{pid}} called {{call}} while holding invalidation range {{key}} open on {{mmText}} (started line {{line}}, not yet ended): {{call}} waits until the invalidation ends, and only this task\'s own end ends it if the interval overlaps [{{span}}).{{decide}}',
      itree: '{{comm}}-{{pid}} called {{call}} while its own invalidation of this mm\'s interval tree is in progress (mn_itree_inv_start_range at line {{line}}, no mn_itree_inv_end yet): {{call}} waits for invalidate_seq to move on, which only this task\'s mn_itree_inv_end does.',
    },
    operations: ['interval-insert', 'interval-remove', 'interval-read-begin', 'itree-inv-start', 'itree-inv-end', 'secondary-tlb'],
  },
  create(context) {
    const tracker = new InsideInvalidationTracker<null>((c, where) => placed(c.op, where));
    const call = (op: Operation, task: TaskView) => {
      const state = tracker.candidate({ op, data: null }, task);
      if (state === 'outside') held(op, task);
    };
    return {
      on: { ...tracker.on, 'interval-insert': call, 'interval-remove': call, 'interval-read-begin': call },
      endOfTrace() {
        tracker.finish();
      },
    };

    function placed(op: Operation, where: Placement) {
      if (where.kind === 'start-unproven') {
        // Inside the start call or in the caller holding the range: a self-wait either way for the waiting calls.
        if (WAITS.has(op.role)) return report(op, 'likely', 'inside', {
          comm: op.ev.comm, pid: op.ev.pid, call: CALLS[op.role], where: describePlacement(where),
          consequence: 'Either way it waits for an invalidation that only this task can end.',
        }, placementEvidence(where));
        return report(op, 'inconclusive', 'inside', {
          comm: op.ev.comm, pid: op.ev.pid, call: CALLS[op.role], where: describePlacement(where),
          consequence: 'Inside a start callback this is forbidden ("cannot be called from any ops callback"); capture the start\'s kretprobe to decide.',
        }, placementEvidence(where));
      }
      const confidence: Confidence = where.side === 'start' ? 'certain' : 'likely';
      const consequence = WAITS.has(op.role)
        ? 'It sleeps until the invalidation in progress ends, and this task is the one that must end it: a self-deadlock (lockdep also reports __mmu_notifier_invalidate_range_start_map).'
        : 'Interval notifier calls are forbidden from invalidation callbacks: insert may take mmap_lock, which the invalidating caller may hold.';
      report(op, confidence, 'inside', {
        comm: op.ev.comm, pid: op.ev.pid, call: CALLS[op.role], where: describePlacement(where), consequence,
      }, placementEvidence(where));
    }

    /** Not inside a call: the task may still hold a range open, or the mm's interval tree invalidation. */
    function held(op: Operation, task: TaskView) {
      if (!WAITS.has(op.role)) return;
      const itree = tracker.itreeWindow(task.key);
      if (itree && (op.args.mm === undefined || itree.args.mm === undefined || op.args.mm === itree.args.mm)) {
        return report(op, 'likely', 'itree', {
          comm: op.ev.comm, pid: op.ev.pid, call: CALLS[op.role], line: itree.ev.src.line,
        }, [{ ev: itree.ev, role: 'itree-invalidation' as const }]);
      }
      const r = context.latestOpenOn(task, op.args.mm);
      if (r === undefined) return;
      const mm = r.start.args.mm;
      const sameMm = op.args.mm !== undefined && mm !== undefined;
      report(op, sameMm ? 'likely' : 'inconclusive', 'held', {
        comm: op.ev.comm, pid: op.ev.pid, call: CALLS[op.role], key: r.key, line: r.start.ev.src.line,
        mmText: sameMm ? `the same mm ${mm}` : `mm ${mm ?? '(not captured)'} (the call's mm was not captured)`,
        span: r.start.args.start !== undefined ? `${r.start.args.start}, ${r.start.args.end}` : 'the range',
        decide: sameMm ? '' : ' Capture the interval\'s mm to decide.',
      }, [
        { ev: r.start.ev, role: 'invalidation-start' as const },
        ...(r.startReturn ? [{ ev: r.startReturn.ev, role: 'start-return' as const }] : []),
      ]);
    }

    function report(op: Operation, confidence: Confidence, messageId: 'inside' | 'held' | 'itree', data: Record<string, string | number | undefined>, more: Array<{ ev: Operation['ev']; role: PlacementRole | 'start-return' }>) {
      context.report({ confidence, event: op.ev, messageId, data, evidence: [{ ev: op.ev, role: 'interval-call' as const }, ...more] });
    }
  },
});

export default rule;
