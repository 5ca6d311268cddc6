/**
 * What proves a leaked range (README "Confidence"): the task left the kernel entry that started it (a system call
 * boundary, its own teardown of the range's mm), or another task tore that mm down. Each case is the leak:
 * a blocking start whose caller never ends it, the task going on for well under the 1000 ms timer. Real lines
 * (test/real-lines.ts); a loss window between the start and the proof keeps each one inconclusive.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeTrace } from '../../src/analyze';
import { runRuleTests } from '../rule-tester';
import { runCli } from '../report-helpers';
import { at, baseline as b, reaper as r, set, syscalls as sc, traceCmd as tc, trace } from '../real-lines';

const lost = 'CPU:1 [LOST 2 EVENTS]';
/** exit_mmap probed (mntrace probes names it exit_mmap): baseline.release with the probed function changed. */
const exitMmap = b.release.replace('mn_release: (__mmu_notifier_release+0x0/0x210)', 'exit_mmap: (exit_mmap+0x0/0x1f0)');
/** The reaper's real range without its end, the victim's own exit tearing the mm down 1 ms later, and the reaper running on. */
const reaperLeft = [r.begin, r.probe, r.start, r.kvmStart, r.ret];
const victimRelease = at(r.victimRelease, '18.914000');
const reaperLater = at(r.finish, '18.950000');

runRuleTests('unpaired-start', {
  valid: [
    { name: 'a marker write after the range ended', trace: trace(b.start, b.ret, b.end, b.marker) },
    { name: 'the task tore down its mm after its ranges ended', trace: trace(b.start, b.ret, b.end, b.release) },
  ],
  invalid: [
    {
      name: 'tracing_mark_write (ftrace): the task wrote trace_marker with the range open',
      trace: trace(b.start, b.kvmStart, b.ret, b.marker),
      errors: [{ messageId: 'leftOpen', line: 1, confidence: 'certain', message: ['system call boundary', 'line 4', 'trace_marker'], evidenceLines: [4] }],
    },
    { name: 'tracing_mark_write, events lost in between', trace: trace(b.start, b.kvmStart, b.ret, lost, b.marker), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive', message: ['events were lost'] }] },
    {
      name: 'print: tracing_mark_write (trace-cmd report)',
      inputFormat: 'trace-cmd',
      trace: trace(tc.header, tc.start, tc.kvmStart, tc.ret, tc.print),
      errors: [{ messageId: 'leftOpen', line: 2, confidence: 'certain', message: ['system call boundary', 'line 5'], evidenceLines: [5] }],
    },
    {
      name: 'a print event of kernel code (trace_printk) is not a system call',
      inputFormat: 'trace-cmd',
      trace: trace(tc.header, tc.start, tc.ret, tc.print.replace('tracing_mark_write:', 'mnbug_ioctl:')),
      errors: [{ messageId: 'leftOpen', line: 2, confidence: 'inconclusive', message: ['may simply not have been captured'] }],
    },
    { name: 'print (trace-cmd report), events lost in between', inputFormat: 'trace-cmd', trace: trace(tc.header, tc.start, tc.kvmStart, tc.ret, 'CPU:1 [3 EVENTS DROPPED]', tc.print), errors: [{ messageId: 'leftOpen', line: 2, confidence: 'inconclusive' }] },
    {
      name: 'raw_syscalls:sys_exit of the task',
      trace: trace(b.start, b.ret, sc.rawExit),
      errors: [{ messageId: 'leftOpen', line: 1, confidence: 'certain', message: ['system call boundary', 'sys_exit event'], evidenceLines: [3] }],
    },
    { name: 'raw_syscalls:sys_exit, events lost in between', trace: trace(b.start, b.ret, lost, sc.rawExit), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive' }] },
    {
      name: 'syscalls:sys_exit_write of the task',
      trace: trace(b.start, b.ret, sc.exitWrite),
      errors: [{ messageId: 'leftOpen', line: 1, confidence: 'certain', message: ['sys_exit_write'], evidenceLines: [3] }],
    },
    { name: 'syscalls:sys_exit_write, events lost in between', trace: trace(b.start, b.ret, lost, sc.exitWrite), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive' }] },
    {
      name: 'the task tore down the range\'s mm itself (__mmu_notifier_release)',
      trace: trace(b.start, b.kvmStart, b.ret, b.release),
      errors: [{ messageId: 'leftOpen', line: 1, confidence: 'certain', message: ['tore down the range\'s mm 0xff201f0681057180 itself', 'line 4'], evidenceLines: [4] }],
    },
    { name: 'own __mmu_notifier_release, events lost in between', trace: trace(b.start, b.kvmStart, b.ret, lost, b.release), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive' }] },
    {
      name: 'the task tore down the range\'s mm itself (exit_mmap)',
      trace: trace(b.start, b.ret, exitMmap),
      errors: [{ messageId: 'leftOpen', line: 1, confidence: 'certain', message: ['itself', 'exit_mmap'], evidenceLines: [3] }],
    },
    { name: 'own exit_mmap, events lost in between', trace: trace(b.start, b.ret, lost, exitMmap), errors: [{ messageId: 'leftOpen', line: 1, confidence: 'inconclusive' }] },
    {
      name: 'another task tore the mm down while the reaper held a range and ran on: likely, not certain',
      trace: trace(...reaperLeft, victimRelease, reaperLater),
      errors: [{ messageId: 'leftOpen', line: 3, confidence: 'likely', message: ['kvmnotif-152 tore down', 'OOM reaper'], evidenceLines: [6] }],
    },
    { name: 'another task\'s teardown, events lost in between', trace: trace(...reaperLeft, 'CPU:0 [LOST 2 EVENTS]', victimRelease, reaperLater), errors: [{ messageId: 'leftOpen', line: 3, confidence: 'inconclusive' }] },
    {
      name: 'another task\'s teardown of another mm proves nothing',
      trace: trace(...reaperLeft, set(victimRelease, 'mm', '0xff20d20941bb1300'), reaperLater),
      errors: [{ messageId: 'leftOpen', line: 3, confidence: 'inconclusive', message: ['may simply not have been captured'] }],
    },
    {
      name: 'a proof by the task itself outranks another task\'s teardown',
      trace: trace(b.start, b.ret, set(b.release, 'mm', '0xff201f0681057180').replace('kvmnotif-147 ', 'kvmnotif-149 ').replace('6.726433', '6.668000'), b.marker),
      errors: [{ messageId: 'leftOpen', line: 1, confidence: 'certain', message: ['system call boundary'], evidenceLines: [4] }],
    },
  ],
}, 'rule unpaired-start: what proves a leak');

describe('a short test program that leaks a range fails CI', () => {
  it('start, the error path, a marker write, the task exiting 59 ms later: check exits 1 with the leak certain', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mntrace-leak-')), 'trace.txt');
    writeFileSync(file, trace(b.start, b.kvmStart, b.ret, b.marker, b.release));
    const r = runCli(['check', file]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /error \[certain\] kvmnotif-147/);
    assert.match(r.stdout, /trace\.txt:4 {2}proof/);
  });
});

describe('the proof read by the scan worker (big files)', () => {
  it('a trace_marker write and a sys_exit scanned on the second thread prove the leak as on one thread', async () => {
    // The leaked range, 2,000 real mmap_lock lines of the task (filtered out), then the proof lines.
    const filler = '        kvmnotif-147     [001] .....     6.665748: mmap_lock_start_locking: mm=000000003eacbed4 memcg_path=/ write=false';
    const pad = Array.from({ length: 2000 }, (_, i) => at(filler, `6.${String(668000 + i).padStart(6, '0')}`));
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-worker-proof-'));
    for (const [proof, words] of [[b.marker, 'trace_marker'], [at(sc.rawExit, '6.673300'), 'sys_exit']] as const) {
      const file = join(dir, 'trace.txt');
      writeFileSync(file, trace(b.start, b.ret, ...pad, proof));
      const one = await analyzeTrace(file, { threads: 1 });
      const two = await analyzeTrace(file, { threads: 2, parallel: { minBytes: 0, chunkBytes: 64 * 1024, share: 8 } });
      for (const r of [one, two]) {
        assert.deepEqual(r.findings.map((f) => [f.ruleId, f.confidence, f.evidence.at(-1)?.line]), [['unpaired-start', 'certain', 2003]]);
        assert.match(r.findings[0].message, new RegExp(words));
      }
    }
  });
});
