/**
 * A trace file with fewer entries than its ftrace header counted (cut with
 * head, sliced with sed, filtered with grep): what a finding found absent may
 * be on a removed line, so such findings are inconclusive; findings on direct
 * evidence stand. Both threads agree, and every output says so.
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


/** A fixture case's trace with the real capture's header count put back (29294 entries; the file holds about 200). */
function withRealCount(caseName: string): string {
  const text = readFileSync(join(FIX, 'cases', caseName, 'trace.txt'), 'utf8').replace(/entries-in-buffer\/entries-written: \d+\/\d+/, 'entries-in-buffer/entries-written: 29294/29294');
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-missing-'));
  writeFileSync(join(dir, 'trace.txt'), text);
  return join(dir, 'trace.txt');
}

const KERNEL = '6.1.0-56-amd64';

describe('an input with fewer entries than its header counted', () => {
  it('a range whose end was removed: unpaired-start is inconclusive (certain with a truthful header), and says why', async () => {
    const honest = await analyzeTrace(join(FIX, 'cases', 'missing-end', 'trace.txt'), { kernel: KERNEL });
    assert.deepEqual(honest.findings.map((f) => [f.ruleId, f.confidence, f.severity]), [['unpaired-start', 'certain', 'error']]);
    assert.equal(honest.input.missingEntries, undefined);

    const cut = await analyzeTrace(withRealCount('missing-end'), { kernel: KERNEL });
    assert.deepEqual(cut.input.missingEntries, { claimed: 29294, found: 198 });
    assert.deepEqual(cut.findings.map((f) => [f.ruleId, f.confidence, f.severity]), [['unpaired-start', 'inconclusive', 'info']]);
    assert.match(cut.findings[0].message, /started again .*; but the input lacks 29096 of the 29294 entries its header counted \(lines cut or removed after the capture\), and what is missing may be among them\.$/);
    assert.ok(cut.losses.some((w) => w.why === 'missing-entries' && w.count === 29096 && w.line === 3));
  });

  it('direct evidence stands: a non-blocking start that returned to __split_huge_pmd stays certain', async () => {
    const cut = await analyzeTrace(withRealCount('nonblock-other-caller'), { kernel: KERNEL });
    assert.deepEqual(cut.findings.map((f) => [f.ruleId, f.confidence]), [['nonblock-outside-oom-reaper', 'certain']]);
  });

  it('the scan worker gives the same verdicts as one thread', async () => {
    const lines = gunzipSync(readFileSync(join(FIX, 'real', 'oom_reaper.trace.txt.gz'))).toString('utf8').split('\n');
    // Remove the first range end: its start is left open, the subscriber end has no start.
    const at = lines.findIndex((l) => l.includes(' mn_inv_end: '));
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-missing-'));
    const file = join(dir, 'trace.txt');
    writeFileSync(file, lines.filter((_, i) => i !== at).join('\n'));
    const one = await analyzeTrace(file, { threads: 1 });
    const two = await analyzeTrace(file, { threads: 2, parallel: { minBytes: 0, chunkBytes: 1 << 16 } });
    assert.deepEqual(one.input.missingEntries, { claimed: 12627, found: 12626 });
    assert.deepEqual(two.input.missingEntries, one.input.missingEntries);
    assert.ok(one.findings.length > 0);
    assert.ok(one.findings.every((f) => f.confidence === 'inconclusive'), JSON.stringify(one.findings.map((f) => [f.ruleId, f.confidence])));
    assert.deepEqual(two.findings, one.findings);
  });

  it('a slice with no range in it points at the cut before the probes', () => {
    const head = gunzipSync(readFileSync(join(FIX, 'real', 'baseline.trace.txt.gz'))).toString('utf8').split('\n').slice(0, 4000).join('\n') + '\n';
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-missing-'));
    writeFileSync(join(dir, 'trace.txt'), head);
    const text = spawnSync(process.execPath, [BIN, 'check', join(dir, 'trace.txt')], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /no range was paired or judged: they may be on the lines cut from this file \(check the whole trace file\); if not, `mntrace probes/);
  });

  it('check: exit 0, the text summary says what is missing, the JSON report carries it (schema-valid)', () => {
    const file = withRealCount('missing-end');
    const text = spawnSync(process.execPath, [BIN, 'check', '--kernel', KERNEL, file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /the header counted 29294 entries, the file holds 198: lines were cut or removed after the capture, so findings that rest on a missing event are inconclusive/);
    const json = spawnSync(process.execPath, [BIN, 'check', '--format', 'json', '--kernel', KERNEL, file], { encoding: 'utf8' });
    assert.equal(json.status, 0, json.stderr);
    const report = parseReport(json.stdout) as { inputs: Array<{ missingEntries?: unknown }> };
    assert.deepEqual(report.inputs[0].missingEntries, { claimed: 29294, found: 198 });
  });
});
