import { defineRule } from '../src/engine/types';

const rule = defineRule({
  meta: {
    id: 'unpaired-end',
    defaultSeverity: 'error',
    restsOnAbsence: true,
    docs: {
      description: 'An invalidation range end with no start for that range on the same task.',
      rationale:
        'mmu_notifier_invalidate_range_end() must follow exactly one successful mmu_notifier_invalidate_range_start() with the ' +
        'same struct mmu_notifier_range, from the same task. An end without a start calls every subscriber\'s invalidate_range_end ' +
        'callback unbalanced: KVM decrements mmu_invalidate_in_progress below the number of invalidations really in flight, so ' +
        'vCPUs may install mappings for a range that is being changed (a stale secondary-MMU mapping).',
      commits: ['c2655835fd8c (v5.12): mm/mmu_notifiers: ensure range_end() is paired with range_start()'],
      kernels: 'all kernels with mmu notifiers',
      capture: 'start the capture before the workload: an end right after the capture began is inconclusive (its start may predate the capture); an end after its task\'s system call boundary (a trace_marker write, raw_syscalls or syscalls events) with no start since is certain',
    },
    evidenceRoles: {
      end: 'the end',
      proof: 'what proves it has no start',
    },
    messages: {
      orphan: '{{comm}}-{{pid}} ended invalidation range {{key}} with no start for it on this task: {{reason}}.',
    },
  },
  create(context) {
    return {
      orphanEnd(end, verdict) {
        context.report({
          confidence: verdict.confidence,
          event: end.ev,
          messageId: 'orphan', data: {
            comm: end.ev.comm, pid: end.ev.pid,
            key: end.args.range ?? `${end.args.start ?? '?'}-${end.args.end ?? '?'}`,
            reason: verdict.reason,
          },
          evidence: [{ ev: end.ev, role: 'end' as const }, ...verdict.evidence.map((ev) => ({ ev, role: 'proof' as const }))],
        });
      },
    };
  },
});

export default rule;
