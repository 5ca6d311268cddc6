/**
 * Which input a finding is of, in every reporter that groups by input: a
 * finding's evidence names the trace file it is in, which for a merged
 * capture is one of its parts and for a capture directory the trace inside
 * it, not the input's own name.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactUri } from '../src/report/sarif';
import { caseTrace, ROOT, runCli } from './report-helpers';
import { baseline as b } from './real-lines';

/** fixtures/cases/missing-end (one certain unpaired-start) as a capture directory. */
function captureDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-inputs-'));
  copyFileSync(caseTrace('missing-end'), join(dir, 'trace.txt'));
  return dir;
}

/** The same trace as part of a merged capture, with a second part holding one other CPU's event. */
function mergedParts(): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-inputs-'));
  const other = join(dir, 'cpu0.txt');
  writeFileSync(other, b.later.replace('[001]', '[000]').replace('kvmnotif-147', 'qemu-system-x86-900') + '\n');
  return [caseTrace('missing-end'), other];
}

/** The JUnit failures per test suite (input). */
function junitFailures(xml: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of xml.matchAll(/<testsuite name="([^"]*)" id="\d+" tests="\d+" failures="(\d+)"/g)) out[m[1]] = Number(m[2]);
  return out;
}

describe('findings are grouped under their own input', () => {
  it('JUnit: a merged capture and a capture directory fail their own suite', () => {
    const parts = mergedParts();
    const merged = runCli(['check', '--merge', '--format', 'junit', ...parts]);
    assert.equal(merged.code, 1, merged.stderr);
    assert.deepEqual(junitFailures(merged.stdout), { [parts.join(' + ')]: 1 });
    const dir = captureDir();
    const other = captureDir();
    const dirs = runCli(['check', '--format', 'junit', dir, other]);
    assert.equal(dirs.code, 1, dirs.stderr);
    assert.deepEqual(junitFailures(dirs.stdout), { [dir]: 1, [other]: 1 });
  });

  it('HTML: the finding of the second capture directory points at the second input', () => {
    const dirs = [captureDir(), captureDir()];
    const html = runCli(['check', '--format', 'html', ...dirs]);
    assert.equal(html.code, 1, html.stderr);
    const json = /<script type="application\/json" id="mntrace-data">(.*?)<\/script>/s.exec(html.stdout);
    assert.ok(json);
    const data = JSON.parse(json[1]);
    assert.deepEqual(data.findings.map((f: { input: number }) => f.input), [0, 1]);
  });

  it('Chrome trace: the finding of a merged capture is on its timeline', () => {
    const r = runCli(['check', '--merge', '--format', 'chrome-trace', ...mergedParts()]);
    assert.equal(r.code, 1, r.stderr);
    const events = JSON.parse(r.stdout).traceEvents as Array<{ cat?: string }>;
    assert.equal(events.filter((e) => e.cat === 'finding,unpaired-start').length, 1);
  });

  it('SARIF: a merged capture\'s parts and a capture directory\'s trace are the artifacts', () => {
    const parts = mergedParts();
    const merged = JSON.parse(runCli(['check', '--merge', '--format', 'sarif', ...parts]).stdout);
    const uris = (log: { runs: Array<{ artifacts: Array<{ location: { uri: string } }> }> }) => log.runs[0].artifacts.map((a) => a.location.uri);
    assert.deepEqual(uris(merged), parts.map((p) => artifactUri(p, ROOT)));
    const dir = captureDir();
    const log = JSON.parse(runCli(['check', '--format', 'sarif', dir]).stdout);
    assert.deepEqual(uris(log), [artifactUri(join(dir, 'trace.txt'), ROOT)]);
    assert.equal(log.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri, uris(log)[0]);
  });
});
