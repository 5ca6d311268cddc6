import { runRuleTests } from '../rule-tester';
import { at, baseline as b, reaper as r, trace } from '../real-lines';

/** baseline.trace.txt lines 26132, 26135, 26139, 26143 (kvmnotif-147, wp_page_copy): a real 7.2 ms range with KVM's callback. */
const cow = {
  start: '        kvmnotif-147     [001] .....     6.687934: mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff4d4553c041bd70 mm=0xff201f0681057180 start=0x7fff0f2e2000 end=0x7fff0f2e3000 flags=1 event=1',
  kvmStart: '        kvmnotif-147     [001] .....     6.688332: kvm_mn_inv_start: (kvm_mmu_notifier_invalidate_range_start+0x0/0x360 [kvm]) mn=0xff4d4553c03eea48 range=0xff4d4553c041bd70 mm=0xff201f0681057180 start=0x7fff0f2e2000 end=0x7fff0f2e3000 flags=1 event=1',
  ret: '        kvmnotif-147     [001] .....     6.688791: mn_inv_start_ret: (wp_page_copy+0x573/0x720 <- __mmu_notifier_invalidate_range_start) ret=0',
  end: '        kvmnotif-147     [001] .N...     6.695100: mn_inv_end: (__mmu_notifier_invalidate_range_end+0x0/0xd0) range=0xff4d4553c041bd70 mm=0xff201f0681057180 start=0x7fff0f2e2000 end=0x7fff0f2e3000 flags=1 event=1 only_end=1',
};
/** baseline.trace.txt lines 29272, 29275-29277: mn_release of kvmnotif's mm, then exit_mmap's whole-mm range (7.2 ms; moved to 20 ms below). */
const release = '        kvmnotif-147     [001] .....     6.726433: mn_release: (__mmu_notifier_release+0x0/0x210) mm=0xff201f0681057180';
const teardownStart = '        kvmnotif-147     [001] .....     6.727171: mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff4d4553c041bbc0 mm=0xff201f0681057180 start=0x0 end=0xffffffffffffffff flags=1 event=0';
const teardownRet = '        kvmnotif-147     [001] .....     6.727190: mn_inv_start_ret: (unmap_vmas+0x169/0x180 <- __mmu_notifier_invalidate_range_start) ret=0';
const teardownEnd = (ts: string) => at('        kvmnotif-147     [001] .....     6.734373: mn_inv_end: (__mmu_notifier_invalidate_range_end+0x0/0xd0) range=0xff4d4553c041bbc0 mm=0xff201f0681057180 start=0x0 end=0xffffffffffffffff flags=1 event=0 only_end=0', ts);
/** baseline.trace.txt: kvmnotif's mn_register (KVM_CREATE_VM). */
const register = '        kvmnotif-147     [000] .....     6.364029: mn_register: (__mmu_notifier_register+0x0/0x170) subscription=0xff4d4553c03eea48 mm=0xff201f0681057180';

const at5 = { rules: { 'slow-invalidation': { options: { thresholdMs: 5 } } } };

runRuleTests('slow-invalidation', {
  valid: [
    { name: 'a real 1.3 ms munmap range', trace: trace(b.start, b.kvmStart, b.ret, b.end, b.kvmEnd) },
    { name: 'the real 7.2 ms COW range under the default 10 ms', trace: trace(cow.start, cow.kvmStart, cow.ret, cow.end) },
    { name: 'the OOM reaper\'s non-blocking range (a killed process) is skipped', trace: trace(r.start, r.kvmStart, r.ret, at(r.end, '19.013279')) },
    { name: 'teardown after mn_release: no subscriber left to stall', trace: trace(release, teardownStart, teardownRet, teardownEnd('6.747171')) },
  ],
  invalid: [
    {
      name: 'the real 7.2 ms COW range with thresholdMs 5',
      config: at5,
      trace: trace(cow.start, cow.kvmStart, cow.ret, cow.end),
      errors: [{ messageId: 'slow', line: 1, confidence: 'certain', message: ['open for 7.2 ms (threshold 5.0 ms)', 'from wp_page_copy', '857.0 µs in the start call (subscriber callbacks: kvm)', '6.3 ms held by the caller'], evidenceLines: [3, 4] }],
    },
    { name: 'a munmap range held 25 ms', trace: trace(b.start, b.kvmStart, b.ret, at(b.end, '6.692004')), errors: [{ messageId: 'slow', line: 1, confidence: 'certain', message: ['MMU_NOTIFY_CLEAR', 'open for 25.0 ms'] }] },
    { name: 'no kretprobe: no split', trace: trace(b.start, at(b.end, '6.692004')), errors: [{ messageId: 'slow', line: 1, confidence: 'certain', message: ['open for 25.0 ms (threshold 10.0 ms).'] }] },
    {
      name: 'the reaper\'s range when asked for (includeNonBlocking)',
      config: { rules: { 'slow-invalidation': { options: { includeNonBlocking: true } } } },
      trace: trace(r.start, r.kvmStart, r.ret, at(r.end, '19.013279')),
      errors: [{ messageId: 'slow', line: 1, confidence: 'certain', message: ['100.1 ms'] }],
    },
    { name: 'teardown judged when asked for (includeReleasedMm)', config: { rules: { 'slow-invalidation': { options: { includeReleasedMm: true } } } }, trace: trace(release, teardownStart, teardownRet, teardownEnd('6.747171')), errors: [{ messageId: 'slow', line: 2, confidence: 'certain' }] },
    { name: 'an mm registered again after a release (a reused mm_struct) is judged', trace: trace(release, register.replace('6.364029', '6.726450').replace('[000]', '[001]'), teardownStart, teardownRet, teardownEnd('6.747171')), errors: [{ messageId: 'slow', line: 3, confidence: 'certain' }] },
  ],
});
