/**
 * Baselines (--write-baseline / --baseline) and the progress bar.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { analyzeTrace } from '../src/analyze';
import { applyBaseline, makeBaseline, readBaseline, BaselineError } from '../src/report/baseline';
import { stableFingerprint } from '../src/engine/fingerprint';
import { createProgress, progressLine, type ProgressStream } from '../src/cli/progress';
import type { SourceInfo } from '../src/io/source';
import { caseTrace, parseReport, REAL, ROOT, runCli } from './report-helpers';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mntrace-baseline-'));
}

describe('baseline', () => {
  it('fingerprints depend on rule, file name and evidence, not on the directory or the run', async () => {
    const trace = caseTrace('failed-blockable-start');
    const a = await analyzeTrace(trace);
    const d = join(tmp(), 'other', 'place');
    mkdirSync(d, { recursive: true });
    copyFileSync(trace, join(d, 'trace.txt'));
    const b = await analyzeTrace(join(d, 'trace.txt'));
    assert.deepEqual(a.findings.map(stableFingerprint), b.findings.map(stableFingerprint));
    assert.equal(new Set(a.findings.map(stableFingerprint)).size, a.findings.length);
    copyFileSync(trace, join(d, 'renamed.txt'));
    const c = await analyzeTrace(join(d, 'renamed.txt'));
    assert.notDeepEqual(c.findings.map(stableFingerprint), a.findings.map(stableFingerprint), 'another file name is another finding');
    assert.match(stableFingerprint(a.findings[0]), /^[0-9a-f]{32}$/);
  });

  it('a finding has one fingerprint: the JSON report\'s, the baseline file\'s and SARIF\'s are the same', () => {
    const trace = caseTrace('failed-blockable-start');
    const base = join(tmp(), 'baseline.json');
    const json = parseReport(runCli(['check', '--format', 'json', '--fail-on', 'never', trace]).stdout);
    assert.equal(runCli(['check', '--write-baseline', base, trace]).code, 0);
    const sarif = JSON.parse(runCli(['check', '--format', 'sarif', '--fail-on', 'never', trace]).stdout);
    const fromJson = json.findings.map((f: { fingerprint: string }) => f.fingerprint).sort();
    assert.ok(fromJson.length > 0);
    fromJson.forEach((fp: string) => assert.match(fp, /^[0-9a-f]{32}$/));
    assert.deepEqual(readBaseline(base).findings.map((e) => e.fingerprint).sort(), fromJson);
    assert.deepEqual(sarif.runs[0].results.map((r: { partialFingerprints: Record<string, string> }) => r.partialFingerprints['mntraceFingerprint/v2']).sort(), fromJson);
  });

  it('applyBaseline splits known from new findings and lists accepted ones no longer found', async () => {
    const bug = await analyzeTrace(caseTrace('failed-blockable-start'));
    const base = makeBaseline(bug.findings.slice(0, 2));
    const split = applyBaseline(bug.findings, base);
    assert.equal(split.knownFindings.length, 2);
    assert.equal(split.newFindings.length, bug.findings.length - 2);
    assert.equal(split.absent.length, 0);
    const other = await analyzeTrace(caseTrace('missing-end'));
    assert.equal(applyBaseline(other.findings, base).absent.length, 2);
  });

  it('check --write-baseline accepts the current findings; --baseline then passes, and a new bug still fails', () => {
    const dir = tmp();
    const file = join(dir, 'mntrace-baseline.json');
    const known = relative(ROOT, caseTrace('missing-end'));
    const first = runCli(['check', known]);
    assert.equal(first.code, 1);
    const write = runCli(['check', '--write-baseline', file, known]);
    assert.equal(write.code, 0, write.stderr);
    assert.match(write.stderr, /wrote a baseline of 1 finding\(s\)/);
    const b = readBaseline(file);
    assert.deepEqual(b.findings.map((e) => [e.ruleId, e.file, e.line, e.comm, e.pid]), [['unpaired-start', 'trace.txt', 21, 'kvmnotif', 147]]);
    const again = runCli(['check', '--baseline', file, known]);
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /baseline .*: 1 known finding\(s\) accepted, 0 new/);
    assert.match(again.stdout, /known unpaired-start \[certain\] fixtures\/cases\/missing-end\/trace\.txt:21 kvmnotif-147/);
    // JSON: the findings are all there, the verdict counts only new ones.
    const json = runCli(['check', '--format', 'json', '-q', '--baseline', file, known]);
    assert.equal(json.code, 0);
    const report = parseReport(json.stdout);
    assert.equal(report.summary.failed, false);
    assert.equal(report.findings.length, 1);
    // Each finding says whether the baseline accepted it; the report counts them (a script can list the new ones).
    assert.equal(report.findings[0].baseline, 'known');
    assert.deepEqual(report.baseline, { path: file, known: 1, new: 0, absent: 0 });
    // Another trace's findings are new: they fail.
    const other = runCli(['check', '--baseline', file, relative(ROOT, caseTrace('nonblock-other-caller'))]);
    assert.equal(other.code, 1);
    assert.match(other.stdout, /nonblock-outside-oom-reaper/);
    assert.match(other.stdout, /0 known finding\(s\) accepted, 1 new, 1 accepted finding\(s\) no longer found/);
    const otherJson = parseReport(runCli(['check', '--format', 'json', '-q', '--baseline', file, relative(ROOT, caseTrace('nonblock-other-caller'))]).stdout);
    assert.deepEqual(otherJson.findings.map((f: { baseline: string }) => f.baseline), ['new']);
    assert.deepEqual(otherJson.baseline, { path: file, known: 0, new: 1, absent: 1 });
    // Without a baseline the report has neither.
    const plain = parseReport(runCli(['check', '--format', 'json', '-q', known]).stdout);
    assert.equal(plain.baseline, undefined);
    assert.equal(plain.findings[0].baseline, undefined);
  });

  it('a missing or malformed baseline is a usage error (exit 2)', () => {
    const dir = tmp();
    const trace = relative(ROOT, caseTrace('missing-end'));
    const missing = runCli(['check', '--baseline', join(dir, 'nope.json'), trace]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read baseline .*nope\.json: no such file/);
    writeFileSync(join(dir, 'bad.json'), '{"findings": 3}');
    const bad = runCli(['check', '--baseline', join(dir, 'bad.json'), trace]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not an mntrace baseline/);
    assert.throws(() => readBaseline(join(dir, 'bad.json')), BaselineError);
  });

  it('a baseline of the older fingerprints (v1: evidence roles as words) is refused with what to do, not silently matched against nothing', () => {
    const dir = tmp();
    const trace = relative(ROOT, caseTrace('missing-end'));
    writeFileSync(join(dir, 'v1.json'), JSON.stringify({ tool: 'mntrace', version: 1, findings: [{ fingerprint: '0123456789abcdef0123456789abcdef', ruleId: 'unpaired-start', file: 'trace.txt', line: 1, comm: 'x', pid: 1, message: 'm' }] }));
    const old = runCli(['check', '--baseline', join(dir, 'v1.json'), trace]);
    assert.equal(old.code, 2);
    assert.match(old.stderr, /holds fingerprints of mntraceFingerprint\/v1 \(an older mntrace\), which cannot match this version's mntraceFingerprint\/v2: review the findings and write it again with --write-baseline/);
  });
});

class FakeTty implements ProgressStream {
  isTTY = true;
  columns = 100;
  out: string[] = [];
  write(s: string): boolean {
    this.out.push(s);
    return true;
  }
}

function info(bytesRead: number, compression: SourceInfo['compression'] = 'gzip'): SourceInfo {
  return { path: 'x', compression, bytesRead, bytesText: bytesRead * 10, lines: 0 };
}

describe('progress bar', () => {
  const big = join(REAL, 'reclaim.trace.txt.gz'); // 1.5 MB gzip (36 MB of text)
  const compressedMin = { minCompressedBytes: 1024 * 1024 };

  it('draws bytes, MB/s and ETA on a TTY after the delay, and clears itself', () => {
    const tty = new FakeTty();
    let t = 0;
    const p = createProgress(big, { stream: tty, now: () => t, ...compressedMin });
    assert.ok(p);
    p.onProgress(info(100_000));
    assert.equal(tty.out.length, 0, 'nothing in the first quarter second');
    t = 500;
    p.onProgress(info(750_000));
    assert.equal(tty.out.length, 1);
    assert.match(tty.out[0], /^\r.*reclaim\.trace\.txt\.gz .* 4\d% 0\.7\/1\.5 MB \(7 MB unpacked\) 1\.4 MB\/s ETA 1s\u001b\[K$/);
    t = 550;
    p.onProgress(info(800_000));
    assert.equal(tty.out.length, 1, 'at most one redraw per 100 ms');
    p.done();
    assert.equal(tty.out[tty.out.length - 1], '\r\u001b[K');
    assert.ok(!tty.out.join('').includes('\u001b[36m'), 'no colour unless asked');
  });

  it('stays quiet: --quiet, not a TTY, stdin, small inputs, small uncompressed inputs', () => {
    const tty = new FakeTty();
    assert.equal(createProgress(big, { stream: tty, quiet: true, ...compressedMin }), undefined);
    assert.equal(createProgress(big, { stream: { write: () => true } }), undefined);
    assert.equal(createProgress('-', { stream: tty }), undefined);
    assert.equal(createProgress(join(REAL, 'process_mrelease.trace.txt.gz'), { stream: tty }), undefined);
    assert.equal(createProgress(big, { stream: tty }), undefined, '1.5 MB of gzip is under the default 2 MiB');
    let t = 0;
    const p = createProgress(big, { stream: tty, now: () => t, ...compressedMin });
    t = 1000;
    p?.onProgress(info(10, 'none')); // 1.5 MB of plain text is quick: no bar
    assert.equal(tty.out.length, 0);
  });

  it('the line fits the terminal and colours the bar only when asked', () => {
    const line = progressLine('/very/long/path/to/some/trace/file/that/does/not/fit.trace.txt', 30 * 2 ** 20, 120 * 2 ** 20, 50 * 2 ** 20, 80, true);
    // eslint-disable-next-line no-control-regex
    const plain = line.replace(/\u001b\[\d+m/g, '');
    assert.ok(plain.length <= 80, `${plain.length}: ${plain}`);
    assert.match(plain, /25% 30\.0\/120\.0 MB 50\.0 MB\/s ETA 2s$/);
    assert.ok(line.includes('\u001b[36m'));
  });
});
