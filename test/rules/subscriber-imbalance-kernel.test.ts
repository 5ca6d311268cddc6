import { runRuleTests } from '../rule-tester';

import { reaper as r, set, trace } from '../real-lines';

/** The reaper's real range (oom_reaper.trace.txt) with the start's return changed to -EAGAIN and KVM's end missing. */
const failedWithoutKvmEnd = trace(r.start, r.kvmStart, set(r.ret, 'ret', '-11'));

runRuleTests('subscriber-imbalance', {
  valid: [
    { name: '6.1 with the core ending KVM before the failed return', kernel: '6.1.0-56-amd64', trace: trace(r.start, r.kvmStart, r.kvmEnd, set(r.ret, 'ret', '-11')) },
  ],
  invalid: [
    { name: 'kernel 5.10.20 lacks c2655835fd8c: certain', kernel: '5.10.20', trace: failedWithoutKvmEnd, errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'certain', message: ['lacks c2655835fd8c'] }] },
    { name: 'kernel 5.4 lacks it: certain', kernel: '5.4.0-150-generic', trace: failedWithoutKvmEnd, errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'certain' }] },
    { name: 'kernel 5.10.27 has the backport: the end was not captured', kernel: '5.10.27', trace: failedWithoutKvmEnd, errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'inconclusive', message: ['kernel 5.10.27 has c2655835fd8c', 'not captured'] }] },
    { name: 'kernel 6.1 has it: inconclusive', kernel: '6.1.0-56-amd64', trace: failedWithoutKvmEnd, errors: [{ messageId: 'startWithoutEnd', line: 2, confidence: 'inconclusive', message: ['kernel 6.1.0-56-amd64 has c2655835fd8c'] }] },
  ],
}, 'rule subscriber-imbalance (with --kernel)');
