/**
 * --require-ranges (config requireRanges): a capture with no invalidation range at all (the probes were off, or the
 * trace is of something else) fails the run, where it would pass as "0 ranges, ok".
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseline as b, trace } from './real-lines';
import { parseReport, runCli } from './report-helpers';

function files(): { empty: string; paired: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-require-'));
  const empty = join(dir, 'no-probes.txt');
  // Real lines of the capture, but none of a range: a capture made with the kprobes off.
  writeFileSync(empty, trace(b.kvmUnmap, b.marker, b.later));
  const paired = join(dir, 'paired.txt');
  writeFileSync(paired, trace(b.start, b.ret, b.end));
  const config = join(dir, 'mntrace.json');
  writeFileSync(config, JSON.stringify({ requireRanges: true }));
  return { empty, paired, config };
}

describe('--require-ranges', () => {
  it('without it an input with no range passes; with it (or the config key) the run fails, naming the input', () => {
    const f = files();
    assert.equal(runCli(['check', f.empty]).code, 0);
    const r = runCli(['check', '--require-ranges', f.empty, f.paired]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`FAIL: no invalidation range in ${f.empty.replace(/[.]/g, '\\.')} \\(--require-ranges\\)`));
    assert.equal(runCli(['check', '--config', f.config, f.empty]).code, 1);
    const json = parseReport(runCli(['check', '-q', '--format', 'json', '--require-ranges', f.empty]).stdout);
    assert.deepEqual(json.summary.withoutRanges, [f.empty]);
    assert.equal(json.summary.failed, true);
    const sarif = JSON.parse(runCli(['check', '-q', '--format', 'sarif', '--require-ranges', f.empty]).stdout);
    assert.match(JSON.stringify(sarif.runs[0].invocations[0].toolExecutionNotifications), /holds no invalidation range/);
  });

  it('a capture with ranges passes with it', () => {
    const f = files();
    const r = runCli(['check', '--require-ranges', f.paired]);
    assert.equal(r.code, 0, r.stdout);
  });
});
