import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findingsFor, runRuleTests } from '../rule-tester';

import { at, baseline as b, set, trace } from '../real-lines';
import { directReclaimBit, gfpAllowsDirectReclaim } from '../../rules/support/gfp';

/** baseline.trace.txt line 1206: a real GFP_KERNEL kmalloc of kvmnotif-147 (moved in time below to sit inside a range). */
const kmallocKernel = '        kvmnotif-147     [000] .....     6.358606: kmalloc: call_site=__get_vm_area_node+0x7b/0x150 ptr=00000000374d89de bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false';
/** baseline.trace.txt line 1175: a real GFP_ATOMIC kmalloc of the same task. */
const kmallocAtomic = '        kvmnotif-147     [000] .....     6.353687: kmalloc: call_site=proc_self_get_link+0x9d/0xc0 ptr=00000000f007ffbf bytes_req=11 bytes_alloc=16 gfp_flags=GFP_ATOMIC node=-1 accounted=false';
/** baseline.trace.txt line 1071: a real GFP_NOFS kmalloc (GFP_NOFS = __GFP_RECLAIM | __GFP_IO: it may direct-reclaim). */
const kmallocNofs = '        kvmnotif-147     [000] .....     6.348687: kmalloc: call_site=tomoyo_realpath_from_path+0x3b/0x190 ptr=00000000706d338b bytes_req=4096 bytes_alloc=4096 gfp_flags=GFP_NOFS node=-1 accounted=false';
/** baseline.trace.txt line 1305: GFP_KERNEL_ACCOUNT from KVM itself. */
const kmallocAccount = '        kvmnotif-147     [001] .....     6.410246: kmalloc: call_site=kvm_uevent_notify_change.part.0+0xc4/0x180 [kvm] ptr=0000000027ee039c bytes_req=4096 bytes_alloc=4096 gfp_flags=GFP_KERNEL_ACCOUNT node=-1 accounted=true';
/** baseline.trace.txt line 3: another task (sh-125) allocating with GFP_KERNEL. */
const kmallocOther = '              sh-125     [001] .....     6.309635: kmalloc: call_site=security_task_alloc+0xbf/0xe0 ptr=00000000f12445b8 bytes_req=72 bytes_alloc=96 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false';

/**
 * Derived lines (the captures hold none of these events):
 * - kmem:kmem_cache_alloc with the 6.1 TP_printk ("call_site=%pS ptr=%p bytes_req=%zu bytes_alloc=%zu gfp_flags=%s node=%d accounted=%s"),
 *   values from the real kmalloc line above;
 * - kmem:mm_page_alloc with the 6.1 TP_printk ("page=%p pfn=0x%lx order=%d migratetype=%d gfp_flags=%s");
 * - a kmalloc whose gfp mask printed as a number (tools that print the raw mask): 0xcc0 is GFP_KERNEL from about 5.1;
 * - a kprobe on mn_itree_inv_start_range in the style of the real mn_itree_inv_end definition (kprobe_events-6.1.txt).
 */
const cacheAlloc = '        kvmnotif-147     [001] .....     6.667100: kmem_cache_alloc: call_site=kvm_mmu_notifier_invalidate_range_start+0x1a2/0x360 [kvm] ptr=00000000374d89de bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false';
const pageAlloc = '        kvmnotif-147     [001] .....     6.667100: mm_page_alloc: page=00000000c2f1a9e4 pfn=0x10a3f2 order=0 migratetype=0 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO';
const numeric = (mask: string) => at(set(kmallocKernel, 'gfp_flags', mask), '6.667100').replace('[000]', '[001]');
const itreeStart = '        kvmnotif-147     [001] .....     6.667050: mn_itree_inv_start_range: (mn_itree_inv_start_range+0x0/0x110) subscriptions=0xff201f0683a1b000 range=0xff4d4553c041bb88';

/** Inside KVM's start callback: after the core start, before KVM's callback returns (proven by the return). */
const inStart = (line: string) => at(line.replace('[000]', '[001]'), '6.667200');
/** The same range again a little later (the same callback allocating at the same call site in it). */
const secondRange = [
  at(b.start, '6.669000'), at(b.kvmStart, '6.669100'), at(kmallocKernel.replace('[000]', '[001]'), '6.669200'), at(b.ret, '6.669300'), at(b.end, '6.669400'), at(b.kvmEnd, '6.669500'),
];
/** Derived: a stack trace recorded for the allocation (stacktrace trigger on kmem:kmalloc), in the shape of the real ones in oom_reaper.trace.txt lines 681-697. */
const allocStack = `        kvmnotif-147     [001] .....     6.667201: <stack trace>
 => trace_event_raw_event_kmalloc
 => kmalloc_trace
 => kvm_mmu_notifier_invalidate_range_start
 => __mmu_notifier_invalidate_range_start
 => __split_huge_pmd
 => split_huge_pmd_address
 => __split_vma
 => do_mas_align_munmap
 => __vm_munmap
 => __x64_sys_munmap
 => do_syscall_64
 => entry_SYSCALL_64_after_hwframe`;

runRuleTests('reclaim-alloc-in-invalidate', {
  valid: [
    { name: 'real baseline allocations outside any range', trace: trace(at(kmallocNofs, '6.348687'), kmallocKernel, b.start, b.kvmStart, b.ret, b.end, b.kvmEnd) },
    { name: 'GFP_KERNEL by the caller between the start\'s return and the end (normal kernel code)', trace: trace(b.start, b.kvmStart, b.kvmUnmap, b.ret, at(kmallocKernel.replace('[000]', '[001]'), '6.668000'), b.end, b.kvmEnd) },
    { name: 'GFP_ATOMIC inside the start callback', trace: trace(b.start, b.kvmStart, inStart(kmallocAtomic), b.ret, b.end, b.kvmEnd) },
    { name: 'GFP_KERNEL after the end\'s last callback: may be the caller after the end returned', trace: trace(b.start, b.kvmStart, b.ret, b.end, b.kvmEnd, at(kmallocKernel.replace('[000]', '[001]'), '6.668400')) },
    { name: 'another task allocating while kvmnotif is inside its start', trace: trace(b.start, b.kvmStart, at(kmallocOther, '6.667200'), b.ret, b.end, b.kvmEnd) },
    { name: 'numeric mask without the direct-reclaim bit (0x800: kswapd reclaim only)', trace: trace(b.start, numeric('0x800'), b.kvmStart, b.ret, b.end) },
    { name: 'after mn_itree_inv_start_range, but the start returned first', trace: trace(b.start, itreeStart, b.kvmStart, b.ret, at(kmallocKernel.replace('[000]', '[001]'), '6.668000'), b.end) },
  ],
  invalid: [
    {
      name: 'GFP_KERNEL after the core start, before KVM\'s start callback (proven by the callback)',
      trace: trace(b.start, at(kmallocKernel.replace('[000]', '[001]'), '6.667100'), b.kvmStart, b.ret, b.end, b.kvmEnd),
      errors: [{ messageId: 'alloc', line: 2, confidence: 'certain', message: ['GFP_KERNEL|__GFP_ZERO', 'GFP_KERNEL includes __GFP_DIRECT_RECLAIM', '__get_vm_area_node', 'invalidate_range_start callback (line 3)'], evidenceLines: [1, 3] }],
    },
    {
      name: 'GFP_KERNEL inside KVM\'s start callback (proven by the start\'s return)',
      trace: trace(b.start, b.kvmStart, inStart(kmallocKernel), b.ret, b.end, b.kvmEnd),
      errors: [{ messageId: 'alloc', line: 3, confidence: 'certain', message: ['the start\'s return (line 4)'], evidenceLines: [1, 4] }],
    },
    {
      // The real bug capture's shape (shared/traces/real-bugs/bug-alloc-in-invalidate): the same callback allocates at every invalidation.
      name: 'one call site allocating in two ranges is one finding (its repeat counted on it)',
      trace: trace(b.start, b.kvmStart, inStart(kmallocKernel), b.ret, b.end, b.kvmEnd, ...secondRange),
      errors: [{ messageId: 'alloc', line: 3, confidence: 'certain' }],
    },
    { name: 'GFP_NOFS may direct-reclaim too', trace: trace(b.start, b.kvmStart, inStart(kmallocNofs), b.ret, b.end), errors: [{ messageId: 'alloc', line: 3, confidence: 'certain', message: ['GFP_NOFS includes __GFP_DIRECT_RECLAIM'] }] },
    { name: 'GFP_KERNEL_ACCOUNT from a KVM call site', trace: trace(b.start, b.kvmStart, inStart(kmallocAccount), b.ret, b.end), errors: [{ messageId: 'alloc', line: 3, confidence: 'certain', message: ['GFP_KERNEL_ACCOUNT'] }] },
    { name: 'kmem_cache_alloc with GFP_KERNEL', trace: trace(b.start, cacheAlloc, b.kvmStart, b.ret, b.end), errors: [{ messageId: 'alloc', line: 2, confidence: 'certain' }] },
    { name: 'mm_page_alloc with GFP_HIGHUSER_MOVABLE', trace: trace(b.start, pageAlloc, b.kvmStart, b.ret, b.end), errors: [{ messageId: 'alloc', line: 2, confidence: 'certain', message: ['GFP_HIGHUSER_MOVABLE'] }] },
    {
      name: 'inside the end call, before KVM\'s end callback: likely (not lockdep-annotated)',
      trace: trace(b.start, b.kvmStart, b.ret, b.end, at(kmallocKernel.replace('[000]', '[001]'), '6.668260'), b.kvmEnd),
      errors: [{ messageId: 'alloc', line: 5, confidence: 'likely', message: ['__mmu_notifier_invalidate_range_end'], evidenceLines: [4, 6] }],
    },
    {
      name: 'no kretprobe captured: inside the start call or the caller, cannot tell',
      trace: trace(b.start, at(kmallocKernel.replace('[000]', '[001]'), '6.668000'), b.end),
      errors: [{ messageId: 'alloc', line: 2, confidence: 'inconclusive', message: ['return was not captured'] }],
    },
    {
      name: 'the allocation\'s own stack shows KVM\'s start callback',
      trace: trace(b.start, b.kvmStart, at(kmallocKernel.replace('[000]', '[001]'), '6.667200'), allocStack, b.ret, b.end),
      errors: [{ messageId: 'alloc', line: 3, confidence: 'certain', message: ['its stack shows kvm_mmu_notifier_invalidate_range_start'] }],
    },
    {
      name: 'inside the interval tree invalidation (mn_itree_inv_start_range), proven by the return',
      trace: trace(b.start, itreeStart, at(kmallocKernel.replace('[000]', '[001]'), '6.667080'), b.kvmStart, b.ret, b.end),
      errors: [{ messageId: 'alloc', line: 3, confidence: 'certain' }],
    },
    { name: 'numeric mask 0xcc0 with no --kernel: decoded with 0x400, likely', trace: trace(b.start, numeric('0xcc0'), b.kvmStart, b.ret, b.end), errors: [{ messageId: 'alloc', line: 2, confidence: 'likely', message: ['no --kernel given'] }] },
    { name: 'leftover bit printed in hex (GFP_NOWAIT|0x400)', trace: trace(b.start, numeric('GFP_NOWAIT|0x400'), b.kvmStart, b.ret, b.end), errors: [{ messageId: 'alloc', line: 2, confidence: 'likely' }] },
    {
      name: 'directReclaimBit option overrides the table',
      config: { rules: { 'reclaim-alloc-in-invalidate': { options: { directReclaimBit: '0x200000' } } } },
      trace: trace(b.start, numeric('0x6000c0'), b.kvmStart, b.ret, b.end),
      errors: [{ messageId: 'alloc', line: 2, confidence: 'certain', message: ['configured directReclaimBit 0x200000'] }],
    },
  ],
});

runRuleTests('reclaim-alloc-in-invalidate', {
  valid: [
    { name: '0xcc0 on 4.19: bit 0x400 was __GFP_RETRY_MAYFAIL then, direct reclaim was 0x200000', kernel: '4.19.0-26-amd64', trace: trace(b.start, numeric('0xcc0'), b.kvmStart, b.ret, b.end) },
  ],
  invalid: [
    { name: '0xcc0 on 6.1: certain', kernel: '6.1.0-56-amd64', trace: trace(b.start, numeric('0xcc0'), b.kvmStart, b.ret, b.end), errors: [{ messageId: 'alloc', line: 2, confidence: 'certain', message: ['0x400 (kernel 6.1'] }] },
    { name: '0x6000c0 on 4.19 (GFP_KERNEL then)', kernel: '4.19.0-26-amd64', trace: trace(b.start, numeric('0x6000c0'), b.kvmStart, b.ret, b.end), errors: [{ messageId: 'alloc', line: 2, confidence: 'certain', message: ['0x200000 (kernel 4.19'] }] },
  ],
}, 'rule reclaim-alloc-in-invalidate (with --kernel)');

describe('gfp masks', () => {
  it('names that allow direct reclaim, and those that do not', () => {
    for (const m of ['GFP_KERNEL', 'GFP_KERNEL|__GFP_ZERO', 'GFP_KERNEL_ACCOUNT', 'GFP_USER', 'GFP_HIGHUSER_MOVABLE|__GFP_ZERO', 'GFP_NOFS', 'GFP_NOIO', 'GFP_TRANSHUGE', '__GFP_DIRECT_RECLAIM|__GFP_NOWARN']) {
      assert.equal(gfpAllowsDirectReclaim(m, undefined)?.direct, true, m);
    }
    for (const m of ['GFP_ATOMIC', 'GFP_NOWAIT', 'GFP_NOWAIT|__GFP_NOWARN', 'GFP_ATOMIC|__GFP_NOWARN|__GFP_ZERO', 'GFP_TRANSHUGE_LIGHT', '__GFP_KSWAPD_RECLAIM', 'none']) {
      assert.equal(gfpAllowsDirectReclaim(m, undefined)?.direct, false, m);
    }
  });
  it('the direct-reclaim bit per kernel version', () => {
    const k = (major: number, minor: number) => ({ version: `${major}.${minor}`, major, minor });
    assert.equal(directReclaimBit(k(4, 2)).bit, 0x10);
    assert.equal(directReclaimBit(k(4, 9)).bit, 0x400000);
    assert.equal(directReclaimBit(k(4, 19)).bit, 0x200000);
    assert.equal(directReclaimBit(k(5, 0)).bit, 0x200000);
    assert.equal(directReclaimBit(k(5, 10)).bit, 0x400);
    assert.equal(directReclaimBit(k(6, 12)).bit, 0x400);
    assert.equal(directReclaimBit(undefined).assumed, true);
  });
});

describe('reclaim-alloc-in-invalidate: repeats of one call site', () => {
  it('are counted on the first finding with the last one named, and another call site is its own finding', async () => {
    const [f] = await findingsFor('reclaim-alloc-in-invalidate', { name: 'repeat', trace: trace(b.start, b.kvmStart, inStart(kmallocKernel), b.ret, b.end, b.kvmEnd, ...secondRange) });
    assert.deepEqual(f.repeats, { count: 1, last: { path: f.evidence[0].path, line: 9, timestamp: '6.669200' } });
    const other = secondRange.map((l) => (l.includes('kmalloc:') ? l.replace('__get_vm_area_node+0x7b/0x150', '__vmalloc_node_range+0x1ce/0x880') : l));
    const two = await findingsFor('reclaim-alloc-in-invalidate', { name: 'two sites', trace: trace(b.start, b.kvmStart, inStart(kmallocKernel), b.ret, b.end, b.kvmEnd, ...other) });
    assert.deepEqual(two.map((x) => [x.evidence[0].line, x.repeats]), [[3, undefined], [9, undefined]]);
  });
});
