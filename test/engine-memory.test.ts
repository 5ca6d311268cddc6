/**
 * Memory grows with what is open, not with how many tasks ran: a capture of
 * kmem events from a fork-heavy machine shows a new pid on nearly every line.
 * Tasks with nothing open are forgotten; a task holding an open range or a
 * failed start is kept, and its verdicts come out as with few tasks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeTrace } from '../src/analyze';
import { Engine } from '../src/engine/engine';
import { at, baseline as b, set, trace } from './real-lines';

/** A real kmalloc line (compaction.trace.txt) as task sh-<pid> at 7.<usec>. */
const KMALLOC = '              sh-125     [001] .....    12.596469: kmalloc: call_site=alloc_pipe_info+0x5c/0x220 ptr=0000000032800cee bytes_req=168 bytes_alloc=192 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO node=-1 accounted=true';
const kmalloc = (pid: number, usec: number) => at(KMALLOC.replace('sh-125 ', `sh-${pid} `), `7.${String(usec).padStart(6, '0')}`);

describe('engine memory with many tasks', () => {
  it('50,000 pids of kmalloc events: idle tasks are forgotten; the open range and the failed start are still judged', async () => {
    const pids = Array.from({ length: 50000 }, (_, i) => kmalloc(10000 + i, 10 + i * 10));
    // kvmnotif-147: a range that never ends (the task runs on); kvmnotif-148: a start that failed, then ended anyway.
    const failedStart = set(b.start, 'range', '0xff4d4553c041cc00').replace('kvmnotif-147 ', 'kvmnotif-148 ');
    const failedRet = set(b.ret, 'ret', '-11').replace('kvmnotif-147 ', 'kvmnotif-148 ');
    const failedEnd = at(set(b.end, 'range', '0xff4d4553c041cc00').replace('kvmnotif-147 ', 'kvmnotif-148 '), '7.600000');
    const text = trace(b.start, failedStart, failedRet, ...pids, failedEnd, at(b.later, '8.000000'));
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-tasks-'));
    writeFileSync(join(dir, 'trace.txt'), text);
    let tasksAtEnd = -1;
    const finish = Engine.prototype.finish;
    Engine.prototype.finish = function (this: Engine) {
      tasksAtEnd = (this as unknown as { tasks: Map<number, unknown> }).tasks.size;
      finish.call(this);
    };
    try {
      const r = await analyzeTrace(join(dir, 'trace.txt'), { threads: 1 });
      assert.ok(tasksAtEnd > 0 && tasksAtEnd <= 2 * 4096 + 2, `tasks kept: ${tasksAtEnd}`);
      const got = r.findings.filter((f) => f.ruleId !== 'failed-blockable-start').map((f) => [f.ruleId, f.pid, f.confidence]);
      assert.deepEqual(got, [['end-after-failed-start', 148, 'certain'], ['unpaired-start', 147, 'likely']]);
    } finally {
      Engine.prototype.finish = finish;
    }
  });

  it('4,097 tasks each with a correctly paired range: no false unpaired-end when the idle-task sweep runs', async () => {
    // Each task: baseline's start, return and end, as kvmnotif-<pid>, one task after the other (12,291 lines).
    const lines: string[] = [];
    for (let i = 0; i < 4097; i++) {
      const pid = 1000 + i;
      const usec = (ts: number) => `7.${String(ts + i * 10).padStart(6, '0')}`;
      for (const [line, ts] of [[b.start, 1], [b.ret, 2], [b.end, 3]] as const) lines.push(at(line.replace('kvmnotif-147 ', `kvmnotif-${pid} `), usec(ts)));
    }
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-tasks-'));
    writeFileSync(join(dir, 'trace.txt'), trace(...lines));
    const r = await analyzeTrace(join(dir, 'trace.txt'), { threads: 1 });
    assert.equal(lines.length, 12291);
    assert.deepEqual(r.findings.map((f) => `${f.ruleId} ${f.confidence} ${f.comm}-${f.pid} line ${f.evidence[0].line}`), []);
    assert.equal(r.counts.paired, 4097);
    assert.equal(r.counts.orphanEnds, 0);
    assert.equal(r.counts.open, 0);
  });
});
