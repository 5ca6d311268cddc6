/**
 * Captures made with another ftrace tracer (hwlat, osnoise, timerlat,
 * wakeup_rt): their records are not events. Given to `check`, such a file is
 * named for what it is, with how to capture the events instead (exit 2), not
 * "is it a trace?". Fixtures: fixtures/tracers (README there).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeTrace } from '../src/analyze';
import { InputError } from '../src/io/source';
import { FIX } from './parse-helpers';

const BIN = join(__dirname, '..', '..', 'bin', 'mntrace.js');

describe('output of tracers that record no events', () => {
  for (const tracer of ['hwlat', 'osnoise', 'timerlat', 'wakeup_rt']) {
    it(`${tracer}: an input error naming the tracer and the nop tracer to use instead`, async () => {
      const file = join(FIX, `tracers/${tracer}.txt`);
      await assert.rejects(analyzeTrace(file), (e: unknown) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, new RegExp(`is the ${tracer} tracer's output \\(`));
        assert.match(e.message, /echo nop > \/sys\/kernel\/tracing\/current_tracer/);
        return true;
      });
    });
  }

  it('check exits 2 with the message, not "is it a trace?"', () => {
    const res = spawnSync(process.execPath, [BIN, 'check', join(FIX, 'tracers/hwlat.txt')], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(res.status, 2);
    // Said once, in the text report (stderr repeats input errors only beside a report for tools or a file).
    assert.match(res.stdout, /is the hwlat tracer's output \(hardware latency samples\): it records no events/);
    assert.doesNotMatch(res.stderr, /hwlat tracer's output/);
    assert.doesNotMatch(res.stderr + res.stdout, /is it a trace/);
  });

  it('a timerlat capture with the mmu_notifier kprobes enabled beside it is checked as usual', async () => {
    const timerlat = readFileSync(join(FIX, 'tracers/timerlat.txt'), 'utf8').trimEnd().split('\n');
    const events = readFileSync(join(FIX, 'real/baseline.trace.lines-25911-26110.txt'), 'utf8').trimEnd().split('\n');
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-tracers-'));
    const file = join(dir, 'trace.txt');
    // The entries count is left as the timerlat header has it (4): more entries than counted is not a fault.
    writeFileSync(file, [...timerlat, ...events].join('\n') + '\n');
    const r = await analyzeTrace(file);
    assert.ok(r.counts.paired > 0);
    assert.equal(r.input.unreadableLines, 4);
  });

  it('a tracer whose output is events (function) is not named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-tracers-'));
    const file = join(dir, 'trace.txt');
    const text = readFileSync(join(FIX, 'corpus/perf-tools/functrace_3.16_header.txt'), 'utf8');
    writeFileSync(file, text);
    const r = await analyzeTrace(file).catch((e: Error) => e);
    assert.ok(!(r instanceof Error) || !/tracer's output/.test(r.message));
  });
});
