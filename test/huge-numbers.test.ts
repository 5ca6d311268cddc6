/**
 * A pid, tgid or CPU number too long for a double (400 digits read as
 * Infinity, printed as null in JSON where the report schema says integer)
 * makes its line unreadable, in every format: the JSON report stays valid.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReport, runCli } from './report-helpers';

const ROOT = join(__dirname, '..', '..');
const BIG = '9'.repeat(400);

/** A fixture, its lines `pidLine` and `cpuLine` (0-based) given a 400-digit pid and CPU number by `edit`. */
const cases: Array<{ name: string; file: string; pid: (l: string) => string; cpu: (l: string) => string }> = [
  { name: 'ftrace', file: 'real/baseline.trace.lines-25911-26110.txt', pid: (l) => l.replace(/-\d+(\s+\[)/, `-${BIG}$1`), cpu: (l) => l.replace(/\[\d+\]/, `[${BIG}]`) },
  { name: 'trace-cmd report', file: 'real/baseline.trace-cmd-report.lines-24861-25160.txt', pid: (l) => l.replace(/-\d+(\s+\[)/, `-${BIG}$1`), cpu: (l) => l.replace(/\[\d+\]/, `[${BIG}]`) },
  { name: 'perf script', file: 'real/baseline.perf-script.lines-25311-25610.txt', pid: (l) => l.replace(/^(\s*\S+\s+)\d+(\s+\[)/, `$1${BIG}$2`), cpu: (l) => l.replace(/\[\d+\]/, `[${BIG}]`) },
  { name: 'csv', file: 'csv/baseline.derived.csv', pid: (l) => l.split(',').map((v, i) => (i === 3 ? BIG : v)).join(','), cpu: (l) => l.split(',').map((v, i) => (i === 1 ? BIG : v)).join(',') },
];

describe('huge pid and CPU numbers', () => {
  for (const c of cases) {
    it(`${c.name}: a 400-digit pid or CPU number is an unreadable line, and the JSON report is valid`, () => {
      const text = readFileSync(join(ROOT, 'fixtures', c.file), 'utf8');
      const lines = text.split('\n');
      const dataLine = (from: number) => lines.findIndex((l, i) => i >= from && /\[\d+\]|^\d/.test(l) && !l.startsWith('#'));
      const a = dataLine(5);
      const b = dataLine(a + 3);
      assert.notEqual(c.pid(lines[a]), lines[a]);
      assert.notEqual(c.cpu(lines[b]), lines[b]);
      lines[a] = c.pid(lines[a]);
      lines[b] = c.cpu(lines[b]);
      const dir = mkdtempSync(join(tmpdir(), 'mntrace-big-'));
      const ext = c.file.endsWith('.csv') ? 'csv' : 'txt';
      writeFileSync(join(dir, `orig.${ext}`), text);
      writeFileSync(join(dir, `big.${ext}`), lines.join('\n'));
      const before = parseReport(runCli(['check', '--format', 'json', join(dir, `orig.${ext}`)]).stdout);
      const res = runCli(['check', '--format', 'json', join(dir, `big.${ext}`)]);
      assert.ok(res.code === 0 || res.code === 1, res.stderr);
      const after = parseReport(res.stdout);
      assert.equal(after.inputs[0].unreadableLines, before.inputs[0].unreadableLines + 2);
      assert.deepEqual(after.inputs[0].unreadable.map((u: { line: number }) => u.line).slice(-2), [a + 1, b + 1]);
    });
  }

  it('a timestamp with 400 digits of seconds, a function_graph rel-time of 400 digits of µs, or a function_graph duration of 400 digits, is an unreadable line (function_graph crashed converting Infinity to a BigInt)', () => {
    const file = join(ROOT, 'fixtures', 'corpus', 'perf-tools', 'funcgraph_abstime_headers.lines-1-200.txt');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[5] = lines[5].replace(/^7238523/, BIG);
    lines[7] = lines[7].replace(/0\.153 us/, `${BIG} us`);
    // The rel-time column (µs since the buffer start, see parsers/funcgraph.ts) in place of the abstime one.
    lines[9] = lines[9].replace(/^7238523\.638014 \|/, `${BIG} us |`);
    const ftrace = readFileSync(join(ROOT, 'fixtures', 'real', 'baseline.trace.lines-25911-26110.txt'), 'utf8').split('\n');
    const at = ftrace.findIndex((l) => /mn_inv_start:/.test(l));
    ftrace[at] = ftrace[at].replace(/\s(\d+)\.(\d+):/, ` ${BIG}.$2:`);
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-big-'));
    for (const [name, text, line] of [['graph.txt', lines, 6], ['ftrace.txt', ftrace, at + 1]] as const) {
      writeFileSync(join(dir, name), text.join('\n'));
      const res = runCli(['check', '--format', 'json', join(dir, name)]);
      assert.ok(res.code === 0 || res.code === 1, res.stderr);
      const report = parseReport(res.stdout);
      assert.ok(report.inputs[0].unreadable.some((u: { line: number }) => u.line === line), `${name}: line ${line} not unreadable`);
      if (name === 'graph.txt') {
        assert.ok(report.inputs[0].unreadable.some((u: { line: number }) => u.line === 8), 'a duration of 400 digits is read');
        assert.ok(report.inputs[0].unreadable.some((u: { line: number }) => u.line === 10), 'a rel-time of 400 digits is read');
      }
    }
  });
});
