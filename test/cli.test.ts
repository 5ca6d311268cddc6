/**
 * The command line as users run it: exit codes, the JSON report against its
 * published schema, `events` JSON lines, stdin, config errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { baseline as b, reaper as r, set, trace } from './real-lines';
import { parseReport } from './report-helpers';
import { COMPRESSIONS } from '../src/io/source';
import { binNodeFlags } from '../bench/bench';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'mntrace.js');
const REAL = join(ROOT, 'fixtures', 'real');

function run(args: string[], input?: string) {
  const res = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, maxBuffer: 256 << 20, env: { ...process.env, NO_COLOR: '1' } });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** An input error is said exactly once: in the text report on stdout (the text format), not repeated on stderr. */
function saidOnce(res: { stdout: string; stderr: string }, re: RegExp): void {
  const all = new RegExp(re.source, 'g');
  assert.equal([...`${res.stdout}\n${res.stderr}`.matchAll(all)].length, 1, `said ${[...`${res.stdout}\n${res.stderr}`.matchAll(all)].length} times, not once:\n${res.stdout}${res.stderr}`);
}

function tmpTrace(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-cli-'));
  const file = join(dir, 'trace.txt');
  writeFileSync(file, text);
  return file;
}


describe('mntrace check', () => {
  it('the OOM capture: clean, exit 0, the reaper\'s non-blocking starts allowed', () => {
    const res = run(['check', join(REAL, 'oom_reaper.trace.txt.gz')]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /173 paired, 0 open, 0 failed starts, 0 orphan ends \(173 starts, 10 non-blocking\)/);
    assert.match(res.stdout, /ok: no findings/);
  });

  it('a capture with no invalidation ranges says nothing was paired and how to capture them (the OOM capture does not)', () => {
    const res = run(['check', join(ROOT, 'fixtures', 'corpus', 'lisa', 'trace.lines-1-300.txt')]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /no invalidation range start or end in this input, so no range was paired or judged: `mntrace probes --kernel \$\(uname -r\)`/);
    assert.doesNotMatch(run(['check', join(REAL, 'oom_reaper.trace.txt.gz')]).stdout, /no invalidation range/);
  });

  it('an empty file, or one of which no line reads as an event, is an input error (exit 2), not a clean trace; a capture that recorded no event still is clean', () => {
    const notATrace = tmpTrace('# tracer: nop\n#\nhello world\nthis is not a trace either\n');
    const res = run(['check', '--format', 'json', notATrace]);
    assert.equal(res.code, 2, res.stdout);
    assert.match(res.stderr, /trace\.txt: no event could be read from it as ftrace \(2 of its 4 lines unreadable; the first, line 3: "hello world"\): is it a trace\? If it is, --input-format names its format/);
    const report = parseReport(res.stdout);
    assert.match(report.inputs[0].error, /no event could be read/);
    // tracefs with `nocontext-info` prints `# tracer:` and then event lines without task, CPU and time (real lines, cut so): said what they are.
    const contextless = readFileSync(join(ROOT, 'fixtures', 'real', 'baseline.trace.lines-25911-26110.txt'), 'utf8').split('\n')
      .map((l) => /\d+\.\d+: (.*)$/.exec(l)?.[1]).filter((l) => l !== undefined).join('\n');
    const noContext = run(['check', tmpTrace(`# tracer: nop\n#\n${contextless}\n`)]);
    assert.equal(noContext.code, 2, noContext.stdout);
    saidOnce(noContext, /trace\.txt is ftrace event lines without their task, CPU and timestamp columns \(captured with the `context-info` trace option off\)/);
    // trace-cmd's summaries instead of its events (here the real capture's `--stat` output, then `--profile`): said what they are.
    const stat = run(['check', join(REAL, 'meta', 'baseline.trace-cmd.stat.txt')]);
    assert.equal(stat.code, 2, stat.stdout);
    saidOnce(stat, /baseline\.trace-cmd\.stat\.txt holds no events: 25 of its 31 lines are the ring-buffer statistics that `trace-cmd report --stat` prints .*Check the events themselves: what `trace-cmd report -i trace\.dat` prints without that option/);
    const profile = run(['check', join(ROOT, 'fixtures', 'corpus', 'trace-cmd', 'report_profile.txt')]);
    assert.equal(profile.code, 2, profile.stdout);
    saidOnce(profile, /holds no events: 31 of its 31 lines are the `trace-cmd report --profile` summary/);
    // The header of a capture that recorded nothing: no line is unreadable, and nothing is wrong.
    const headerOnly = tmpTrace('# tracer: nop\n#\n# entries-in-buffer/entries-written: 0/0   #P:2\n#\n');
    assert.equal(run(['check', headerOnly]).code, 0);
    // An empty file was never written: an input error, on a file or on stdin; following a quiet trace_pipe is not.
    const empty = run(['check', tmpTrace('')]);
    assert.equal(empty.code, 2);
    saidOnce(empty, /trace\.txt is empty: there is no line to check/);
    saidOnce(run(['check', '-'], ''), /<stdin> is empty/);
    assert.match(run(['check', '--format', 'json', '-'], '').stderr, /^mntrace: <stdin> is empty/);
    assert.equal(run(['check', '--follow', '-'], '').code, 0);
  });

  it('the JSON report validates against schemas/report.schema.json', () => {
    const res = run(['check', '--format', 'json', join(REAL, 'baseline.trace.txt.gz'), join(REAL, 'process_mrelease.trace.txt.gz')]);
    assert.equal(res.code, 0, res.stderr);
    const report = parseReport(res.stdout);
    assert.equal(report.$schema, 'https://mntrace.dev/schemas/report.schema.json', 'the report names its schema');
    assert.equal(report.tool.name, 'mntrace');
    assert.deepEqual(report.inputs.map((i: { events: number }) => i.events), [29294, 3422]);
    assert.equal(report.inputs[0].ranges.paired, 280);
    assert.equal(report.summary.ranges.paired, 291);
    assert.deepEqual(report.findings, []);
  });

  it('findings at or above --fail-on exit 1; --fail-on never exits 0; JSON keeps timestamps as printed', () => {
    const file = tmpTrace(trace(b.start, b.kvmStart, set(b.ret, 'ret', '-11')));
    const res = run(['check', '--format', 'json', file]);
    assert.equal(res.code, 1, res.stderr);
    const report = parseReport(res.stdout);
    const f = report.findings.find((x: { ruleId: string }) => x.ruleId === 'failed-blockable-start');
    assert.equal(f.timestamp, '6.667965');
    assert.equal(f.confidence, 'certain');
    assert.deepEqual(f.evidence.map((e: { line: number }) => e.line), [3, 1]);
    assert.equal(run(['check', '--fail-on', 'never', file]).code, 0);
  });

  it('inconclusive findings never fail a run', () => {
    const file = tmpTrace(trace(b.end, b.kvmEnd));
    const res = run(['check', '--format', 'json', '--fail-on', 'info', file]);
    assert.equal(res.code, 0, res.stdout);
    const report = parseReport(res.stdout);
    assert.ok(report.findings.length > 0);
    assert.ok(report.findings.every((f: { confidence: string; severity: string }) => f.confidence === 'inconclusive' && f.severity === 'info'));
  });

  it('text output groups findings by rule with evidence lines', () => {
    const file = tmpTrace(trace(r.start, r.kvmStart, r.kvmEnd, set(r.ret, 'ret', '-11'), r.end));
    const res = run(['check', file]);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^end-after-failed-start — /m);
    assert.match(res.stdout, /trace\.txt:5 +end +oom_reaper-30 \[000\] 18\.913279: mn_inv_end:/);
    assert.match(res.stdout, /FAIL: 1 finding at or above error/);
  });

  it('reads stdin with -', () => {
    const text = gunzipSync(readFileSync(join(REAL, 'process_mrelease.trace.txt.gz'))).toString('utf8');
    const res = run(['check', '--format', 'json', '-'], text);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).inputs[0].ranges.paired, 11);
  });

  it('names stdin one way: the input, its evidence and the SARIF artifact agree', () => {
    const text = readFileSync(join(ROOT, 'fixtures', 'cases', 'missing-end', 'trace.txt'), 'utf8');
    const json = JSON.parse(run(['check', '--format', 'json', '-'], text).stdout);
    assert.equal(json.inputs[0].path, '<stdin>');
    assert.ok(json.findings.length > 0);
    for (const f of json.findings) for (const e of f.evidence) assert.equal(e.path, '<stdin>');
    assert.match(run(['check', '-'], text).stdout, /^ {2}<stdin>: ftrace, 210 lines/m);
    const sarif = JSON.parse(run(['check', '--format', 'sarif', '-'], text).stdout);
    const uris = new Set<string>();
    for (const a of sarif.runs[0].artifacts ?? []) uris.add(a.location.uri);
    for (const res of sarif.runs[0].results) for (const l of res.locations) uris.add(l.physicalLocation.artifactLocation.uri);
    assert.deepEqual([...uris], ['stdin']);
  });

  it('a latency-by-caller table with no caller named says what would name them', () => {
    const perf = run(['check', join(REAL, 'baseline.perf-script.lines-25311-25610.txt')]);
    assert.match(perf.stdout, /latency by caller: no start's caller was captured by name .*perf record -g\)$/m);
    assert.doesNotMatch(perf.stdout, /latency by caller \(top 1\): unknown/);
    // Named callers (return sites of the kretprobe in ftrace text) are listed as before.
    assert.match(run(['check', join(REAL, 'oom_reaper.trace.txt.gz')]).stdout, /latency by caller \(top 3\): try_to_unmap_one n=162/);
  });

  it('mntrace with no command prints the help and exits 2; --help exits 0; check --help lists compressions, examples and exit codes', () => {
    const none = run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^Usage: mntrace \[options\] \[command\]/);
    assert.match(none.stderr, /check \[options\] <files\.\.\.>/);
    assert.equal(run(['--help']).code, 0);
    const help = run(['check', '--help']);
    assert.equal(help.code, 0);
    for (const c of COMPRESSIONS) assert.match(help.stdout, new RegExp(`recognised by their magic bytes[^]*\\b${c}\\b`), `check --help does not name ${c}`);
    assert.match(help.stdout, /\nExamples:\n {2}mntrace check /);
    assert.match(help.stdout, /\nExit codes:\n {2}0 [^\n]+\n {2}1 [^\n]+\n {2}2 /);
  });

  it('usage and input errors exit 2 with a message', () => {
    const missing = run(['check', '/nonexistent/trace.txt']);
    assert.equal(missing.code, 2);
    saidOnce(missing, /cannot open \/nonexistent\/trace\.txt: no such file/);
    // An output that cannot be written fails before any input is read (a big trace takes minutes), and never as a crash.
    for (const [flag, path, why] of [['-o', '/nonexistent/dir/r.txt', 'no such directory'], ['-o', tmpdir(), 'it is a directory'], ['--write-baseline', '/nonexistent/b.json', 'no such directory']]) {
      const bad = run(['check', flag, path, '/nonexistent/trace.txt']);
      assert.equal(bad.code, 2);
      assert.equal(bad.stderr, `mntrace: ${flag === '-o' ? '--output' : flag} ${path}: cannot write there (${why})\n`);
    }
    const probes = run(['probes', '--kernel', '6.1.0-56-amd64', '--format', 'script', '-o', '/nonexistent/capture.sh']);
    assert.equal(probes.code, 2);
    assert.match(probes.stderr, /--output \/nonexistent\/capture\.sh: cannot write there \(no such directory\)/);
    // The summary's last line points at the reason given with the input, not at one remedy for every kind of error.
    const empty = run(['check', mkdtempSync(join(tmpdir(), 'mntrace-cli-'))]);
    assert.equal(empty.code, 2);
    assert.match(empty.stdout, /is a directory without a trace \(expected one of trace\.txt/);
    assert.match(empty.stdout, /1 input could not be read, for the reason given above\n$/);
    assert.doesNotMatch(empty.stdout, /--input-format/);
    assert.equal(run(['check', '--format', 'yaml', join(REAL, 'baseline.trace.txt.gz')]).code, 2);
    assert.equal(run(['check']).code, 2);
    const cfg = tmpTrace(JSON.stringify({ rules: { 'unpaired-start': { severity: 'error', options: { bogus: 1 } } } }));
    const bad = run(['check', '--config', cfg, join(REAL, 'baseline.trace.txt.gz')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /rules\.unpaired-start\.options: must NOT have additional properties 'bogus'/);
    const unknownRule = tmpTrace(JSON.stringify({ rules: { 'no-such-rule': 'off' } }));
    assert.match(run(['check', '--config', unknownRule, join(REAL, 'baseline.trace.txt.gz')]).stderr, /rules\.no-such-rule: no such rule/);
  });

  it('a cut-off compressed trace: exit 2, and the lines before the damage are still checked and summarised (text and JSON)', () => {
    const gz = readFileSync(join(ROOT, 'fixtures', 'compressed', 'baseline.trace.lines-25911-26110.txt.gz'));
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-cli-'));
    const cut = join(dir, 'cut.txt.gz');
    writeFileSync(cut, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const text = run(['check', cut]);
    assert.equal(text.code, 2);
    saidOnce(text, /read only in part: .*cut\.txt\.gz: compressed data is corrupt or cut off/);
    assert.match(text.stdout, /ranges: [1-9]\d* paired/);
    assert.match(text.stdout, /1 input could not be read whole, for the reason given above\n$/);
    const json = run(['check', '--format', 'json', cut]);
    assert.equal(json.code, 2);
    assert.match(json.stderr, /compressed data is corrupt or cut off after \d+ lines .*; the lines before it were analysed/);
    const report = parseReport(json.stdout);
    assert.match(report.inputs[0].damaged, /corrupt or cut off/);
    assert.ok(report.inputs[0].events > 0);
  });

  it('a config can turn a rule off or change its severity', () => {
    const file = tmpTrace(trace(b.start, set(b.ret, 'ret', '-11')));
    const cfg = tmpTrace(JSON.stringify({ rules: { 'failed-blockable-start': 'warning' } }));
    assert.equal(run(['check', '--config', cfg, file]).code, 0);
    assert.equal(run(['check', '--config', cfg, '--fail-on', 'warning', file]).code, 1);
  });
});

describe('CSV column names', () => {
  it('--csv-columns maps an export with other column names; a bad role is a usage error', () => {
    const text = readFileSync(join(ROOT, 'fixtures', 'csv', 'baseline.derived.csv'), 'utf8').replace(/^[^\n]*/, 'timestamp_ns,cpu,upid,utid,thread_name,name,args');
    const file = tmpTrace(text);
    const res = run(['check', '--format', 'json', '--input-format', 'csv', '--csv-columns', 'ts=timestamp_ns,pid=upid,tid=utid,comm=thread_name,event=name', file]);
    assert.equal(res.code, 0, res.stderr);
    const report = parseReport(res.stdout);
    assert.equal(report.inputs[0].ranges.paired, 3);
    const bad = run(['check', '--input-format', 'csv', '--csv-columns', 'time=x', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mntrace: --csv-columns: unknown CSV column role 'time' \(expected one of ts, cpu, pid, tid, tgid, comm, event/);
  });
});

describe('mntrace events', () => {
  it('prints one JSON object per event with stable field names', () => {
    const res = run(['events', join(REAL, 'process_mrelease.trace.txt.gz')]);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines.length, 3422);
    const start = lines.map((l) => JSON.parse(l)).find((e) => e.event === 'mn_inv_start' && e.comm === 'labhelp');
    assert.deepEqual(Object.keys(start).slice(0, 8), ['file', 'line', 'ts', 'cpu', 'pid', 'tgid', 'comm', 'event']);
    assert.equal(start.fields.flags, '0');
    assert.equal(start.probe.symbol, '__mmu_notifier_invalidate_range_start');
    assert.ok(Array.isArray(start.stack) && start.stack.some((f: { symbol: string }) => f.symbol === '__oom_reap_task_mm'));
    assert.match(res.stderr, /3571 lines, 3422 events, 0 unreadable/);
  });

  it('--all adds coverage records and unreadable lines', () => {
    const res = run(['events', '--all', join(ROOT, 'fixtures', 'ftrace', 'dmesg-in-header.txt')]);
    const recs = res.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(recs.some((x) => x.record === 'unreadable' && x.line === 4));
    assert.ok(recs.some((x) => x.record === 'header' && x.entriesWritten === 10));
    assert.match(res.stderr, /dmesg-in-header\.txt:4: unreadable \(kernel console \(dmesg\) line/);
  });
});

describe('the launcher', () => {
  it('run as a program (through sh, as npx and an installed bin run it), node gets the small young generation that keeps the peak RSS flat; the bench scripts use the same flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-bin-'));
    const probe = join(dir, 'probe.js');
    const out = join(dir, 'argv.json');
    writeFileSync(probe, `require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.execArgv));`);
    const r = spawnSync(BIN, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: `--require ${probe}` } });
    assert.equal(r.status, 0, r.stderr);
    const argv = JSON.parse(readFileSync(out, 'utf8')) as string[];
    assert.ok(argv.includes('--max-semi-space-size=4'), JSON.stringify(argv));
    assert.deepEqual(binNodeFlags(), ['--max-semi-space-size=4']);
  });
});
