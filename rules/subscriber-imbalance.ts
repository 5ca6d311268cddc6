import { defineRule } from '../src/engine/types';

const rule = defineRule({
  meta: {
    id: 'subscriber-imbalance',
    defaultSeverity: 'error',
    restsOnAbsence: true,
    docs: {
      description: 'A subscriber (e.g. KVM) got invalidate_range_start for a range without the matching invalidate_range_end (or the reverse): its in-progress count is left raised (or driven down).',
      rationale:
        'Subscribers that implement both callbacks expect them paired. KVM increments mmu_invalidate_in_progress in ' +
        'kvm_mmu_notifier_invalidate_range_start and decrements it in _end; an unmatched start leaves it raised for good, so vCPU ' +
        'faults on the VM retry forever and memslot updates can hang. Before c2655835fd8c (v5.12; 5.10.27 in stable) a failed ' +
        'non-blocking start returned without calling _end on the subscribers that had succeeded: "observing that KVM exits with ' +
        'an elevated notifier count". Since then the core calls invalidate_range_end on every subscriber when any start failed.',
      commits: ['c2655835fd8c (v5.12, backported to 5.10.27): mm/mmu_notifiers: ensure range_end() is paired with range_start()'],
      kernels: 'a failed start leaves the count raised on kernels before 5.12 (and 5.10 before 5.10.27); with --kernel naming a kernel that has c2655835fd8c, a failed start without the subscriber\'s end means the end was not captured (inconclusive); other imbalances on any kernel',
      capture: 'kprobes on the subscriber callbacks (kvm_mmu_notifier_invalidate_range_start/_end with mn=%di range=%si) and on the core start/end with the kretprobe',
    },
    evidenceRoles: {
      'subscriber-start': 'the subscriber\'s start callback',
      'subscriber-end': 'the subscriber\'s end callback',
      'core-start': 'the core invalidation start',
      'core-return': 'the core start\'s return',
      'core-end': 'the core invalidation end',
      proof: 'what proves the callback is missing',
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
        let { confidence, reason } = imb.verdict;
        // A failed start: only kernels without c2655835fd8c return without ending the subscribers that succeeded.
        const failedRet = imb.range?.startReturn?.ret;
        if (imb.direction === 'start-without-end' && failedRet !== undefined && failedRet !== 0n) {
          const kernel = context.kernel;
          if (kernel && hasRangeEndFix(kernel)) {
            confidence = 'inconclusive';
            reason = `the core start failed (ret=${failedRet}), but kernel ${kernel.version} has c2655835fd8c, whose core calls every subscriber's invalidate_range_end before a failed start returns: the end was most likely not captured (or --kernel names another kernel)`;
          } else if (kernel) {
            reason += `: kernel ${kernel.version} lacks c2655835fd8c (v5.12, 5.10.27 in stable), so the caller will not end the range either`;
          } else {
            // The kernel is unknown: no older kernel is assumed.
            if (confidence === 'certain') confidence = 'likely';
            reason += ': a kernel without c2655835fd8c (before 5.12, or 5.10 before 5.10.27) leaves it so, as the caller will not end the range either; ' +
              'likely, not certain: the kernel is unknown (no --kernel, no uname.txt), and on a kernel with c2655835fd8c the core ends it itself, so the end would not have been captured';
          }
        }
        context.report({
          confidence,
          event: main.ev,
          messageId: imb.direction === 'start-without-end' ? 'startWithoutEnd' : 'endWithoutStart', data: {
            kind: imb.subscriberKind ? imb.subscriberKind.toUpperCase() : 'A', subscriber: imb.subscriber, key: imb.key,
            comm: imb.comm, pid: imb.pid, reason,
          },
          evidence: [
            ...imb.ops.map((o) => ({ ev: o.ev, role: o.role === 'subscriber-start' ? 'subscriber-start' as const : 'subscriber-end' as const })),
            ...(imb.range ? [{ ev: imb.range.start.ev, role: 'core-start' as const }] : []),
            ...(imb.range?.startReturn ? [{ ev: imb.range.startReturn.ev, role: 'core-return' as const }] : []),
            ...(imb.range?.end ? [{ ev: imb.range.end.ev, role: 'core-end' as const }] : []),
            ...imb.verdict.evidence.filter((e) => e !== imb.range?.startReturn?.ev && e !== imb.range?.end?.ev).map((ev) => ({ ev, role: 'proof' as const })),
          ],
        });
      },
    };
  },
});

/** c2655835fd8c is in v5.12 and in the 5.10 stable series from 5.10.27. */
function hasRangeEndFix(k: { major: number; minor: number; patch?: number }): boolean {
  if (k.major !== 5) return k.major > 5;
  if (k.minor >= 12) return true;
  return k.minor === 10 && (k.patch ?? 0) >= 27;
}

export default rule;
