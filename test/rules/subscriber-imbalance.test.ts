import { runRuleTests } from '../rule-tester';
import { at, baseline as b, reaper as r, set, trace } from '../real-lines';

runRuleTests('subscriber-imbalance', {
  valid: [
    { name: 'KVM start and end around a real range', trace: trace(b.start, b.kvmStart, b.kvmUnmap, b.ret, b.end, b.kvmEnd) },
    { name: 'failed start on a kernel with c2655835fd8c: the core ends KVM before returning', trace: trace(r.start, r.kvmStart, r.kvmEnd, set(r.ret, 'ret', '-11')) },
    { name: 'teardown range after mn_release has no subscriber calls', trace: trace(b.start, b.ret, b.end) },
    { name: 'invalidate_range callback comes between the core end and KVM\'s end', trace: trace(r.start, r.kvmStart, r.ret, r.end, r.kvmRange, r.kvmEnd) },
  ],
  invalid: [
    { name: 'failed start, kernel unknown: likely (no older kernel is assumed)', trace: trace(r.start, r.kvmStart, set(r.ret, 'ret', '-11')), errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'likely', message: ['c2655835fd8c', 'the kernel is unknown', 'stays raised'], evidenceLines: [1, 3] }] },
    { name: 'core end returned without KVM end (next range started)', trace: trace(b.start, b.kvmStart, b.ret, b.end, at(set(b.start, 'range', '0xff4d4553c041bbc8'), '6.669801')), errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'certain', message: ['without calling'], evidenceLines: [4, 5] }] },
    { name: 'core end returned without KVM end, but events were lost before the next range', trace: trace(b.start, b.kvmStart, b.ret, b.end, 'CPU:1 [LOST 1 EVENTS]', at(set(b.start, 'range', '0xff4d4553c041bbc8'), '6.669801')), errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'inconclusive', message: ['without calling', 'events were lost'] }] },
    { name: 'failed start without c2655835fd8c, but a line before the return could not be read', trace: trace(r.start, r.kvmStart, '[ 18.913210] kvm: a console line mixed into the trace', set(r.ret, 'ret', '-11')), errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'inconclusive', message: ['c2655835fd8c', 'could not be read'] }] },
    { name: 'core end without KVM end, capture stops', trace: trace(b.start, b.kvmStart, b.ret, b.end), errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'inconclusive' }] },
    { name: 'KVM end without KVM start while the core start was captured', trace: trace(b.start, b.ret, b.end, b.kvmEnd), errors: [{ messageId: 'endWithoutStart', line: 4, confidence: 'likely', message: ['driven below'] }] },
  ],
});
