/**
 * The OOM capture (fixtures/real/oom_reaper.trace.txt.gz): the reaper's ten
 * non-blocking starts are allowed whatever the capture holds as evidence —
 * stacks, the kretprobe's return site, the __oom_reap_task_mm probe, or the
 * oom:start_task_reaping window — and without any of them the rule says it
 * cannot tell (inconclusive), never that they are bugs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { analyzeTrace } from '../src/analyze';

const text = gunzipSync(readFileSync(join(__dirname, '..', '..', 'fixtures', 'real', 'oom_reaper.trace.txt.gz'))).toString('utf8');

async function check(filter: (line: string) => boolean) {
  const file = join(mkdtempSync(join(tmpdir(), 'mntrace-oom-')), 'trace.txt');
  writeFileSync(file, text.split('\n').filter(filter).join('\n'));
  return analyzeTrace(file);
}

const noStacks = (l: string) => !/<stack trace>/.test(l) && !l.startsWith(' =>');
const noReturns = (l: string) => noStacks(l) && !/ mn_inv_start_ret: /.test(l);
const noReapProbe = (l: string) => noReturns(l) && !/ oom_reap_task_mm: /.test(l);
const nothing = (l: string) => noReapProbe(l) && !/_task_reaping: /.test(l);

describe('OOM reaper capture', () => {
  for (const [name, filter] of [['with stacks', () => true], ['without stacks', noStacks], ['without stacks or returns', noReturns], ['with only the oom:*_task_reaping window', noReapProbe]] as const) {
    it(`${name}: every range paired, the reaper's non-blocking starts allowed`, async () => {
      const r = await check(filter);
      assert.equal(r.counts.paired, 173);
      assert.equal(r.counts.nonBlockingStarts, 10);
      assert.deepEqual(r.findings.map((f) => `${f.ruleId} ${f.confidence} ${f.message}`), []);
    });
  }

  it('with no evidence at all: inconclusive, naming what to capture', async () => {
    const r = await check(nothing);
    const f = r.findings.filter((x) => x.ruleId === 'nonblock-outside-oom-reaper');
    assert.equal(f.length, 10);
    assert.ok(f.every((x) => x.confidence === 'inconclusive' && x.severity === 'info' && /stacktrace trigger/.test(x.message)));
    assert.ok(r.findings.every((x) => x.confidence === 'inconclusive'));
  });
});
