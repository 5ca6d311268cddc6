/**
 * `npm run bench:layers` (bench/layers.ts): each layer does what its row says,
 * on a real slice: the scan builds nothing, each later layer builds, resolves,
 * pairs and judges the same events as the one before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LAYERS, runLayer } from '../bench/layers';
import { analyzeTrace } from '../src/analyze';
import { FIX } from './parse-helpers';

describe('bench layers', () => {
  it('on baseline.trace.txt lines 25911-26110: scan builds nothing; events, resolve, engine and rules build the same events; engine and rules pair what check pairs', async () => {
    const file = join(FIX, 'real', 'baseline.trace.lines-25911-26110.txt');
    const check = await analyzeTrace(file, { threads: 1 });
    const runs = Object.fromEntries(await Promise.all(LAYERS.map(async (l) => [l, await runLayer(file, l)] as const)));
    assert.equal(runs.scan.events, 0);
    assert.ok(runs.events.events > 0);
    for (const l of ['events', 'resolve', 'engine', 'rules'] as const) {
      // Every event line is either built or skipped, and each layer builds the same ones.
      assert.equal(runs[l].events, runs.events.events, l);
      assert.equal(runs[l].events + runs[l].skipped, runs.scan.skipped, l);
    }
    assert.ok(runs.resolve.operations > 0 && runs.resolve.operations <= runs.resolve.events);
    assert.equal(runs.engine.starts, check.counts.starts);
    assert.equal(runs.rules.starts, check.counts.starts);
    assert.equal(runs.rules.findings, check.findings.length);
  });
});
