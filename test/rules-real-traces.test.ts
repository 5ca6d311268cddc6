/**
 * Every rule, enabled together, stays silent on every real capture (fixtures/real, Debian 6.1, see MANIFEST.md
 * there): each is a correct kernel doing legitimate work, including kswapd, kcompactd and the OOM reaper
 * invalidating other processes' memory, kmalloc(GFP_KERNEL) by the invalidating task outside the callbacks, and a
 * 100 ms OOM-reaper range and a 17 ms exit teardown. And the engine pairs every range.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { analyzeTrace } from '../src/analyze';
import { rules } from '../rules';

const REAL = join(__dirname, '..', '..', 'fixtures', 'real');

/** mn_inv_end events per capture (MANIFEST.md "event counts"). */
const CAPTURES: Array<[string, number]> = [
  ['baseline.trace.txt.gz', 280],
  ['baseline.stacktrace.trace.txt.gz', 280],
  ['compaction.trace.txt.gz', 1011],
  ['oom_reaper.trace.txt.gz', 173],
  ['process_mrelease.trace.txt.gz', 11],
  ['reclaim.trace.txt.gz', 16560],
];

describe('all rules on the real captures', () => {
  it('every shipped rule is enabled by default', () => {
    assert.ok(rules.length >= 13);
  });
  for (const kernel of [undefined, '6.1.0-56-amd64']) {
    for (const [file, ends] of CAPTURES) {
      it(`${file}${kernel ? ` (--kernel ${kernel})` : ''}: no findings, ${ends} ranges paired`, async () => {
        const result = await analyzeTrace(join(REAL, file), { kernel });
        assert.deepEqual(result.findings.map((f) => `${f.ruleId} ${f.confidence} line ${f.evidence[0].line}: ${f.message}`), []);
        assert.equal(result.counts.paired, ends);
        assert.equal(result.counts.open, 0);
        assert.equal(result.counts.orphanEnds, 0);
      });
    }
  }
});

/** The real bug captures (fixtures/cases/real-bug-*, shared/traces/real-bugs/MANIFEST.md): each defect, one finding, and nothing else. */
const BUGS: Array<[string, string]> = [
  ['real-bug-nonblock-ioctl', 'nonblock-outside-oom-reaper'],
  ['real-bug-atomic-start', 'blocking-start-in-atomic'],
  ['real-bug-alloc-in-invalidate', 'reclaim-alloc-in-invalidate'],
];

describe('all rules on the real bug captures', () => {
  for (const kernel of [undefined, '6.1.0-56-amd64']) {
    for (const [dir, ruleId] of BUGS) {
      it(`${dir}${kernel ? ` (--kernel ${kernel})` : ''}: only ${ruleId}, certain`, async () => {
        const result = await analyzeTrace(join(REAL, '..', 'cases', dir, 'trace.txt.gz'), { kernel });
        assert.deepEqual(result.findings.map((f) => `${f.ruleId} ${f.confidence}`), [`${ruleId} certain`]);
        if (ruleId === 'reclaim-alloc-in-invalidate') {
          // The callback allocates at each of the interval's six invalidations: one finding at its call site, the other five counted on it.
          assert.match(result.findings[0].message, /at mnbug_itv_invalidate\+0x2f/);
          assert.equal(result.findings[0].repeats?.count, 5);
        }
        assert.equal(result.counts.open + result.counts.orphanEnds, 0);
      });
    }
  }
});
