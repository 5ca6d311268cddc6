import { runRuleTests } from '../rule-tester';
import { baseline as b, reaper as r, set, trace } from '../real-lines';

/** oom_reaper.trace.txt lines 14835-14845: the stack trace recorded for the reaper's start. */
const reaperStack = `      oom_reaper-30      [000] .....    18.913195: <stack trace>
 => kprobe_trace_func
 => kprobe_dispatcher
 => aggr_pre_handler
 => kprobe_ftrace_handler
 => 0xffffffffc03a90c8
 => __mmu_notifier_invalidate_range_start
 => __oom_reap_task_mm
 => oom_reaper
 => kthread
 => ret_from_fork`;
/** The same stack shape for a userfaultfd remap caller (seed 003: remap_pages_pte called the _nonblock start). */
const remapStack = reaperStack.replace(/oom_reaper-30 /, 'kvmnotif-147').replace(/\[000\]/, '[001]').replace('18.913195', '6.667010')
  .replace(' => __oom_reap_task_mm\n => oom_reaper\n => kthread\n => ret_from_fork', ' => remap_pages_pte\n => remap_pages\n => userfaultfd_ioctl\n => __x64_sys_ioctl\n => do_syscall_64');
const nonblock = set(b.start, 'flags', '0');

runRuleTests('nonblock-outside-oom-reaper', {
  valid: [
    { name: 'reaper start with its stack', trace: trace(r.start, reaperStack, r.kvmStart, r.ret, r.end) },
    { name: 'reaper start judged by the kretprobe return site', trace: trace(r.start, r.kvmStart, r.ret, r.end) },
    { name: 'reaper start judged by the __oom_reap_task_mm probe', trace: trace(r.probe, r.start, r.end) },
    { name: 'reaper start inside the oom reaping window', trace: trace(r.begin, r.start, r.end, r.finish) },
    { name: 'blocking starts are not this rule\'s business', trace: trace(b.start, b.ret, b.end) },
  ],
  invalid: [
    { name: 'non-blocking start that returned to another function', trace: trace(nonblock, b.ret, b.end), errors: [{ messageId: 'outside', line: 1, confidence: 'certain', message: ['__split_huge_pmd', 'returned to'], evidenceLines: [2] }] },
    { name: 'non-blocking start from userfaultfd remap (stack)', trace: trace(nonblock, remapStack, b.end), errors: [{ messageId: 'outside', line: 1, confidence: 'certain', message: ['remap_pages_pte'] }] },
    { name: 'no evidence either way', trace: trace(nonblock, b.end), errors: [{ messageId: 'unknown', line: 1, confidence: 'inconclusive', message: ['stacktrace trigger'] }] },
    { name: 'a reaper probe for another mm is no evidence', trace: trace(set(r.probe, 'mm', '0xff20d20941bb9999'), r.start, r.end), errors: [{ messageId: 'unknown', line: 2, confidence: 'inconclusive' }] },
  ],
});
