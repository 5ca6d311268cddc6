/**
 * `mntrace verify`: the repo's recorded fixtures pass; a fixture whose
 * expectations no longer match fails with a readable diff; --update rewrites.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { findFixtures, registerVerifyCommand, runVerify, verifyFixture, type Expected } from '../src/cli/verify';
import { CASES } from './report-helpers';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mntrace-verify-'));
}

/** Copy a derived fixture (trace.txt + expected.json) into `root/name`, optionally changing its expectations. */
function copyCase(root: string, name: string, edit?: (e: Expected) => void): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(CASES, name, 'trace.txt'), join(dir, 'trace.txt'));
  const e = JSON.parse(readFileSync(join(CASES, name, 'expected.json'), 'utf8')) as Expected;
  edit?.(e);
  writeFileSync(join(dir, 'expected.json'), JSON.stringify(e, null, 2));
  return dir;
}

/** Run `mntrace verify ...args` through commander (as main.ts will), output to a file. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const out = join(tmp(), 'out.txt');
  const program = new Command().exitOverride();
  registerVerifyCommand(program);
  const before = process.exitCode;
  await program.parseAsync(['node', 'mntrace', 'verify', '-q', '-o', out, ...args]);
  const code = process.exitCode as number;
  process.exitCode = before;
  return { code, out: readFileSync(out, 'utf8') };
}

describe('mntrace verify', () => {
  it('every recorded fixture of the repo passes', async () => {
    const fixtures = findFixtures(CASES);
    assert.ok(fixtures.length >= 13, `${fixtures.length} fixtures`);
    for (const n of ['real-baseline', 'real-oom-reaper', 'real-process-mrelease', 'real-compaction', 'real-reclaim', 'real-baseline-stacktrace', 'missing-end', 'failed-blockable-start', 'nonblock-other-caller', 'real-bug-nonblock-ioctl', 'real-bug-atomic-start', 'real-bug-alloc-in-invalidate']) {
      assert.ok(fixtures.some((f) => f.endsWith(n)), n);
    }
    const res = await cli([CASES]);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, new RegExp(`verify: ${fixtures.length} fixture\\(s\\), ${fixtures.length} pass, 0 fail`));
  });

  it('a temp copy with one expected finding removed fails, with a readable diff and exit 1', async () => {
    const root = tmp();
    copyCase(root, 'missing-end', (e) => { e.findings = []; });
    copyCase(root, 'nonblock-other-caller');
    const res = await cli([root]);
    assert.equal(res.code, 1);
    assert.match(res.out, /FAIL \S*missing-end \(trace\.txt\)\n {4}\+ unexpected: unpaired-start error \[certain\] line 21 kvmnotif-147 at 6\.667004: kvmnotif-147 started invalidation range 0xff4d4553c041bb88/);
    assert.match(res.out, /mntrace verify --update/);
    assert.match(res.out, /verify: 2 fixture\(s\), 1 pass, 1 fail/);
    // Text mode without -q lists passing fixtures too.
    const r = await verifyFixture(join(root, 'nonblock-other-caller'));
    assert.equal(r.status, 'pass');
  });

  it('missing findings and count mismatches are shown as such', async () => {
    const root = tmp();
    const dir = copyCase(root, 'missing-end', (e) => {
      e.findings.push({ ruleId: 'unpaired-end', confidence: 'certain', line: 40 });
      e.counts = { ...e.counts, paired: 18 };
    });
    const r = await verifyFixture(dir);
    assert.equal(r.status, 'fail');
    assert.deepEqual(r.missing, [{ ruleId: 'unpaired-end', confidence: 'certain', line: 40 }]);
    assert.deepEqual(r.unexpected, []);
    assert.deepEqual(r.counts, [{ key: 'paired', expected: 18, actual: 19 }]);
    const res = await cli([root]);
    assert.match(res.out, /- missing: {4}unpaired-end \[certain\] line 40/);
    assert.match(res.out, /~ counts\.paired: expected 18, got 19/);
  });

  it('expectations may name the task instead of the line, and a message fragment', async () => {
    const root = tmp();
    const dir = copyCase(root, 'nonblock-other-caller', (e) => {
      e.findings = [{ ruleId: 'nonblock-outside-oom-reaper', comm: 'kvmnotif', pid: 147, message: '__split_huge_pmd' }];
    });
    assert.equal((await verifyFixture(dir)).status, 'pass');
  });

  it('--format junit: one test case per fixture, failures with the diff', async () => {
    const root = tmp();
    copyCase(root, 'missing-end', (e) => { e.findings = []; });
    copyCase(root, 'failed-blockable-start');
    const res = await cli(['--format', 'junit', root]);
    assert.equal(res.code, 1);
    assert.match(res.out, /<testsuite name="mntrace verify" id="0" tests="2" failures="1" errors="0"/);
    assert.match(res.out, /<testcase name="[^"]*missing-end" classname="mntrace\.verify" time="0">\s*<failure message="1 unexpected" type="FixtureMismatch">\+ unexpected: unpaired-start/);
  });

  it('--update rewrites expected.json (keeping description, trace and options); the fixture then passes', async () => {
    const root = tmp();
    const dir = copyCase(root, 'failed-blockable-start', (e) => { e.findings = []; delete e.counts; });
    assert.equal((await verifyFixture(dir)).status, 'fail');
    const res = await cli(['--update', root]);
    assert.equal(res.code, 0);
    assert.match(res.out, /UPDATED \S*failed-blockable-start \(trace\.txt\): 4 finding/);
    const e = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
    assert.match(e.description ?? '', /ret=-11/);
    assert.equal(e.findings.length, 4);
    // options.kernel (6.1, which has c2655835fd8c) makes the missing subscriber end inconclusive.
    assert.equal(e.options?.kernel, '6.1.0-56-amd64');
    assert.deepEqual(e.findings[0], { ruleId: 'subscriber-imbalance', severity: 'info', confidence: 'inconclusive', line: 22, comm: 'kvmnotif', pid: 147 });
    assert.deepEqual(e.findings.map((x) => `${x.ruleId}:${x.severity}`), ['subscriber-imbalance:info', 'failed-blockable-start:error', 'end-after-failed-start:error', 'subscriber-imbalance:info']);
    assert.deepEqual(e.counts, { paired: 19, open: 0, failedStarts: 1, orphanEnds: 0 });
    assert.equal((await verifyFixture(dir)).status, 'pass');
  });

  it('broken fixtures fail with the reason: schema, no trace, two traces, unreadable trace', async () => {
    const root = tmp();
    const bad = copyCase(root, 'missing-end', (e) => { (e as unknown as Record<string, unknown>).findigns = []; });
    const r1 = await verifyFixture(bad);
    assert.equal(r1.status, 'error');
    assert.match(r1.error ?? '', /expected\.json: does not match schemas\/expected\.schema\.json: .*'findigns'/);
    const noTrace = join(root, 'empty');
    mkdirSync(noTrace);
    writeFileSync(join(noTrace, 'expected.json'), '{"findings": []}');
    assert.match((await verifyFixture(noTrace)).error ?? '', /no trace file in .*empty \(name one with "trace" in expected\.json\)/);
    const two = join(root, 'two');
    mkdirSync(two);
    writeFileSync(join(two, 'expected.json'), '{"findings": []}');
    writeFileSync(join(two, 'a.txt'), '');
    writeFileSync(join(two, 'b.txt.gz'), '');
    assert.match((await verifyFixture(two)).error ?? '', /2 possible trace files .*a\.txt, b\.txt\.gz/);
    const kernel = copyCase(root, 'nonblock-other-caller', (e) => { e.options = { kernel: 'not a kernel' }; });
    assert.equal((await verifyFixture(kernel)).status, 'error', 'an unreadable kernel release is the fixture\'s error');
    const gone = join(root, 'gone');
    mkdirSync(gone);
    writeFileSync(join(gone, 'expected.json'), '{"trace": "../nowhere.txt", "findings": []}');
    assert.match((await verifyFixture(gone)).error ?? '', /cannot open .*nowhere\.txt: no such file/);
    const lineless = join(root, 'lineless');
    mkdirSync(lineless);
    writeFileSync(join(lineless, 'expected.json'), '{"findings": [{"ruleId": "unpaired-start"}]}');
    assert.equal((await verifyFixture(lineless)).status, 'error', 'an expectation needs a line or a task');
    const res = await cli([root]);
    assert.equal(res.code, 1);
    assert.match(res.out, /ERROR \S*empty\n {4}error: no trace file/);
  });

  it('a directory with no fixture is a usage error', async () => {
    await assert.rejects(runVerify([tmp()], { format: 'text' }), /no fixtures under/);
    await assert.rejects(runVerify([join(tmp(), 'nope')], { format: 'text' }), /no such directory/);
  });
});
