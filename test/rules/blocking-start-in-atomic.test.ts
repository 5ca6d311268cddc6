import { runRuleTests } from '../rule-tester';
import { baseline as b, flags, reaper as r, trace } from '../real-lines';

runRuleTests('blocking-start-in-atomic', {
  valid: [
    { name: 'real blocking start, preemptible with irqs on', trace: trace(b.start, b.kvmStart, b.ret, b.end) },
    { name: 'a non-blocking start is not judged here', trace: trace(flags(r.start, 'd..1.'), r.ret, r.end) },
    { name: 'no flags column: nothing to judge', trace: trace(b.start.replace(/\] \.\.\.\.\. /, '] '), b.end.replace(/\] \.\.\.\.\. /, '] ')) },
  ],
  invalid: [
    { name: 'preemption disabled (depth 1)', trace: trace(flags(b.start, '...1.'), b.ret, b.end), errors: [{ messageId: 'atomic', line: 1, confidence: 'certain', message: ['preempt depth 1', '`...1.`'] }] },
    { name: 'interrupts off, and the capture shows kprobes can see irqs on', trace: trace(flags(b.start, 'd....'), b.kvmStart, b.ret, b.end), errors: [{ messageId: 'atomic', line: 1, confidence: 'certain', message: ['irqs off'] }] },
    { name: 'in softirq', trace: trace(flags(b.start, '..s..'), b.ret, b.end), errors: [{ messageId: 'atomic', line: 1, confidence: 'certain', message: ['softirq'] }] },
    { name: 'irqs off on every kprobe hit (int3-based kprobes): inconclusive', trace: trace(flags(b.start, 'd....'), flags(b.ret, 'd....'), flags(b.end, 'd....')), errors: [{ messageId: 'irqsOffOnly', line: 1, confidence: 'inconclusive', message: ['int3'] }] },
  ],
});
