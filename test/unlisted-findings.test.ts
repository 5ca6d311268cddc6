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

  it('a file short of its header count makes the unlisted findings inconclusive too: exit 0', async () => {
    const capped = await analyzeTrace(withoutStarts(true), { config: { engine: { maxFindingsPerRule: 5 } } });
    assert.ok(capped.input.missingEntries);
    assert.ok(capped.unlistedFindings.length > 0);
    assert.ok(capped.unlistedFindings.every((u) => u.confidence === 'inconclusive' && u.severity === 'info'), JSON.stringify(capped.unlistedFindings));
    assert.ok(capped.findings.every((f) => f.confidence === 'inconclusive'));
  });
});
