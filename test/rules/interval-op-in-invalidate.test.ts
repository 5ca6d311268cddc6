import { runRuleTests } from '../rule-tester';
import { at, baseline as b, set, trace } from '../real-lines';

/**
 * Derived lines: the captures define kprobes on mmu_interval_notifier_insert/_remove and mn_itree_inv_end
 * (kprobe_events-6.1.txt: `interval_sub=%di:x64 mm=%si:x64 start=%dx:x64 length=%cx:x64`, `interval_sub=%di:x64`,
 * `subscriptions=%di:x64`), but KVM uses no interval notifiers, so none fired. These lines follow those
 * definitions and the real kprobe line shape of kvmnotif-147 in baseline.trace.txt; the function sizes
 * (`/0x1a0`) are illustrative. mmu_interval_read_begin and mn_itree_inv_start_range are probed the same way.
 */
const remove = '        kvmnotif-147     [001] .....     6.667200: mmu_interval_notifier_remove: (mmu_interval_notifier_remove+0x0/0x1a0) interval_sub=0xff4d4553c5a3c0a8';
const insert = '        kvmnotif-147     [001] .....     6.667200: mmu_interval_notifier_insert: (mmu_interval_notifier_insert+0x0/0xb0) interval_sub=0xff4d4553c5a3c0a8 mm=0xff201f0681057180 start=0x7fc83c800000 length=0x200000';
const readBegin = '        kvmnotif-147     [001] .....     6.667200: mmu_interval_read_begin: (mmu_interval_read_begin+0x0/0xf0) interval_sub=0xff4d4553c5a3c0a8';
/** A remove probe that also fetched the interval's mm (a user-defined fetch argument). */
const removeWithMm = (mm: string) => remove + ` mm=${mm}`;
const itreeStart = '        kvmnotif-147     [001] .....     6.667050: mn_itree_inv_start_range: (mn_itree_inv_start_range+0x0/0x110) subscriptions=0xff201f0683a1b000 range=0xff4d4553c041bb88';
const itreeEnd = '        kvmnotif-147     [001] .....     6.668240: mn_itree_inv_end: (mn_itree_inv_end+0x0/0xe0) subscriptions=0xff201f0683a1b000';
/** A stack trace recorded on the read_begin probe: called from a driver's invalidate() (amdgpu_hmm_invalidate_gfx), in the shape of the real stacks (oom_reaper.trace.txt lines 681-697). */
const readBeginStack = `        kvmnotif-147     [001] .....     6.667201: <stack trace>
 => kprobe_trace_func
 => kprobe_dispatcher
 => kprobe_ftrace_handler
 => 0xffffffffc03a90c8
 => mmu_interval_read_begin
 => amdgpu_hmm_invalidate_gfx
 => __mmu_notifier_invalidate_range_start
 => unmap_vmas
 => unmap_region
 => do_mas_align_munmap
 => __vm_munmap
 => __x64_sys_munmap
 => do_syscall_64
 => entry_SYSCALL_64_after_hwframe`;

runRuleTests('interval-op-in-invalidate', {
  valid: [
    { name: 'insert before any invalidation', trace: trace(at(insert, '6.666900'), b.start, b.kvmStart, b.ret, b.end, b.kvmEnd) },
    { name: 'remove after the end and its callbacks', trace: trace(b.start, b.kvmStart, b.ret, b.end, b.kvmEnd, at(remove, '6.668400')) },
    { name: 'insert while the caller holds the range (insert does not wait for invalidations)', trace: trace(b.start, b.kvmStart, b.ret, at(insert, '6.668000'), b.end, b.kvmEnd) },
    { name: 'another task removes while kvmnotif is inside its start', trace: trace(b.start, b.kvmStart, remove.replace('kvmnotif-147', 'kvmnotif-148'), b.ret, b.end) },
    { name: 'remove of an interval of another mm while holding a range', trace: trace(b.start, b.ret, at(removeWithMm('0xff201f0681059999'), '6.668000'), b.end) },
  ],
  invalid: [
    {
      name: 'remove inside KVM\'s start callback (proven by the start\'s return)',
      trace: trace(b.start, b.kvmStart, remove, b.ret, b.end, b.kvmEnd),
      errors: [{ messageId: 'inside', line: 3, confidence: 'certain', message: ['mmu_interval_notifier_remove', 'self-deadlock', 'the start\'s return (line 4)'], evidenceLines: [1, 4] }],
    },
    {
      name: 'read_begin called from a driver\'s invalidate() (its stack)',
      trace: trace(b.start, b.kvmStart, readBegin, readBeginStack, b.ret, b.end),
      errors: [{ messageId: 'inside', line: 3, confidence: 'certain', message: ['mmu_interval_read_begin', 'its stack shows __mmu_notifier_invalidate_range_start'] }],
    },
    { name: 'insert inside the start call', trace: trace(b.start, at(insert, '6.667100'), b.kvmStart, b.ret, b.end), errors: [{ messageId: 'inside', line: 2, confidence: 'certain', message: ['mmu_interval_notifier_insert', 'mmap_lock'] }] },
    {
      name: 'inside the interval tree invalidation (after mn_itree_inv_start_range, before the return)',
      trace: trace(b.start, itreeStart, at(readBegin, '6.667100'), b.kvmStart, b.ret, b.end),
      errors: [{ messageId: 'inside', line: 3, confidence: 'certain', message: ['mn_itree_inv_start_range (line 2)'] }],
    },
    {
      name: 'remove after the start returned while this task\'s interval tree invalidation is still in progress',
      trace: trace(b.start, itreeStart, b.kvmStart, b.ret, at(remove, '6.668000'), b.end, itreeEnd, b.kvmEnd),
      errors: [{ messageId: 'itree', line: 5, confidence: 'likely', message: ['only this task\'s mn_itree_inv_end'], evidenceLines: [2] }],
    },
    {
      name: 'remove of an interval of the same mm while the task holds the range',
      trace: trace(b.start, b.kvmStart, b.ret, at(removeWithMm('0xff201f0681057180'), '6.668000'), b.end, b.kvmEnd),
      errors: [{ messageId: 'held', line: 4, confidence: 'likely', message: ['holding invalidation range 0xff4d4553c041bb88 open on the same mm'], evidenceLines: [1, 3] }],
    },
    {
      name: 'remove while holding a range, interval mm not captured',
      trace: trace(b.start, b.ret, at(remove, '6.668000'), b.end),
      errors: [{ messageId: 'held', line: 3, confidence: 'inconclusive', message: ['Capture the interval\'s mm'] }],
    },
    {
      name: 'remove inside the end call (before KVM\'s end callback)',
      trace: trace(b.start, b.kvmStart, b.ret, b.end, at(remove, '6.668260'), b.kvmEnd),
      errors: [{ messageId: 'inside', line: 5, confidence: 'likely', message: ['__mmu_notifier_invalidate_range_end'] }],
    },
    {
      name: 'no kretprobe: read_begin after the start waits for this task either way',
      trace: trace(set(b.start, 'flags', '1'), readBegin, b.end),
      errors: [{ messageId: 'inside', line: 2, confidence: 'likely', message: ['return was not captured', 'only this task can end'] }],
    },
    {
      name: 'no kretprobe: insert after the start cannot be placed',
      trace: trace(b.start, insert, b.end),
      errors: [{ messageId: 'inside', line: 2, confidence: 'inconclusive', message: ['capture the start\'s kretprobe'] }],
    },
  ],
});
