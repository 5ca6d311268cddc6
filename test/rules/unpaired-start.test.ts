import { runRuleTests } from '../rule-tester';
import { at, baseline as b, header, reaper as r, set, trace } from '../real-lines';

const fast = { engine: { likelyAfterMs: 50 } };
/** A second range of the same task, from baseline.trace.txt line 25925 (another range pointer). */
const inner = '        kvmnotif-147     [001] .....     6.669801: mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff4d4553c041bbc8 mm=0xff201f0681057180 start=0x7fc83c956000 end=0x7fc83ca56000 flags=1 event=0';
const innerRet = '        kvmnotif-147     [001] .....     6.669836: mn_inv_start_ret: (unmap_vmas+0x169/0x180 <- __mmu_notifier_invalidate_range_start) ret=0';

runRuleTests('unpaired-start', {
  valid: [
    { name: 'a real start/return/end with KVM callbacks', trace: trace(b.start, b.kvmStart, b.kvmUnmap, b.ret, b.end, b.kvmEnd) },
    { name: 'with the real 6.1 header', trace: header + '\n' + trace(b.start, b.ret, b.end) },
    { name: 'a failed non-blocking start is not ended (as __oom_reap_task_mm does)', trace: trace(r.begin, r.probe, r.start, r.kvmStart, r.kvmEnd, set(r.ret, 'ret', '-11'), r.finish) },
    { name: 'nested ranges closed LIFO', trace: trace(b.start, b.ret, at(inner, '6.667990'), at(innerRet, '6.668000'), at(set(b.end, 'range', '0xff4d4553c041bbc8'), '6.668100'), b.end) },
    { name: 'the range pointer is reused after the end', trace: trace(b.start, b.ret, b.end, at(b.start, '6.668758'), at(b.ret, '6.668782'), at(b.end, '6.668786')) },
  ],
  invalid: [
    { name: 'no end, capture stops right after', trace: trace(b.start, b.kvmStart, b.ret), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive', message: ['never ended', 'may simply not have been captured'] }] },
    { name: 'no end while the task ran on', config: fast, trace: trace(b.start, b.kvmStart, b.ret, b.later), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'likely', message: ['ran on for 106'], evidenceLines: [2, 3, 4] }] },
    { name: 'same range pointer started again before any end', trace: trace(b.start, b.ret, at(set(b.start, 'start', '0x7fc83ca00000'), '6.668758'), at(b.ret, '6.668782'), at(b.end, '6.668786')), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'certain', message: ['started again'], evidenceLines: [3] }] },
    { name: 'the enclosing range ended first', trace: trace(b.start, b.ret, at(inner, '6.667990'), at(innerRet, '6.668000'), b.end), errors: [{ messageId: 'leftOpen', line: 3, confidence: 'certain', message: ['enclosing range'], evidenceLines: [5] }] },
    { name: 'the task exited with the range open', trace: trace(b.start, b.ret, '        kvmnotif-147     [001] .....     6.700000: sched_process_exit: comm=kvmnotif pid=147 prio=120'), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'certain', message: ['exited'], evidenceLines: [3] }] },
    // What the trace would prove, unless events were lost or a line could not be read in between: the end may have been there.
    { name: 'started again, but a line in between could not be read', trace: trace(b.start, b.ret, '[ 6.668000] kvm: a console line mixed into the trace', at(set(b.start, 'start', '0x7fc83ca00000'), '6.668758'), at(b.ret, '6.668782'), at(b.end, '6.668786')), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive', message: ['started again', 'could not be read in between', 'the end may be among them'] }] },
    { name: 'the enclosing range ended first, but events were lost in between', trace: trace(b.start, b.ret, at(inner, '6.667990'), at(innerRet, '6.668000'), 'CPU:1 [LOST 2 EVENTS]', b.end), errors: [{ messageId: 'leftOpen', line: 3, confidence: 'inconclusive', message: ['enclosing range', 'events were lost'] }] },
    { name: 'the task exited with the range open, but events were lost in between', trace: trace(b.start, b.ret, 'CPU:1 [LOST 1 EVENTS]', '        kvmnotif-147     [001] .....     6.700000: sched_process_exit: comm=kvmnotif pid=147 prio=120'), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive', message: ['exited', 'events were lost'] }] },
    { name: 'events lost after the start', config: fast, trace: trace(b.start, b.ret, 'CPU:1 [LOST 3 EVENTS]', b.later), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive', message: ['lost'] }] },
  ],
});
