import { defineRule } from '../src/engine/types';
import { eventTypeName } from '../src/semantics/operations';

const rule = defineRule({
  meta: {
    id: 'unpaired-start',
    defaultSeverity: 'error',
    restsOnAbsence: true,
    docs: {
      description: 'An invalidation range start that returned 0 (or whose return was not captured) with no matching end.',
      rationale:
        'mmu_notifier_invalidate_range_start() tells every subscriber (KVM, IOMMU SVA, HMM drivers) to stop using [start, end) ' +
        'until mmu_notifier_invalidate_range_end() is called with the same struct mmu_notifier_range. Subscribers count: KVM ' +
        'raises mmu_invalidate_in_progress (mmu_notifier_count before about 6.0) in its start callback and lowers it in its end ' +
        'callback; while it is non-zero vCPU page faults on the range retry forever (a soft lockup in the guest) and memslot ' +
        'updates wait. A start that succeeded and is never ended leaves that count raised for good (mm/mmu_notifier.c, ' +
        'virt/kvm/kvm_main.c).',
      commits: [
        'c2655835fd8c (v5.12): mm/mmu_notifiers: ensure range_end() is paired with range_start()',
        '93065ac753e4 (v4.19): mm, oom: distinguish blockable mode for mmu notifiers',
      ],
      kernels: 'all kernels with mmu notifiers (2.6.27+); range pointers exist from 5.0 (earlier kernels pair by task + mm + start + end)',
      capture: 'a kretprobe on __mmu_notifier_invalidate_range_start (to tell failed starts, which must not be ended); for a certain verdict, an event showing the task left the kernel entry after the start: a trace_marker write, raw_syscalls or syscalls events, sched:sched_process_exit, __mmu_notifier_release or exit_mmap of the range\'s mm (docs/capture.md, "What proves a leak")',
    },
    evidenceRoles: {
      start: 'the start',
      return: 'the start\'s return',
      'subscriber-start': 'a subscriber\'s start callback for it',
      proof: 'what proves it will not end',
    },
    messages: {
      leftOpen: '{{comm}}-{{pid}} started invalidation range {{key}} ({{eventType}}, {{span}}) and never ended it: {{reason}}. Subscribers such as KVM keep their in-progress count raised for this mm until an end comes.',
    },
  },
  create(context) {
    return {
      pairLeftOpen(range, verdict) {
        const a = range.start.args;
        context.report({
          confidence: verdict.confidence,
          event: range.start.ev,
          messageId: 'leftOpen', data: {
            comm: range.comm, pid: range.pid, key: range.key,
            eventType: eventTypeName(a.event) ?? 'event type not captured',
            span: a.start !== undefined ? `${a.start}-${a.end}` : 'addresses not captured',
            reason: verdict.reason,
          },
          evidence: [
            { ev: range.start.ev, role: 'start' as const },
            ...(range.startReturn ? [{ ev: range.startReturn.ev, role: 'return' as const }] : []),
            ...range.subscriberStarts.map((s) => ({ ev: s.ev, role: 'subscriber-start' as const })),
            ...verdict.evidence.map((ev) => ({ ev, role: 'proof' as const })),
          ],
        });
      },
    };
  },
});

export default rule;
