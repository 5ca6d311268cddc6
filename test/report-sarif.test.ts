/**
 * SARIF output: valid against the official SARIF 2.1.0 schema for every
 * fixture, results located at the main evidence line with the other evidence
 * as related locations, fingerprints stable across runs and directories.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Ajv from 'ajv';
import { ruleMetas, rules } from '../rules';
import { artifactUri, buildSarif } from '../src/report/sarif';
import { FINGERPRINT_KEY } from '../src/engine/fingerprint';
import { stableFingerprint } from '../src/engine/fingerprint';
import { caseTrace, fixtureTraces, reportFor, ROOT, runCli } from './report-helpers';
import { baseline as b, header } from './real-lines';

const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'sarif-schema-2.1.0.json'), 'utf8'));
// The SARIF schema is draft-07; formats (uri, date-time) are not checked by ajv without ajv-formats.
// unicodeRegExp: false because the official schema's language pattern (`^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`)
// has a stray `]` that is a syntax error under the RegExp `u` flag ajv uses by default.
const validate = new Ajv({ strict: false, validateFormats: false, unicodeRegExp: false, allErrors: true }).compile(schema);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sarif = any;

function assertValid(log: unknown): void {
  assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
}

describe('SARIF report', () => {
  for (const fx of fixtureTraces()) {
    it(`is valid SARIF 2.1.0 for fixture ${fx.name}, one result per finding at its main evidence line`, async () => {
      const { report } = await reportFor([fx.trace], { kprobeEvents: fx.kprobeEvents });
      const log: Sarif = JSON.parse(JSON.stringify(buildSarif(report, { cwd: ROOT, rules: ruleMetas })));
      assertValid(log);
      assert.equal(log.version, '2.1.0');
      assert.equal(log.runs.length, 1);
      const run = log.runs[0];
      assert.deepEqual(run.tool.driver.rules.map((r: { id: string }) => r.id), rules.map((r) => r.meta.id));
      assert.equal(run.results.length, report.findings.length);
      run.results.forEach((res: Sarif, i: number) => {
        const f = report.findings[i];
        assert.equal(res.ruleId, f.ruleId);
        assert.equal(run.tool.driver.rules[res.ruleIndex].id, f.ruleId);
        const loc = res.locations[0].physicalLocation;
        assert.equal(loc.region.startLine, f.evidence[0].line);
        assert.equal(loc.artifactLocation.uri, relative(ROOT, fx.trace).split(/[\\/]/).join('/'));
        assert.ok(!loc.artifactLocation.uri.startsWith('/'), loc.artifactLocation.uri);
        assert.deepEqual((res.relatedLocations ?? []).map((r: Sarif) => r.message.text), f.evidence.slice(1).map((e) => e.role ?? 'evidence'));
        assert.deepEqual((res.relatedLocations ?? []).map((r: Sarif) => r.physicalLocation.region.startLine), f.evidence.slice(1).map((e) => e.line));
        assert.equal(res.partialFingerprints[FINGERPRINT_KEY], stableFingerprint(f));
        assert.equal(res.properties.confidence, f.confidence);
        assert.equal(res.properties.pid, f.pid);
        assert.equal(res.properties.comm, f.comm);
        assert.equal(res.properties.timestamp, f.timestamp);
        assert.equal(res.level, f.confidence === 'inconclusive' ? 'note' : f.severity === 'info' ? 'note' : f.severity);
      });
    });
  }

  it('fingerprints are identical across two runs and do not depend on where the trace lives', async () => {
    const trace = caseTrace('failed-blockable-start');
    const a = buildSarif((await reportFor([trace])).report, { cwd: ROOT, rules: ruleMetas });
    const b = buildSarif((await reportFor([trace])).report, { cwd: ROOT, rules: ruleMetas });
    const fps = (log: Sarif) => log.runs[0].results.map((r: Sarif) => r.partialFingerprints[FINGERPRINT_KEY]);
    assert.equal(fps(a).length, 4);
    assert.deepEqual(fps(a), fps(b));
    assert.equal(new Set(fps(a)).size, 4, 'each finding has its own fingerprint');
    // The same file in another directory (another checkout, another CI runner).
    const dir = join(mkdtempSync(join(tmpdir(), 'mntrace-sarif-')), 'elsewhere');
    mkdirSync(dir);
    copyFileSync(trace, join(dir, 'trace.txt'));
    const c = buildSarif((await reportFor([join(dir, 'trace.txt')])).report, { cwd: dir, rules: ruleMetas });
    assert.deepEqual(fps(c), fps(a));
    assert.equal(c.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri, 'trace.txt');
    // And the whole log is byte-identical between runs: no time, no absolute path.
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.ok(!JSON.stringify(a).includes(ROOT), 'no absolute path in the log');
  });

  it('levels: certain errors are error, inconclusive findings are notes; rules carry help with rationale and commits', async () => {
    const { report } = await reportFor([caseTrace('failed-blockable-start')]);
    const log: Sarif = buildSarif(report, { cwd: ROOT, rules: ruleMetas });
    const levels = log.runs[0].results.map((r: Sarif) => `${r.ruleId}:${r.level}`);
    assert.deepEqual([...levels].sort(), ['end-after-failed-start:error', 'failed-blockable-start:error', 'subscriber-imbalance:error', 'subscriber-imbalance:note']);
    const rule = log.runs[0].tool.driver.rules.find((r: Sarif) => r.id === 'unpaired-start');
    assert.match(rule.help.text, /c2655835fd8c/);
    assert.match(rule.help.markdown, /\*\*Why it matters\.\*\*/);
    assert.equal(rule.defaultConfiguration.level, 'error');
    assert.ok(rule.shortDescription.text.length <= rule.fullDescription.text.length);
  });

  it('artifact URIs are relative, forward-slashed and percent-encoded', () => {
    assert.equal(artifactUri('fixtures/real/x.txt.gz', '/repo'), 'fixtures/real/x.txt.gz');
    assert.equal(artifactUri('/repo/a dir/t#1.txt', '/repo'), 'a%20dir/t%231.txt');
    assert.equal(artifactUri('/elsewhere/t.txt', '/repo'), '../elsewhere/t.txt');
    assert.equal(artifactUri('-', '/repo'), 'stdin');
  });

  it('mntrace check --format sarif: valid, exit 1 on findings; with a baseline the known results are `unchanged`', () => {
    const trace = relative(ROOT, caseTrace('missing-end'));
    const res = runCli(['check', '--format', 'sarif', '-q', trace]);
    assert.equal(res.code, 1, res.stderr);
    const log: Sarif = JSON.parse(res.stdout);
    assertValid(log);
    assert.equal(log.runs[0].results[0].ruleId, 'unpaired-start');
    assert.equal(log.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri, 'fixtures/cases/missing-end/trace.txt');
    assert.equal(log.runs[0].invocations[0].executionSuccessful, true);
    const base = join(mkdtempSync(join(tmpdir(), 'mntrace-sarif-')), 'baseline.json');
    assert.equal(runCli(['check', '-q', '--write-baseline', base, trace]).code, 0);
    const again = runCli(['check', '--format', 'sarif', '-q', '--baseline', base, trace]);
    assert.equal(again.code, 0, again.stderr);
    const log2: Sarif = JSON.parse(again.stdout);
    assertValid(log2);
    assert.equal(log2.runs[0].results[0].baselineState, 'unchanged');
  });

  it('an unreadable input is an error notification, and the run exits 2', () => {
    const res = runCli(['check', '--format', 'sarif', '-q', 'no/such/trace.txt']);
    assert.equal(res.code, 2);
    const log: Sarif = JSON.parse(res.stdout);
    assertValid(log);
    assert.equal(log.runs[0].invocations[0].executionSuccessful, false);
    assert.match(log.runs[0].invocations[0].toolExecutionNotifications[0].message.text, /no such file/);
  });

  it('an input read only in part is an error notification (execution not successful); a header count the file falls short of, and a cut last line, are warnings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-sarif-'));
    const gz = readFileSync(join(ROOT, 'fixtures', 'compressed', 'baseline.trace.lines-25911-26110.txt.gz'));
    const cut = join(dir, 'cut.txt.gz');
    writeFileSync(cut, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const res = runCli(['check', '--format', 'sarif', '-q', cut]);
    assert.equal(res.code, 2);
    const log: Sarif = JSON.parse(res.stdout);
    assertValid(log);
    const inv = log.runs[0].invocations[0];
    assert.equal(inv.executionSuccessful, false);
    const texts = inv.toolExecutionNotifications.map((n: { level: string; message: { text: string } }) => `${n.level}: ${n.message.text}`);
    assert.ok(texts.some((t: string) => /^error: .*cut\.txt\.gz was read only in part: .*corrupt or cut off/.test(t)), texts.join('\n'));
    assert.ok(texts.some((t: string) => /^warning: .*ends in the middle of a line/.test(t)), texts.join('\n'));

    const short = join(dir, 'short.txt');
    writeFileSync(short, [header, b.start, b.ret, b.end].join('\n') + '\n');
    const log2: Sarif = JSON.parse(runCli(['check', '--format', 'sarif', '-q', short]).stdout);
    assertValid(log2);
    assert.equal(log2.runs[0].invocations[0].executionSuccessful, true);
    assert.match(log2.runs[0].invocations[0].toolExecutionNotifications[0].message.text, /header counted 29294 ring-buffer entries but the file holds 3: lines were cut or removed/);
  });
});
