import { runRuleTests } from '../rule-tester';
import { at, baseline as b, set, syscalls as sc, trace } from '../real-lines';

runRuleTests('unpaired-end', {
  valid: [
    { name: 'a real pair', trace: trace(b.start, b.kvmStart, b.ret, b.end, b.kvmEnd) },
    { name: 'back in user space, then a start and its end', trace: trace(at(b.marker, '6.666000'), b.start, b.ret, b.end) },
    { name: 'pairing by mm+start+end when the end probe has no range pointer', trace: trace(b.start, b.ret, b.end.replace(/ range=\S+/, '')) },
  ],
  invalid: [
    { name: 'the trace begins with an end', trace: trace(b.end, b.kvmEnd), errors: [{ messageId: 'orphan', line: 1, confidence: 'inconclusive', message: ['predate the capture'] }] },
    { name: 'the same range ended twice', trace: trace(b.start, b.ret, b.end, at(b.end, '6.669000')), errors: [{ messageId: 'orphan', line: 4, confidence: 'certain', message: ['already ended'], evidenceLines: [3] }] },
    { name: 'an end long after the capture began', trace: trace(at(b.later, '5.100000'), b.end), errors: [{ messageId: 'orphan', line: 2, confidence: 'likely', message: ['complete for 1.57 s'] }] },
    { name: 'an end after lost events', trace: trace(at(b.later, '5.100000'), 'CPU:1 [LOST 12 EVENTS]', b.end), errors: [{ messageId: 'orphan', line: 3, confidence: 'inconclusive', message: ['lost'] }] },
    // The task was seen back in user space: the start of any later end must come after that, in the same kernel entry.
    { name: 'an end after the task\'s trace_marker write, with no start since', trace: trace(b.marker, at(b.end, '6.674000')), errors: [{ messageId: 'orphan', line: 2, confidence: 'certain', message: ['system call boundary', 'line 1', 'no start for this range came on it since'], evidenceLines: [1] }] },
    { name: 'an end after the task\'s sys_exit, with no start since', trace: trace(sc.rawExit, at(b.end, '6.674000')), errors: [{ messageId: 'orphan', line: 2, confidence: 'certain', message: ['sys_exit'], evidenceLines: [1] }] },
    { name: 'an end after the task\'s trace_marker write, but events lost in between', trace: trace(b.marker, 'CPU:1 [LOST 2 EVENTS]', at(b.end, '6.674000')), errors: [{ messageId: 'orphan', line: 3, confidence: 'inconclusive', message: ['lost'] }] },
    { name: 'an end from another task than the start', trace: trace(b.start, b.ret, set(b.end, 'range', '0xff4d4553c041bb88').replace('kvmnotif-147', 'kvmnotif-148'), b.end), errors: [{ messageId: 'orphan', line: 3, confidence: 'inconclusive' }] },
  ],
});
