import { runRuleTests } from '../rule-tester';
import { set, trace } from '../real-lines';

/** reclaim.trace.txt line 18797: kswapd0 (a kernel thread) flushing the KVM process's secondary TLBs with that process's mm: correct. */
const kswapdHook = '         kswapd0-44      [001] ...1.    10.767907: mn_inv_range: (__mmu_notifier_invalidate_range+0x0/0x80) mm=0xff26fc5582495b00 start=0x4a9000 end=0x4aa000';
/** reclaim.trace.txt line 18857: the eater (labhelp-160) in direct reclaim, unmapping the KVM process's page. */
const directReclaimHook = '         labhelp-160     [000] ...1.    10.768780: mn_inv_range: (__mmu_notifier_invalidate_range+0x0/0x80) mm=0xff26fc5582495b00 start=0x7fbe842ef000 end=0x7fbe842f0000';
/** oom_reaper.trace.txt line 14906: the reaper (a kernel thread) with the victim's mm. */
const reaperHook = '      oom_reaper-30      [000] .....    18.913437: mn_inv_range: (__mmu_notifier_invalidate_range+0x0/0x80) mm=0xff20d20941bb1200 start=0x4a5000 end=0x4a7000';
/** baseline.stacktrace.trace.txt lines 26042-26056: the hook from munmap (tlb_finish_mmu) of a user task, with its stack. */
const munmapHook = `        kvmnotif-188     [000] .....    12.940800: mn_inv_range: (__mmu_notifier_invalidate_range+0x0/0x80) mm=0xff201f068239d200 start=0x7f0c34bed000 end=0x7f0c34ced000
        kvmnotif-188     [000] .....    12.940858: <stack trace>
 => kprobe_trace_func
 => kprobe_dispatcher
 => kprobe_ftrace_handler
 => 0xffffffffc04790c8
 => __mmu_notifier_invalidate_range
 => tlb_finish_mmu
 => unmap_region
 => do_mas_align_munmap
 => do_mas_munmap
 => __vm_munmap
 => __x64_sys_munmap
 => do_syscall_64
 => entry_SYSCALL_64_after_hwframe`;

/**
 * Derived: kswapd's reclaim stack of oom_reaper.trace.txt lines 681-697 (shrink_folio_list ... kswapd, kthread,
 * ret_from_fork), with the hook called from the batched flush as seed 002's mm-unstable patch did
 * (try_to_unmap_flush -> arch_tlbbatch_flush -> mmu_notifier_arch_invalidate_secondary_tlbs(current->mm, 0, -1UL)).
 */
const batchedStack = (comm: string, ts: string, hook: string) => `${comm} [001] ...1.    ${ts}: <stack trace>
 => kprobe_trace_func
 => kprobe_dispatcher
 => aggr_pre_handler
 => kprobe_ftrace_handler
 => 0xffffffffc03a90c8
 => ${hook}
 => arch_tlbbatch_flush
 => try_to_unmap_flush
 => shrink_folio_list
 => shrink_lruvec
 => shrink_node
 => balance_pgdat
 => kswapd
 => kthread
 => ret_from_fork`;
/** Derived: the about-6.6 hook name on the real kswapd line (mntrace probes names it mn_inv_secondary_tlbs); mm = a borrowed mm, start 0, end -1UL as the patch passed. */
const kswapdHook66 = set(set(kswapdHook.replace('mn_inv_range: (__mmu_notifier_invalidate_range+0x0/0x80)', 'mn_inv_secondary_tlbs: (__mmu_notifier_arch_invalidate_secondary_tlbs+0x4/0x90)'), 'start', '0x0'), 'end', '0xffffffffffffffff');
/** Derived: the direct-reclaim stack of a user task (the eater): same flush, entered from its page fault. */
const directStack = `         labhelp-160     [000] ...1.    10.768790: <stack trace>
 => kprobe_trace_func
 => kprobe_dispatcher
 => kprobe_ftrace_handler
 => 0xffffffffc03a90c8
 => __mmu_notifier_invalidate_range
 => arch_tlbbatch_flush
 => try_to_unmap_flush
 => shrink_folio_list
 => shrink_lruvec
 => shrink_node
 => do_try_to_free_pages
 => try_to_free_pages
 => __alloc_pages_slowpath.constprop.0
 => __alloc_pages
 => do_anonymous_page
 => handle_mm_fault
 => do_user_addr_fault
 => exc_page_fault
 => asm_exc_page_fault`;

runRuleTests('secondary-tlb-without-mm', {
  valid: [
    { name: 'kswapd flushing the mm it is unmapping (reclaim capture)', trace: trace(kswapdHook, directReclaimHook) },
    { name: 'the OOM reaper with the victim\'s mm', trace: trace(reaperHook) },
    { name: 'a user task\'s munmap (tlb_finish_mmu) with its stack', trace: munmapHook },
    { name: 'the hook in try_to_unmap_one on kswapd', trace: trace(kswapdHook, batchedStack('         kswapd0-44     ', '10.767910', '__mmu_notifier_invalidate_range').replace(' => arch_tlbbatch_flush\n => try_to_unmap_flush', ' => try_to_unmap_one\n => rmap_walk_anon\n => try_to_unmap')) },
  ],
  invalid: [
    { name: 'the hook with mm=0x0', trace: trace(set(kswapdHook, 'mm', '0x0')), errors: [{ messageId: 'nullMm', line: 1, confidence: 'certain', message: ['mm=0 (NULL)', '__mmu_notifier_invalidate_range'] }] },
    { name: 'mm printed as 64-bit zero', trace: trace(set(reaperHook, 'mm', '0x0000000000000000')), errors: [{ messageId: 'nullMm', line: 1, confidence: 'certain' }] },
    {
      name: 'kswapd calling the hook from arch_tlbbatch_flush (current->mm)',
      trace: trace(kswapdHook, batchedStack('         kswapd0-44     ', '10.767910', '__mmu_notifier_invalidate_range')),
      errors: [{ messageId: 'kthread', line: 1, confidence: 'certain', message: ['Kernel thread kswapd0-44', 'arch_tlbbatch_flush', 'its stack starts at kthread()'] }],
    },
    {
      name: 'the about-6.6 hook from arch_tlbbatch_flush on kswapd',
      trace: trace(kswapdHook66, batchedStack('         kswapd0-44     ', '10.767910', '__mmu_notifier_arch_invalidate_secondary_tlbs')),
      errors: [{ messageId: 'kthread', line: 1, confidence: 'certain', message: ['__mmu_notifier_arch_invalidate_secondary_tlbs'] }],
    },
    {
      name: 'a kworker named by comm (no stack says kthread)',
      trace: trace(kswapdHook.replace('kswapd0-44 ', 'kworker/1:2-91').replace('         kworker', '    kworker'), batchedStack('    kworker/1:2-91     ', '10.767910', '__mmu_notifier_invalidate_range').replace(' => kswapd\n => kthread\n => ret_from_fork', ' => process_one_work')),
      errors: [{ messageId: 'kthread', line: 1, confidence: 'certain', message: ['comm kworker/1:2 is a kernel thread name'] }],
    },
    {
      name: 'a user task in direct reclaim notifies its own mm',
      trace: trace(directReclaimHook, directStack),
      errors: [{ messageId: 'userTask', line: 1, confidence: 'likely', message: ['only this task\'s own mm is notified'] }],
    },
    {
      name: 'kernelThreads option: a site-specific kernel thread name',
      config: { rules: { 'secondary-tlb-without-mm': { options: { kernelThreads: ['^labhelp$'] } } } },
      trace: trace(directReclaimHook, directStack),
      errors: [{ messageId: 'kthread', line: 1, confidence: 'certain', message: ['comm labhelp is a kernel thread name'] }],
    },
  ],
});
