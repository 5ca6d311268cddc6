import { defineRule } from '../src/engine/types';

const rule = defineRule({
  meta: {
    id: 'nonblock-outside-oom-reaper',
    defaultSeverity: 'error',
    docs: {
      description: 'A non-blocking invalidation range start (blockable bit clear) issued by anything other than the OOM reaper path.',
      rationale:
        'mmu_notifier_invalidate_range_start_nonblock() is "special magic sauce for OOM reaping" (Jann Horn, review of the ' +
        'UFFDIO_REMAP patch, Sep 2023): subscribers handed a non-blockable range assume the process is already killed and cut ' +
        'corners. KVM\'s start callback drops KVM_REQUEST_WAIT and merely WARNs if vCPUs still had to be kicked ' +
        '(`WARN_ON_ONCE(called && !may_block)` in gfn_to_pfn_cache_invalidate_start), so on a live process its TLB can go out ' +
        'of sync. The only legitimate caller is __oom_reap_task_mm (a static inline caller: the trace shows it as ' +
        '__mmu_notifier_invalidate_range_start with flags bit 0 clear), reached from the oom_reaper kthread, from ' +
        'process_mrelease(2) (v5.15+) and, on some 4.19-5.x kernels, from exit_mmap of an OOM victim. The merged userfaultfd ' +
        'move (UFFDIO_MOVE, v6.8, move_pages_pte) uses the blocking start.',
      commits: [
        '93065ac753e4 (v4.19): mm, oom: distinguish blockable mode for mmu notifiers',
        'UFFDIO_REMAP v1 review (2023): remap_pages_pte must not use the _nonblock start; UFFDIO_MOVE (v6.8) does not',
      ],
      kernels: '4.19+',
      capture: 'a stacktrace trigger on the start probe (echo stacktrace > events/kprobes/mn_inv_start/trigger), or the kretprobe (its return site names the caller), or a kprobe on __oom_reap_task_mm, or the oom:start_task_reaping/finish_task_reaping tracepoints',
    },
    evidenceRoles: {
      'nonblocking-start': 'the non-blocking start',
      'caller-evidence': 'what shows who called it (a stack, the return site, an OOM reaping event)',
    },
    messages: {
      outside: '{{comm}}-{{pid}} issued a non-blocking invalidation start for range {{key}} from {{caller}} ({{basis}}): only the OOM reaper (__oom_reap_task_mm) may; subscribers such as KVM then skip waiting for vCPUs on a live process.',
      unknown: '{{comm}}-{{pid}} issued a non-blocking invalidation start for range {{key}} and nothing captured says who called it ({{basis}}). To decide, capture {{capture}}.',
    },
  },
  create(context) {
    return {
      rangeStartResolved(range) {
        if (range.start.blockable !== false || !range.caller) return;
        const c = range.caller;
        if (c.verdict === 'reaper') return;
        const data = { comm: range.comm, pid: range.pid, key: range.key, caller: c.caller ?? 'an unknown caller', basis: c.basis, capture: rule.meta.docs.capture };
        context.report({
          confidence: c.verdict === 'other' ? 'certain' : 'inconclusive',
          event: range.start.ev,
          messageId: c.verdict === 'other' ? 'outside' : 'unknown', data: data,
          evidence: [
            { ev: range.start.ev, role: 'nonblocking-start' as const },
            ...c.evidence.filter((e) => e !== range.start.ev).map((ev) => ({ ev, role: 'caller-evidence' as const })),
          ],
        });
      },
    };
  },
});

export default rule;
