import { runRuleTests } from '../rule-tester';
import { baseline as b, reaper as r, set, trace } from '../real-lines';

runRuleTests('failed-blockable-start', {
  valid: [
    { name: 'a blockable start that returned 0', trace: trace(b.start, b.ret, b.end) },
    { name: 'a non-blocking start may fail', trace: trace(r.start, set(r.ret, 'ret', '-11')) },
    { name: 'no flags captured: nothing to judge', trace: trace(b.start.replace(/ flags=1/, ''), set(b.ret, 'ret', '-11')) },
  ],
  invalid: [
    { name: 'blockable start returned -EAGAIN', trace: trace(b.start, b.kvmStart, set(b.ret, 'ret', '-11')), errors: [{ messageId: 'failedBlockable', line: 3, confidence: 'certain', message: ['must never fail'], evidenceLines: [1] }] },
    { name: 'return printed as 64-bit hex', trace: trace(b.start, set(b.ret, 'ret', '0xfffffffffffffff5')), errors: [{ messageId: 'failedBlockable', line: 2, confidence: 'certain', message: ['returned -11'] }] },
  ],
});
