/**
 * A capture with a flood of findings (here: the start probe was not enabled,
 * so every end is an orphan) keeps only the first findings of each rule in
 * full (engine.maxFindingsPerRule) and counts the rest exactly: memory stays
 * flat, the summary, the verdict and the exit code still count them all.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { analyzeTrace } from '../src/analyze';
import { FIX } from './parse-helpers';
import { BIN, parseReport } from './report-helpers';

const oom = gunzipSync(readFileSync(join(FIX, 'real', 'oom_reaper.trace.txt.gz'))).toString('utf8').split('\n');

/** The OOM capture without its range starts (173 of them): each of its 173 ends is an orphan. */
function withoutStarts(keepCount: boolean): string {
  const lines = oom.filter((l) => !l.includes(' mn_inv_start: ') && (keepCount || !l.includes('entries-in-buffer')));
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-unlisted-'));
  writeFileSync(join(dir, 'trace.txt'), lines.join('\n'));
  return join(dir, 'trace.txt');
}

function config(max: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-unlisted-'));
  writeFileSync(join(dir, 'mntrace.json'), JSON.stringify({ engine: { maxFindingsPerRule: max } }));
  return join(dir, 'mntrace.json');
}

describe('findings beyond engine.maxFindingsPerRule', () => {
  it('the first are kept in full, the rest counted by severity and confidence; the totals are exact', async () => {
    const file = withoutStarts(false);
    const all = await analyzeTrace(file);
    const ends = all.findings.filter((f) => f.ruleId === 'unpaired-end');
    assert.equal(ends.length, 173);
    assert.deepEqual(all.unlistedFindings, []);

    const capped = await analyzeTrace(file, { config: { engine: { maxFindingsPerRule: 5 } } });
    const kept = capped.findings.filter((f) => f.ruleId === 'unpaired-end');
    assert.deepEqual(kept, ends.slice(0, 5));
    const unlisted = capped.unlistedFindings.filter((u) => u.ruleId === 'unpaired-end');
    const byKind = (fs: Array<{ severity: string; confidence: string }>) => {
      const m: Record<string, number> = {};
      for (const f of fs) m[`${f.severity}/${f.confidence}`] = (m[`${f.severity}/${f.confidence}`] ?? 0) + 1;
      return m;
    };
    const expected = byKind(ends.slice(5));
    assert.deepEqual(Object.fromEntries(unlisted.map((u) => [`${u.severity}/${u.confidence}`, u.count])), expected);
  });

  it('check: exit 1 on unlisted errors, summary counts include them, the text says how many, the JSON report is schema-valid', () => {
    const file = withoutStarts(false);
    const cfg = config(5);
    const text = spawnSync(process.execPath, [BIN, 'check', '--config', cfg, file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(text.status, 1, text.stderr);
    assert.match(text.stdout, /\.\.\. and \d+ more unpaired-end findings \(\d+ error(, \d+ info)?\), counted but not listed/);
    assert.match(text.stdout, /173 range ends but not one start: was the __mmu_notifier_invalidate_range_start probe enabled\?/);
    const json = spawnSync(process.execPath, [BIN, 'check', '--format', 'json', '--config', cfg, file], { encoding: 'utf8' });
    assert.equal(json.status, 1);
    const report = parseReport(json.stdout) as { findings: Array<{ ruleId: string }>; inputs: Array<{ unlistedFindings: Array<{ ruleId: string; count: number }> }>; summary: { findings: Record<string, number> } };
    assert.equal(report.findings.filter((f) => f.ruleId === 'unpaired-end').length, 5);
    const total = Object.values(report.summary.findings).reduce((a, b) => a + b, 0);
    const unlisted = report.inputs[0].unlistedFindings.reduce((n, u) => n + u.count, 0);
    assert.equal(total, report.findings.length + unlisted);
  });

  it('JUnit fails the rule case with the unlisted count; SARIF says how many were counted but not listed', () => {
    const file = withoutStarts(false);
    const cfg = config(5);
    const junit = spawnSync(process.execPath, [BIN, 'check', '--format', 'junit', '--config', cfg, file], { encoding: 'utf8' });
    assert.equal(junit.status, 1);
    const m = /<testcase name="unpaired-end" [^>]*>\s*<failure message="(\d+) findings at or above error: /.exec(junit.stdout);
    assert.ok(m, junit.stdout.slice(0, 2000));
    const json = parseReport(spawnSync(process.execPath, [BIN, 'check', '--format', 'json', '--config', cfg, file], { encoding: 'utf8' }).stdout) as {
      findings: Array<{ ruleId: string; severity: string; confidence: string }>; inputs: Array<{ unlistedFindings: Array<{ ruleId: string; severity: string; confidence: string; count: number }> }>;
    };
    const failing = (f: { severity: string; confidence: string }) => f.severity === 'error' && f.confidence !== 'inconclusive';
    const expected = json.findings.filter((f) => f.ruleId === 'unpaired-end' && failing(f)).length +
      json.inputs[0].unlistedFindings.filter((u) => u.ruleId === 'unpaired-end' && failing(u)).reduce((n, u) => n + u.count, 0);
    assert.equal(Number(m[1]), expected);
    assert.match(junit.stdout, /\.\.\. \d+ more were counted but not listed \(engine\.maxFindingsPerRule\)/);
    const sarif = JSON.parse(spawnSync(process.execPath, [BIN, 'check', '--format', 'sarif', '--config', cfg, file], { encoding: 'utf8' }).stdout);
    const notes = sarif.runs[0].invocations[0].toolExecutionNotifications.map((n: { message: { text: string } }) => n.message.text);
    assert.ok(notes.some((t: string) => /: \d+ more unpaired-end findings \(error, (certain|likely)\) were counted but not listed as results/.test(t)), notes.join('\n'));
    // HTML: the verdict line counts them among the failing findings, and the input row says how many are not listed.
    const html = spawnSync(process.execPath, [BIN, 'check', '--format', 'html', '--config', cfg, file], { encoding: 'utf8' }).stdout;
    const data = JSON.parse((/<script type="application\/json" id="mntrace-data">(.*?)<\/script>/s.exec(html) as RegExpExecArray)[1]);
    const failingAll = json.findings.filter(failing).length + json.inputs[0].unlistedFindings.filter(failing).reduce((n, u) => n + u.count, 0);
    assert.equal(data.failing, failingAll);
    assert.equal(data.inputs[0].unlisted, json.inputs[0].unlistedFindings.reduce((n, u) => n + u.count, 0));
  });

  it('a file short of its header count makes the unlisted findings inconclusive too: exit 0', async () => {
    const capped = await analyzeTrace(withoutStarts(true), { config: { engine: { maxFindingsPerRule: 5 } } });
    assert.ok(capped.input.missingEntries);
    assert.ok(capped.unlistedFindings.length > 0);
    assert.ok(capped.unlistedFindings.every((u) => u.confidence === 'inconclusive' && u.severity === 'info'), JSON.stringify(capped.unlistedFindings));
    assert.ok(capped.findings.every((f) => f.confidence === 'inconclusive'));
  });
});
