import { defineRule } from '../src/engine/types';

const rule = defineRule({
  meta: {
    id: 'failed-blockable-start',
    defaultSeverity: 'error',
    docs: {
      description: 'A blocking invalidation range start (MMU_NOTIFIER_RANGE_BLOCKABLE set) that returned non-zero.',
      rationale:
        'Only the non-blocking start may fail. mn_hlist_invalidate_range_start() in mm/mmu_notifier.c WARNs on ' +
        '`mmu_notifier_range_blockable(range) || _ret != -EAGAIN`: a subscriber that refuses a blockable invalidation breaks ' +
        'the contract, and callers of the blocking start (munmap, mprotect, reclaim, migration) do not check the return value, ' +
        'so they will change the page tables while that subscriber still maps the range.',
      commits: ['93065ac753e4 (v4.19): mm, oom: distinguish blockable mode for mmu notifiers'],
      kernels: '4.19+',
      capture: 'the start probe with flags=+32(%di):u32 (6.1 layout) and a kretprobe with ret=$retval:s32',
    },
    evidenceRoles: {
      'failed-return': 'the start\'s non-zero return',
      'blockable-start': 'the start, made blockable',
    },
    messages: {
      failedBlockable: '{{comm}}-{{pid}}: blocking start of range {{key}} returned {{ret}}; a blockable start must never fail (the kernel WARNs in mn_hlist_invalidate_range_start) and its caller will not check.',
    },
  },
  create(context) {
    return {
      startFailed(range) {
        if (range.start.blockable !== true || !range.startReturn) return;
        context.report({
          confidence: 'certain',
          event: range.startReturn.ev,
          messageId: 'failedBlockable', data: {
            comm: range.comm, pid: range.pid, key: range.key, ret: String(range.startReturn.ret),
          },
          evidence: [{ ev: range.startReturn.ev, role: 'failed-return' as const }, { ev: range.start.ev, role: 'blockable-start' as const }],
        });
      },
    };
  },
});

export default rule;
