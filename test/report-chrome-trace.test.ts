/**
 * Trace Event Format output (ui.perfetto.dev): processes and threads named by
 * metadata events, paired ranges as nesting X slices, problem ranges as async
 * slices, findings as instants, lost-event windows marked.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { analyzeTrace, type RangeOutcome } from '../src/analyze';
import { COVERAGE_PID, renderChromeTrace, type TraceEvent } from '../src/report/chrome-trace';
import { caseTrace, reportFor, REAL, ROOT, runCli } from './report-helpers';
import { header, reaper as r, trace } from './real-lines';

async function eventsOf(paths: string[]): Promise<{ doc: { traceEvents: TraceEvent[]; displayTimeUnit: string; otherData: Record<string, unknown> }; text: string }> {
  const { report, timelines } = await reportFor(paths);
  const text = renderChromeTrace(report, timelines);
  return { doc: JSON.parse(text), text };
}

function checkWellFormed(events: TraceEvent[]): void {
  const named = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => `${e.pid}/${e.tid}`));
  const procs = new Set(events.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => e.pid));
  const open = new Map<string, number>();
  for (const e of events) {
    assert.ok(['X', 'b', 'e', 'i', 'M'].includes(e.ph), e.ph);
    assert.equal(typeof e.pid, 'number');
    if (e.ph === 'M') continue;
    assert.ok(Number.isFinite(e.ts), `ts of ${JSON.stringify(e)}`);
    assert.ok(named.has(`${e.pid}/${e.tid}`), `thread ${e.pid}/${e.tid} has a thread_name`);
    assert.ok(procs.has(e.pid), `process ${e.pid} has a process_name`);
    if (e.ph === 'X') assert.ok((e.dur as number) >= 0);
    if (e.ph === 'i') assert.ok(e.s === 't' || e.s === 'g');
    if (e.ph === 'b') open.set(`${e.cat}|${e.id}`, e.ts as number);
    if (e.ph === 'e') {
      const start = open.get(`${e.cat}|${e.id}`);
      assert.ok(start !== undefined, `e without b: ${JSON.stringify(e)}`);
      assert.ok((e.ts as number) >= start);
      open.delete(`${e.cat}|${e.id}`);
    }
  }
  assert.equal(open.size, 0, 'every b has its e');
  // X slices nest on their thread (no partial overlap).
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of events) if (e.ph === 'X') byThread.set(`${e.pid}/${e.tid}`, [...(byThread.get(`${e.pid}/${e.tid}`) ?? []), e]);
  for (const list of byThread.values()) {
    const stack: number[] = [];
    for (const e of list.sort((a, b) => (a.ts as number) - (b.ts as number))) {
      while (stack.length && stack[stack.length - 1] <= (e.ts as number)) stack.pop();
      const end = (e.ts as number) + (e.dur as number);
      if (stack.length) assert.ok(end <= stack[stack.length - 1] + 1e-6, `X slice ${e.name} at ${e.ts} overlaps its parent`);
      stack.push(end);
    }
  }
}

describe('chrome-trace (Trace Event Format) report', () => {
  it('the OOM capture: every paired range an X slice with its arguments; tasks named', async () => {
    const { doc } = await eventsOf([join(REAL, 'oom_reaper.trace.txt.gz')]);
    const ev = doc.traceEvents;
    checkWellFormed(ev);
    const slices = ev.filter((e) => e.ph === 'X' && e.cat === 'mmu_notifier');
    assert.equal(slices.length, 173);
    assert.equal(ev.filter((e) => e.ph === 'b').length, 0, 'nothing unpaired');
    const reaper = slices.filter((e) => e.tid === 30);
    assert.equal(reaper.length, 10);
    assert.equal(reaper[0].name, 'MMU_NOTIFY_UNMAP');
    assert.deepEqual(
      { flags: reaper[0].args?.flags, range: reaper[0].args?.range, caller: reaper[0].args?.caller },
      { flags: 0, range: '0xff3ea321000ffd90', caller: '__oom_reap_task_mm' },
    );
    assert.ok((reaper[0].args?.subscriberCalls as string[]).some((c) => /^start kvm 0xff3ea321003e6a48/.test(c)));
    assert.equal(reaper[0].ts, 18913178);
    assert.equal(reaper[0].dur, 101, '18.913178 -> 18.913279');
    const names = ev.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args?.name);
    assert.ok(names.includes('oom_reaper-30') && names.includes('kswapd0-44'), names.join(','));
    assert.equal(doc.displayTimeUnit, 'ns');
  });

  it('problem ranges are async slices, findings instants with the message', async () => {
    const { doc } = await eventsOf([caseTrace('missing-end')]);
    checkWellFormed(doc.traceEvents);
    const b = doc.traceEvents.filter((e) => e.ph === 'b');
    assert.equal(b.length, 1);
    assert.match(b[0].name, /MMU_NOTIFY_CLEAR \(no end captured\)/);
    assert.equal(b[0].args?.outcome, 'open');
    const inst = doc.traceEvents.filter((e) => e.ph === 'i' && e.s === 't');
    assert.equal(inst.length, 1);
    assert.match(inst[0].name, /^unpaired-start/);
    assert.match(String(inst[0].args?.message), /never ended it/);
    assert.equal(inst[0].ts, b[0].ts, 'the finding sits at the start it is about');

    const failed = await eventsOf([caseTrace('failed-blockable-start')]);
    checkWellFormed(failed.doc.traceEvents);
    const fb = failed.doc.traceEvents.filter((e) => e.ph === 'b');
    assert.deepEqual(fb.map((e) => e.name), ['MMU_NOTIFY_CLEAR (ended after a failed start)']);
    assert.equal(fb[0].args?.ret, '-11');
  });

  it('lost-event windows are marked on a capture-coverage track', async () => {
    const { doc } = await eventsOf([join(ROOT, 'fixtures', 'ftrace', 'lost-events.txt')]);
    checkWellFormed(doc.traceEvents);
    const cov = doc.traceEvents.filter((e) => e.pid === COVERAGE_PID && e.ph !== 'M');
    assert.ok(cov.some((e) => e.ph === 'X' && /events lost \(3\)/.test(e.name)), JSON.stringify(cov));
    assert.ok(cov.some((e) => e.ph === 'i' && e.s === 'g'));
  });

  it('a failed start whose range is ended anyway is reported to onRange twice, and the collector keeps it once', async () => {
    const seen: Array<[string, RangeOutcome]> = [];
    const res = await analyzeTrace(caseTrace('failed-blockable-start'), { onRange: (rg, o) => seen.push([rg.id, o]) });
    const counts = (o: RangeOutcome) => seen.filter((s) => s[1] === o).length;
    assert.equal(counts('paired'), res.counts.paired);
    assert.equal(counts('open'), res.counts.open);
    assert.equal(counts('failed'), res.counts.failedStarts);
    assert.equal(counts('end-after-failed'), res.counts.endsAfterFailedStart);
    const twice = seen.filter((s) => s[1] === 'failed')[0][0];
    assert.ok(seen.some((s) => s[0] === twice && s[1] === 'end-after-failed'));
    const { timelines } = await reportFor([caseTrace('failed-blockable-start')]);
    assert.equal(timelines[0].ranges.filter((x) => x.id === twice).length, 1);
    // Without the option, analysis is as before.
    const plain = await analyzeTrace(caseTrace('failed-blockable-start'));
    assert.deepEqual(plain.counts, res.counts);
    assert.deepEqual(plain.findings, res.findings);
  });

  it('the paired-range cap keeps problem ranges and says how many were left out', async () => {
    const { report, timelines } = await reportFor([caseTrace('missing-end')], { limit: 5 });
    assert.equal(timelines[0].ranges.filter((x) => x.outcome === 'paired').length, 5);
    assert.equal(timelines[0].ranges.filter((x) => x.outcome === 'open').length, 1);
    assert.equal(timelines[0].dropped, report.inputs[0].ranges!.paired - 5);
    assert.equal(JSON.parse(renderChromeTrace(report, timelines)).otherData.rangesLeftOut, timelines[0].dropped);
  });

  it('several inputs keep their tasks apart; the CLI writes the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-ct-'));
    const t = join(dir, 'reaper.txt');
    writeFileSync(t, trace(header, r.begin, r.probe, r.start, r.kvmStart, r.ret, r.end, r.kvmEnd, r.finish));
    const out = join(dir, 'out.json');
    const res = runCli(['check', '--format', 'chrome-trace', '-o', out, t, relative(ROOT, caseTrace('missing-end'))]);
    assert.equal(res.code, 1, res.stderr);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    checkWellFormed(doc.traceEvents);
    const procs = doc.traceEvents.filter((e: TraceEvent) => e.name === 'process_name').map((e: TraceEvent) => e.args?.name);
    assert.ok(procs.some((n: string) => n.startsWith('oom_reaper (30) [')), procs.join(','));
    assert.ok(procs.some((n: string) => n.startsWith('kvmnotif (147) [')), procs.join(','));
    assert.match(res.stderr, /-> .*out\.json/);
  });
});
