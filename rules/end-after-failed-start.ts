import { defineRule } from '../src/engine/types';

const rule = defineRule({
  meta: {
    id: 'end-after-failed-start',
    defaultSeverity: 'error',
    restsOnAbsence: true,
    docs: {
      description: 'An invalidation range end issued after its start returned non-zero (failed).',
      rationale:
        'A non-blocking start (mmu_notifier_invalidate_range_start_nonblock) fails with -EAGAIN when a subscriber would have to ' +
        'sleep. Since c2655835fd8c the core itself calls invalidate_range_end on every subscriber that implements it when any ' +
        'subscriber failed, so the caller must not call end: __oom_reap_task_mm does `if (mmu_notifier_invalidate_range_start_nonblock(&range)) ' +
        '{ tlb_finish_mmu(&tlb); ret = false; continue; }`. Ending a failed start calls the subscribers\' end callbacks a second ' +
        'time, driving KVM\'s mmu_invalidate_in_progress below zero.',
      commits: [
        'c2655835fd8c (v5.12, also 5.10.27+): mm/mmu_notifiers: ensure range_end() is paired with range_start()',
        '93065ac753e4 (v4.19): mm, oom: distinguish blockable mode for mmu notifiers',
      ],
      kernels: '4.19+ (non-blocking starts exist); double accounting in subscribers on 5.12+ and 5.10.27+',
      capture: 'a kretprobe on __mmu_notifier_invalidate_range_start (ret=$retval:s32)',
    },
    evidenceRoles: {
      end: 'the end called for the failed start',
      start: 'the start',
      'failed-return': 'the start\'s non-zero return',
    },
    messages: {
      endAfterFailed: '{{comm}}-{{pid}} ended range {{key}} although its start returned {{ret}} (line {{retLine}}): a failed start must not be ended; the core already ended the subscribers.',
    },
  },
  create(context) {
    return {
      endAfterFailedStart(range, end) {
        context.report({
          confidence: 'certain',
          event: end.ev,
          messageId: 'endAfterFailed', data: {
            comm: end.ev.comm, pid: end.ev.pid, key: range.key,
            ret: String(range.startReturn?.ret ?? '?'), retLine: range.startReturn?.ev.src.line,
          },
          evidence: [
            { ev: end.ev, role: 'end' as const },
            { ev: range.start.ev, role: 'start' as const },
            ...(range.startReturn ? [{ ev: range.startReturn.ev, role: 'failed-return' as const }] : []),
          ],
        });
      },
    };
  },
});

export default rule;
