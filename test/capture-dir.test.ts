/**
 * `mntrace check DIR` on a capture directory as `mntrace probes --format script`
 * saves it: the trace with its kprobe definitions, per-CPU buffer stats and uname.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeTrace } from '../src/analyze';
import { parseCpuStats } from '../src/io/capture-dir';
import { baseline as b, trace } from './real-lines';

const ROOT = join(__dirname, '..', '..');
const REAL = join(ROOT, 'fixtures', 'real');

/** per_cpu/cpu1/stats as the kernel prints it (6.1), with drops. */
const STATS_DROPPED = `entries: 0
overrun: 0
commit overrun: 0
bytes: 0
oldest event ts:     6.309435
now ts:    12.773943
dropped events: 42
read events: 0
`;

function captureDir(files: Record<string, string>, copies: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-capture-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  for (const [name, from] of Object.entries(copies)) copyFileSync(from, join(dir, name));
  return dir;
}

describe('capture directories', () => {
  it('reads the trace, kprobe definitions and uname of a saved capture', async () => {
    const dir = captureDir(
      { 'uname.txt': 'Linux labguest 6.1.0-56-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16) x86_64 GNU/Linux\n', 'stats-cpu0.txt': STATS_DROPPED.replace('dropped events: 42', 'dropped events: 0') },
      { 'trace.txt.gz': join(REAL, 'process_mrelease.trace.txt.gz'), 'kprobe_events.txt': join(REAL, 'kprobe_events-6.1.txt') },
    );
    const r = await analyzeTrace(dir);
    assert.equal(r.input.trace, join(dir, 'trace.txt.gz'));
    assert.equal(r.counts.paired, 11);
    assert.deepEqual(r.findings, []);
    assert.deepEqual(r.input.bufferStats, [{ cpu: 0, overrun: 0, dropped: 0, entries: 0 }]);
  });

  it('dropped events in the saved stats make a range left open at the end inconclusive', async () => {
    const open = trace(b.start, b.kvmStart, b.ret, b.later);
    const clean = captureDir({ 'trace.txt': open });
    const dropped = captureDir({ 'trace.txt': open, 'stats-cpu1.txt': STATS_DROPPED });
    const config = { engine: { likelyAfterMs: 50 } };
    const without = (await analyzeTrace(clean, { config })).findings.filter((f) => f.ruleId === 'unpaired-start');
    const withDrops = (await analyzeTrace(dropped, { config })).findings.filter((f) => f.ruleId === 'unpaired-start');
    assert.deepEqual(without.map((f) => f.confidence), ['likely']);
    assert.deepEqual(withDrops.map((f) => f.confidence), ['inconclusive']);
    assert.match(withDrops[0].message, /lost/);
  });

  it('a directory without a trace is an input error that says what it expected', async () => {
    const dir = captureDir({ 'notes.txt': 'nothing here\n' });
    await assert.rejects(analyzeTrace(dir), /directory without a trace \(expected one of trace\.txt/);
  });

  it('parses per-CPU stats', () => {
    assert.deepEqual(parseCpuStats(3, STATS_DROPPED), { cpu: 3, overrun: 0, dropped: 42, entries: 0 });
  });
});
