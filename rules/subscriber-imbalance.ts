import type { RuleModule } from '../src/engine/types';
import { format } from '../src/engine/types';

const rule: RuleModule = {
  meta: {
    id: 'subscriber-imbalance',
    defaultSeverity: 'error',
    docs: {
      description: 'A subscriber (e.g. KVM) got invalidate_range_start for a range without the matching invalidate_range_end (or the reverse): its in-progress count is left raised (or driven down).',
      rationale:
        'Subscribers that implement both callbacks expect them paired. KVM increments mmu_invalidate_in_progress in ' +
        'kvm_mmu_notifier_invalidate_range_start and decrements it in _end; an unmatched start leaves it raised for good, so vCPU ' +
        'faults on the VM retry forever and memslot updates can hang. Before c2655835fd8c (v5.12; 5.10.27 in stable) a failed ' +
        'non-blocking start returned without calling _end on the subscribers that had succeeded: "observing that KVM exits with ' +
        'an elevated notifier count". Since then the core calls invalidate_range_end on every subscriber when any start failed.',
      commits: ['c2655835fd8c (v5.12, backported to 5.10.27): mm/mmu_notifiers: ensure range_end() is paired with range_start()'],
      kernels: 'a failed start leaves the count raised on kernels before 5.12 (and 5.10 before 5.10.27); other imbalances on any kernel',
      capture: 'kprobes on the subscriber callbacks (kvm_mmu_notifier_invalidate_range_start/_end with mn=%di range=%si) and on the core start/end with the kretprobe',
    },
    messages: {
      startWithoutEnd: '{{kind}} subscriber {{subscriber}} got invalidate_range_start for range {{key}} from {{comm}}-{{pid}} but never its end: {{reason}}. Its in-progress count (KVM: mmu_invalidate_in_progress) stays raised.',
      endWithoutStart: '{{kind}} subscriber {{subscriber}} got invalidate_range_end for range {{key}} from {{comm}}-{{pid}} without its start: {{reason}}. Its in-progress count is driven below the invalidations in flight.',
    },
  },
  create(context) {
    return {
      subscriberImbalance(imb) {
        const main = imb.ops[0];
        context.report({
          confidence: imb.verdict.confidence,
          event: main.ev,
          message: format(imb.direction === 'start-without-end' ? rule.meta.messages.startWithoutEnd : rule.meta.messages.endWithoutStart, {
            kind: imb.subscriberKind ? imb.subscriberKind.toUpperCase() : 'A', subscriber: imb.subscriber, key: imb.key,
            comm: imb.comm, pid: imb.pid, reason: imb.verdict.reason,
          }),
          evidence: [
            ...imb.ops.map((o) => ({ ev: o.ev, role: o.role === 'subscriber-start' ? 'subscriber start' : 'subscriber end' })),
            ...(imb.range ? [{ ev: imb.range.start.ev, role: 'core start' }] : []),
            ...(imb.range?.startReturn ? [{ ev: imb.range.startReturn.ev, role: 'core return' }] : []),
            ...(imb.range?.end ? [{ ev: imb.range.end.ev, role: 'core end' }] : []),
            ...imb.verdict.evidence.filter((e) => e !== imb.range?.startReturn?.ev && e !== imb.range?.end?.ev).map((ev) => ({ ev, role: 'proof' })),
          ],
        });
      },
    };
  },
};

export default rule;
