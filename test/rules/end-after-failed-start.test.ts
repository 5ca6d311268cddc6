import { runRuleTests } from '../rule-tester';
import { at, reaper as r, set, trace } from '../real-lines';

const failedRet = set(r.ret, 'ret', '-11');

runRuleTests('end-after-failed-start', {
  valid: [
    { name: 'the reaper skips the end of a failed start', trace: trace(r.begin, r.probe, r.start, r.kvmStart, r.kvmEnd, failedRet, r.finish) },
    { name: 'a retry with the same range pointer is ended normally', trace: trace(r.start, r.kvmStart, r.kvmEnd, failedRet, at(r.start, '18.913300'), at(r.ret, '18.913310'), at(r.end, '18.913320')) },
  ],
  invalid: [
    { name: 'end after a start that returned -EAGAIN', trace: trace(r.start, r.kvmStart, r.kvmEnd, failedRet, r.end), errors: [{ messageId: 'endAfterFailed', line: 5, confidence: 'certain', message: ['returned -11'], evidenceLines: [1, 4] }] },
    { name: 'return printed as unsigned hex (x32)', trace: trace(r.start, set(r.ret, 'ret', '0xfffffff5'), r.end), errors: [{ messageId: 'endAfterFailed', line: 3, confidence: 'certain', message: ['returned -11'] }] },
  ],
});
