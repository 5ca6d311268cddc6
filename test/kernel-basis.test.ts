/**
 * No --kernel does not mean an old kernel: when the kernel is unknown (no --kernel, no uname.txt) a verdict that
 * depends on the version is at most likely, and every report says which kernel was assumed and why.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reaper as r, set, trace } from './real-lines';
import { parseReport, runCli } from './report-helpers';

/** The 6.1 reaper's real range (oom_reaper.trace.txt) with its start failing (-EAGAIN) and KVM's end not captured. */
function failedStartTrace(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'mntrace-kernel-')), 'trace.txt');
  writeFileSync(file, trace(r.start, r.kvmStart, set(r.ret, 'ret', '-11')));
  return file;
}

describe('the kernel a verdict assumes', () => {
  it('unknown kernel: subscriber-imbalance is likely, not certain "this kernel lacks c2655835fd8c", and the text report says no kernel was assumed', () => {
    const res = runCli(['check', failedStartTrace()]);
    assert.doesNotMatch(res.stdout, /\[certain\]/);
    assert.match(res.stdout, /error \[likely\]/);
    assert.doesNotMatch(res.stdout, /this kernel lacks/);
    assert.match(res.stdout, /kernel: unknown \(no --kernel, no uname\.txt in a capture directory, no version in the trace\): no kernel version is assumed/);
  });

  it('JSON and SARIF carry the kernel basis', () => {
    const file = failedStartTrace();
    const json = parseReport(runCli(['check', '-q', '--format', 'json', file]).stdout);
    assert.deepEqual(json.inputs[0].kernel, { source: 'unknown' });
    assert.equal(json.findings.find((f: { ruleId: string }) => f.ruleId === 'subscriber-imbalance').confidence, 'likely');
    const withKernel = parseReport(runCli(['check', '-q', '--format', 'json', '--kernel', '5.10.20', file]).stdout);
    assert.deepEqual(withKernel.inputs[0].kernel, { release: '5.10.20', source: 'option' });
    assert.equal(withKernel.findings.find((f: { ruleId: string }) => f.ruleId === 'subscriber-imbalance').confidence, 'certain');
    const sarif = JSON.parse(runCli(['check', '-q', '--format', 'sarif', file]).stdout);
    const kernel = sarif.runs[0].artifacts[0].properties.kernel;
    assert.equal(kernel.source, 'unknown');
    assert.match(kernel.assumed, /no kernel version is assumed/);
    const text = runCli(['check', '--kernel', '6.1.0-56-amd64', file]).stdout;
    assert.match(text, /kernel: 6\.1\.0-56-amd64 \(--kernel\)/);
  });
});
