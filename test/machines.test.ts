/**
 * A trace-cmd report of several machines (`trace-cmd report -i trace.dat -i
 * trace-guest.dat`, a host and its guest traced together): each numbers its
 * pids and CPUs on its own, so the guest's pid 318 is not the host's pid 318
 * and the guest's CPU 1 is not the host's CPU 1. Built from the real trace-cmd
 * capture's lines (baseline.trace-cmd-report, kvmnotif-318's first range) with
 * guest events of the same pid and CPU between its start and its end.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeTrace, readKprobeEventsFile } from '../src/analyze';
import { FIX } from './parse-helpers';
import { parseReport, runCli } from './report-helpers';

const REPORT = readFileSync(join(FIX, 'real', 'baseline.trace-cmd-report.lines-24861-25160.txt'), 'utf8').split('\n');
const first = (name: string) => REPORT.find((l) => l.includes(` ${name}: `)) as string;
const kprobeEvents = readKprobeEventsFile(join(FIX, 'real', 'kprobe_events-6.1.txt'));

/** The host's range, with `guest` lines (of the guest machine) after its start and subscriber start. */
function report(guest: string[], prefixed = true): string {
  const host = (l: string) => (prefixed ? `      trace.dat: ${l}` : l);
  const lines = [
    ...(prefixed ? ['      trace.dat: cpus=2', 'trace-guest.dat: cpus=2'] : []),
    host(first('mn_inv_start')),
    host(first('kvm_mn_inv_start')),
    ...guest.map((l) => (prefixed ? `trace-guest.dat: ${l}` : l)),
    host(first('mn_inv_start_ret')),
    host(first('mn_inv_end')),
    host(first('kvm_mn_inv_end')),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-machines-'));
  writeFileSync(join(dir, 'report.txt'), lines.join('\n') + '\n');
  return join(dir, 'report.txt');
}

/** A guest task of the same pid on the same CPU number, exiting between the host range's start and its return. */
const GUEST_EXIT = '         kworker-318   [001]    23.565500: sched_process_exit:   comm=kworker pid=318 prio=120';
/** A guest allocation of that pid, in the same window (real kmalloc line of the capture, its time moved). */
const GUEST_ALLOC = first('kmalloc').replace('23.568517', '23.565490');

describe('a report of several machines keeps their tasks and CPUs apart', () => {
  it('a guest task exiting is not the host task of the same pid: the host range is paired, nothing is found', async () => {
    const r = await analyzeTrace(report([GUEST_EXIT]), { kprobeEvents });
    assert.deepEqual(r.findings, []);
    assert.equal(r.counts.paired, 1);
    // The same lines as one machine: that task exited with the range open, a certain finding.
    const one = await analyzeTrace(report([GUEST_EXIT], false), { kprobeEvents });
    assert.deepEqual(one.findings.map((f) => [f.ruleId, f.confidence]).sort(), [['subscriber-imbalance', 'inconclusive'], ['unpaired-end', 'inconclusive'], ['unpaired-start', 'certain']]);
  });

  it('a guest allocation is not inside the host task\'s invalidation call', async () => {
    const r = await analyzeTrace(report([GUEST_ALLOC]), { kprobeEvents });
    assert.deepEqual(r.findings, []);
    const one = await analyzeTrace(report([GUEST_ALLOC], false), { kprobeEvents });
    assert.deepEqual(one.findings.map((f) => f.ruleId), ['reclaim-alloc-in-invalidate']);
  });

  it('coverage lists each machine\'s CPUs, host first', async () => {
    const r = await analyzeTrace(report([GUEST_EXIT, GUEST_ALLOC.replace('[001]', '[000]')]), { kprobeEvents });
    assert.deepEqual(r.cpus.map((c) => [c.machine, c.cpu, c.events]), [['trace.dat', 1, 5], ['trace-guest.dat', 0, 1], ['trace-guest.dat', 1, 1]]);
  });

  it('a finding names its machine (JSON, and the text report next to the task)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-machines-'));
    const file = join(dir, 'report.txt');
    const hostExit = GUEST_EXIT.replace('kworker-318', 'kvmnotif-318').replace('comm=kworker', 'comm=kvmnotif');
    writeFileSync(file, ['      trace.dat: cpus=2', 'trace-guest.dat: cpus=2', `      trace.dat: ${first('mn_inv_start')}`, `      trace.dat: ${hostExit}`].join('\n') + '\n');
    const kp = join(FIX, 'real', 'kprobe_events-6.1.txt');
    const text = runCli(['check', '--kprobe-events', kp, file]);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stdout, /error \[certain\] kvmnotif-318 on trace\.dat cpu 1 at 23\.565443/);
    const json = parseReport(runCli(['check', '--format', 'json', '--kprobe-events', kp, file]).stdout);
    assert.deepEqual(json.findings.map((f: { ruleId: string; machine?: string }) => [f.ruleId, f.machine]), [['unpaired-start', 'trace.dat']]);
  });

  it('timelines draw the host\'s and the guest\'s task of the same pid apart (Chrome trace threads, HTML rows)', () => {
    // The guest runs the same range on its own pid 318, a millisecond later.
    const later = (l: string) => l.replace(/23\.5655(\d\d)/, (_, d) => `23.5665${d}`).replace(/23\.5654(\d\d)/, (_, d) => `23.5664${d}`);
    const guest = ['mn_inv_start', 'kvm_mn_inv_start', 'mn_inv_start_ret', 'mn_inv_end', 'kvm_mn_inv_end'].map((n) => later(first(n)));
    const file = report([]);
    writeFileSync(file, readFileSync(file, 'utf8') + guest.map((l) => `trace-guest.dat: ${l}`).join('\n') + '\n');
    const kp = join(FIX, 'real', 'kprobe_events-6.1.txt');
    const ct = runCli(['check', '--format', 'chrome-trace', '--kprobe-events', kp, file]);
    assert.equal(ct.code, 0, ct.stderr);
    const events = JSON.parse(ct.stdout).traceEvents as Array<{ ph: string; name: string; tid?: number; args?: { name?: string } }>;
    const slices = events.filter((e) => e.ph === 'X' && e.name === 'MMU_NOTIFY_CLEAR');
    assert.equal(slices.length, 2);
    assert.equal(new Set(slices.map((e) => e.tid)).size, 2);
    const names = events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args?.name).sort();
    assert.deepEqual(names, ['kvmnotif-318 (trace-guest.dat)', 'kvmnotif-318 (trace.dat)']);
    const html = runCli(['check', '--format', 'html', '--kprobe-events', kp, file]);
    const data = JSON.parse((/<script type="application\/json" id="mntrace-data">(.*?)<\/script>/s.exec(html.stdout) as RegExpExecArray)[1]);
    assert.deepEqual(data.timelines[0].tasks.map((t: { pid: number; machine: string }) => [t.pid, t.machine]), [[318, 'trace.dat'], [318, 'trace-guest.dat']]);
  });
});
