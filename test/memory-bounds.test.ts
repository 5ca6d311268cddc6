/**
 * Memory grows with open ranges, not with the size of the input (README,
 * "Speed and memory"): each structure that could grow with the input is
 * bounded here, by its size or by the heap of a child process, on inputs
 * generated at run time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coverage } from '../src/engine/coverage';
import { Engine, MAX_OPEN_RANGES } from '../src/engine/engine';
import { analyzeTrace } from '../src/analyze';
import { InsideInvalidationTracker } from '../rules/support/inside-invalidation';
import type { Operation } from '../src/semantics/operations';
import { at, baseline as b, set, syscalls } from './real-lines';

describe('memory: coverage', () => {
  it('a run of 200,000 unreadable lines (or lost-event markers) with no event between them is one loss window', () => {
    const cov = new Coverage();
    const src = (line: number) => ({ file: 't', line });
    for (let line = 1; line <= 200_000; line++) {
      cov.record({ kind: 'unreadable', reason: 'x', text: 'x', src: src(line) });
      cov.record({ kind: 'lost', cpu: 1, count: 2, src: src(line) });
    }
    const open = (cov as unknown as { openLosses: unknown[] }).openLosses;
    assert.equal(open.length, 2);
    assert.deepEqual(cov.losses.map((w) => [w.why, w.line, w.count]), [['unreadable-line', 1, 200_000], ['lost-events', 1, 400_000]]);
    assert.equal(cov.lossBetween(undefined, undefined), true);
  });
});

/** A timestamp of `n` µs as ftrace prints it (`6.000003`). */
function usec(n: number): string {
  return `${Math.floor(n / 1e6)}.${String(n % 1e6).padStart(6, '0')}`;
}

/** baseline.trace.txt line 25919 (a range start of kvmnotif-147) as task `pid` at `us` µs, with its own range pointer. */
function start(pid: number, us: number, range: number): string {
  return at(set(b.start, 'range', `0xff${range.toString(16).padStart(14, '0')}`), usec(us)).replace('kvmnotif-147 ', `kvmnotif-${pid} `);
}

/** MAX_OPEN_RANGES starts of kvmnotif-147 from 6 s on, 3 µs apart, each with its own range pointer. */
const HELD = Array.from({ length: MAX_OPEN_RANGES }, (_, i) => start(147, 6_000_000 + i * 3, i));

function file(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-mem-'));
  // Joined here, not spread into trace(...): 140,000 arguments overflow the stack.
  writeFileSync(join(dir, 'trace.txt'), lines.join('\n') + '\n');
  return join(dir, 'trace.txt');
}

/** Analyse the lines on one thread (written to a file first, so the time is the analysis's alone). */
async function timed(lines: string[], opts: { live?: boolean } = {}): Promise<{ r: Awaited<ReturnType<typeof analyzeTrace>>; ms: number }> {
  const path = file(lines);
  const t0 = Date.now();
  const r = await analyzeTrace(path, { threads: 1, ...opts });
  return { r, ms: Date.now() - t0 };
}

/**
 * `loaded` ms is linear time: within three times `control` ms (plus half a second), where the control
 * is the same lines in an order that does no scanning, timed alongside, so load on the machine cancels out.
 */
function assertLinear(loaded: number, control: number, what: string): void {
  assert.ok(loaded < 3 * control + 500, `${what}: ${loaded} ms, against ${control} ms`);
}

describe('memory: open ranges', () => {
  it(`${MAX_OPEN_RANGES.toLocaleString('en-US')} ranges left open on one task are paired in linear time (a scan per start took 12 s for 20,000)`, async () => {
    // Timed against the same number of ranges on as many tasks (the same work but for finding a task's range).
    const run = async (pid: (i: number) => number) => {
      const { r, ms } = await timed(Array.from({ length: MAX_OPEN_RANGES }, (_, i) => start(pid(i), 6_000_000 + i * 3, i)));
      assert.equal(r.counts.starts, MAX_OPEN_RANGES);
      assert.equal(r.counts.open, MAX_OPEN_RANGES);
      return ms;
    };
    const manyTasks = await run((i) => 1000 + i);
    const oneTask = await run(() => 147);
    assertLinear(oneTask, manyTasks, 'one task, against one task each');
  });

  it(`past ${MAX_OPEN_RANGES.toLocaleString('en-US')} open ranges, starts are counted, not kept, and what rests on an absent event after them is inconclusive`, async () => {
    const n = MAX_OPEN_RANGES + 5000;
    const lines = Array.from({ length: n }, (_, i) => start(1000 + i, 6_000_000 + i * 3, i));
    // The first task runs on for 2 s: its range would be a likely leak, but starts were let go before the capture ended.
    lines.push(at(b.later.replace('kvmnotif-147 ', 'kvmnotif-1000 '), '9.000000'));
    let kept = -1;
    const finish = Engine.prototype.finish;
    Engine.prototype.finish = function (this: Engine) {
      kept = (this as unknown as { openKept: number }).openKept;
      finish.call(this);
    };
    try {
      const r = await analyzeTrace(file(lines), { threads: 1 });
      assert.equal(kept, MAX_OPEN_RANGES);
      assert.equal(r.counts.starts, n);
      assert.equal(r.counts.notKept, 5000);
      assert.equal(r.counts.open, MAX_OPEN_RANGES);
      assert.ok(r.losses.some((w) => w.why === 'ranges-not-kept' && w.line === MAX_OPEN_RANGES + 1));
      const first = r.findings.find((f) => f.ruleId === 'unpaired-start' && f.pid === 1000);
      assert.equal(first?.confidence, 'inconclusive');
    } finally {
      Engine.prototype.finish = finish;
    }
  });

  it(`live input: ${MAX_OPEN_RANGES.toLocaleString('en-US')} overdue ranges on one task, reported once each, and 100,000 more events of that task take linear time`, async () => {
    // Each event of the task looked again at every range already reported live.
    const later = Array.from({ length: 100_000 }, (_, i) => at(b.later, usec(8_000_000 + i * 10)));
    const run = async (live: boolean) => {
      const { r, ms } = await timed([...HELD, ...later], { live });
      assert.equal(r.counts.open, MAX_OPEN_RANGES);
      assert.equal(r.findings.filter((f) => f.ruleId === 'unpaired-start').length + r.unlistedFindings.filter((u) => u.ruleId === 'unpaired-start').reduce((n, u) => n + u.count, 0), MAX_OPEN_RANGES);
      return ms;
    };
    // The control: the same input read as a file (the ranges judged once, at its end).
    const atEnd = await run(false);
    const live = await run(true);
    assertLinear(live, atEnd, 'live, against judged at the end');
  });

  it(`${MAX_OPEN_RANGES.toLocaleString('en-US')} ranges open on one task and 100,000 system call boundaries of that task take linear time; each range is proved left once`, async () => {
    // Each boundary proved every open range of the task again.
    const exits = (from: number) => Array.from({ length: 100_000 }, (_, i) => at(syscalls.rawExit, usec(from + i * 10)));
    const run = async (lines: string[]) => {
      const { r, ms } = await timed(lines);
      assert.equal(r.counts.open, MAX_OPEN_RANGES);
      return { ms, certain: r.findings.filter((f) => f.ruleId === 'unpaired-start' && f.confidence === 'certain').length };
    };
    // The control: the boundaries first, when nothing is open yet.
    const before = await run([...exits(4_000_000), ...HELD]);
    const after = await run([...HELD, ...exits(8_000_000)]);
    assert.equal(before.certain, 0);
    assert.equal(after.certain, 1000, 'every range proved left by the boundary (the first 1000 findings listed)');
    assertLinear(after.ms, before.ms, 'boundaries after the starts, against before them');
  });

  it(`${MAX_OPEN_RANGES.toLocaleString('en-US')} ranges open on one task, each with its return, and 100,000 returns with no start take linear time`, async () => {
    // Each return looked through every open range of its task for one still waiting for its return.
    const pairs = HELD.flatMap((l, i) => [l, at(b.ret, usec(6_000_000 + i * 3 + 1))]);
    const returns = (from: number) => Array.from({ length: 100_000 }, (_, i) => at(b.ret, usec(from + i * 10)));
    const run = async (lines: string[]) => {
      const { r, ms } = await timed(lines);
      assert.equal(r.counts.open, MAX_OPEN_RANGES);
      assert.equal(r.counts.unmatchedReturns, 100_000);
      return ms;
    };
    // The control: the unmatched returns first, when nothing is open yet.
    const first = await run([...returns(4_000_000), ...pairs]);
    const after = await run([...pairs, ...returns(8_000_000)]);
    assertLinear(after, first, 'returns after the ranges, against before them');
  });

  it(`a teardown of an mm looks only at the ranges open on that mm: ${MAX_OPEN_RANGES.toLocaleString('en-US')} open ranges and 100,000 exits of other processes take linear time`, async () => {
    // Each exit (__mmu_notifier_release of its own mm) scanned every open range of every task: 2 billion comparisons here.
    const releases = (from: number) => Array.from({ length: 100_000 }, (_, i) => at(set(b.release, 'mm', `0xff3${(i % 5000).toString(16).padStart(13, '0')}`), usec(from + i * 10))
      .replace('kvmnotif-147 ', `kvmnotif-${2000 + (i % 100)} `));
    const run = async (lines: string[]) => {
      const { r, ms } = await timed(lines);
      assert.equal(r.counts.starts, MAX_OPEN_RANGES);
      return ms;
    };
    // The control: the exits first, when nothing is open yet.
    const exitsFirst = await run([...releases(4_000_000), ...HELD]);
    const exitsAfter = await run([...HELD, ...releases(9_000_000)]);
    assertLinear(exitsAfter, exitsFirst, 'exits after the starts, against before them');
  });
});

describe('memory: tasks of the inside-invalidation tracker', () => {
  it('20,000 tasks each with one paired range are not all kept (each kept its end call forever)', () => {
    const tracker = new InsideInvalidationTracker<null>(() => undefined);
    const op = (role: Operation['role'], pid: number, line: number) =>
      ({ role, args: { range: `0x${pid.toString(16)}` }, ev: { pid, ts: { sec: 7, nsec: line, raw: '7' }, src: { file: 't', line } } }) as unknown as Operation;
    const on = tracker.on as Required<typeof tracker.on>;
    for (let pid = 1; pid <= 20_000; pid++) {
      const task = { key: pid, pid, comm: 'x', openRanges: [] };
      on['range-start'](op('range-start', pid, pid * 3), task);
      on['range-start-return'](op('range-start-return', pid, pid * 3 + 1), task);
      on['range-end'](op('range-end', pid, pid * 3 + 2), task);
    }
    const size = (tracker as unknown as { tasks: Map<number, unknown> }).tasks.size;
    assert.ok(size <= 2 * 4096 + 1, `tasks kept: ${size}`);
  });
});

describe('memory: rule windows', () => {
  it('a task clearing the same page 50,000 times keeps one window of at most 16 clears (its finding cites those, not 50,000 lines), and the window still ends at the last clear', async () => {
    const page = '0xffffea0004a3b2c0';
    const clear = (i: number) => `            ksmd-37      [000] .....     6.${String(700000 + i).padStart(6, '0')}: page_try_share_anon_rmap: (page_try_share_anon_rmap+0x0/0x60) page=${page}`;
    // GUP-fast on CPU 1 just after the last clear: inside the window only if it runs to the last clear, not the 16th.
    const pin = `        kvmnotif-147     [001] .....     6.750005: try_grab_folio: (try_grab_folio+0x0/0x1b0) page=${page} refs=1 flags=0x40000`;
    const r = await analyzeTrace(file([...Array.from({ length: 50_000 }, (_, i) => clear(i)), pin]), { threads: 1 });
    const races = r.findings.filter((f) => f.ruleId === 'gup-fast-anon-exclusive-race');
    assert.equal(races.length, 1);
    assert.ok(races[0].evidence.length <= 17, `${races[0].evidence.length} evidence lines`);
  });

  it('device faults on 60,000 pages, then 100,000 invalidations: each invalidation looks only at pages that faulted lately (it scanned all 60,000)', async () => {
    const fault = (i: number) => `          <idle>-0       [000] d.h1.     6.${String(i * 10).padStart(6, '0')}: io_page_fault: IOMMU:arm-smmu-v3 0000:00:04.0 iova=0x${(0x7fc800000000 + i * 4096).toString(16)} flags=0x0002`;
    const ends = (from: number) => Array.from({ length: 100_000 }, (_, i) => at(b.end.replace('only_end=1', 'only_end=0'), usec(from + i * 10)));
    const faults = Array.from({ length: 60_000 }, (_, i) => fault(i));
    const run = async (lines: string[]) => {
      const { r, ms } = await timed(lines);
      assert.equal(r.counts.orphanEnds, 100_000);
      return ms;
    };
    // The control: the invalidations first, when no page has faulted.
    const endsFirst = await run([...ends(4_000_000), ...faults]);
    const endsAfter = await run([...faults, ...ends(9_000_000)]);
    assertLinear(endsAfter, endsFirst, 'invalidations after the faults, against before them');
  });
});

/** An mmu_interval_notifier_remove of kvmnotif-147 probed with the interval's mm (`mm=+48(%di):x64`, say; the captures' own probe has interval_sub only), an mm no start above has. */
const REMOVE_ON_OTHER_MM = '        kvmnotif-147     [001] .....     9.000000: mmu_interval_notifier_remove: (mmu_interval_notifier_remove+0x0/0x1a0) interval_sub=0xff4d4553c5a3c0a8 mm=0xff201f0681099999';

describe('memory: interval notifier calls', () => {
  it(`a task holding ${MAX_OPEN_RANGES.toLocaleString('en-US')} ranges open on one mm, then 100,000 mmu_interval_notifier_remove calls on another mm: each call looks up the task's ranges on its mm (it scanned all of them)`, async () => {
    const removes = (from: number) => Array.from({ length: 100_000 }, (_, i) => at(REMOVE_ON_OTHER_MM, usec(from + i * 10)));
    const held = HELD.flatMap((l, i) => [l, at(b.ret, usec(6_000_000 + i * 3 + 1))]);
    const run = async (lines: string[]) => {
      const { r, ms } = await timed(lines);
      assert.equal(r.counts.open, MAX_OPEN_RANGES);
      assert.equal(r.findings.filter((f) => f.ruleId === 'interval-op-in-invalidate').length, 0);
      return ms;
    };
    // The control: the calls first, when nothing is open yet.
    const callsFirst = await run([...removes(4_000_000), ...held]);
    const callsAfter = await run([...held, ...removes(9_000_000)]);
    assertLinear(callsAfter, callsFirst, 'calls while the ranges are held, against before them');
  });

  it('the call is still reported against the latest range the task holds on its mm, however many ranges of other mms are open above it', async () => {
    const ret = (us: number) => at(b.ret, usec(us));
    const lines = [set(start(147, 5_000_000, 0xabc), 'mm', '0xff201f0681099999'), ret(5_000_001)];
    for (let i = 0; i < 100; i++) lines.push(start(147, 6_000_000 + i * 3, i), ret(6_000_000 + i * 3 + 1));
    lines.push(at(REMOVE_ON_OTHER_MM, '7.000000'));
    const r = await analyzeTrace(file(lines), { threads: 1 });
    const held = r.findings.filter((f) => f.ruleId === 'interval-op-in-invalidate');
    assert.equal(held.length, 1);
    assert.match(held[0].message, /holding invalidation range 0xff00000000000abc open on the same mm 0xff201f0681099999 \(started line 1,/);
  });
});
