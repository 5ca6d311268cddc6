/**
 * CSV events. The fixture fixtures/csv/baseline.derived.csv is DERIVED, not
 * captured: it is lines 5-34 of fixtures/real/baseline.trace.lines-25911-26110.txt
 * (the real baseline.trace.txt lines 25915-25944) converted by ftraceToCsv()
 * below into the default column set ts,cpu,pid,tid,comm,event,args, the
 * shape a Perfetto trace_processor query over ftrace_event/args exports. The
 * first test regenerates it and checks the committed file is unchanged.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TraceEvent, TraceRecord, UnreadableRecord } from '../src/model/event';
import { CsvParser } from '../parsers/csv';
import type { ParserOptions } from '../parsers/types';
import { readTrace } from '../src/io/read-trace';
import { FtraceParser } from '../parsers/ftrace';
import { pushText } from '../parsers/shared-text';

const FIX = resolve(__dirname, '../../fixtures');
const SLICE = join(FIX, 'real/baseline.trace.lines-25911-26110.txt');
const CSV = join(FIX, 'csv/baseline.derived.csv');

/** The conversion used to make the fixture: ftrace text lines -> CSV rows (ts in integer ns). */
function ftraceToCsv(lines: string[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['ts,cpu,pid,tid,comm,event,args'];
  for (const l of lines) {
    const m = /^\s*(.*?)-(\d+)\s+(?:\(\s*(\d+|-+)\s*\)\s+)?\[(\d+)\]\s+\S+\s+(\d+)\.(\d{6}):\s([^:\s]+):\s?(.*)$/.exec(l);
    if (!m) throw new Error(`not an ftrace event line: ${l}`);
    const [, comm, tid, tgid, cpu, sec, usec, event, args] = m;
    const ns = (BigInt(sec) * 1_000_000_000n + BigInt(usec) * 1000n).toString();
    rows.push([ns, String(Number(cpu)), tgid && /^\d+$/.test(tgid) ? tgid : '', tid, q(comm), q(event), q(args)].join(','));
  }
  return rows.join('\n') + '\n';
}

function parseCsv(text: string, opts: Partial<ParserOptions> = {}, file = 'events.csv') {
  const records: TraceRecord[] = [];
  const parser = new CsvParser({ file, sink: (r) => records.push(r), ...opts });
  pushText(parser, text);
  const events = records.filter((r): r is TraceEvent => r.kind === 'event');
  const unreadable = records.filter((r): r is UnreadableRecord => r.kind === 'unreadable');
  return { info: parser.info, records, events, unreadable };
}

function parseFtrace(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  const p = new FtraceParser({ file: 'x', sink: (r) => { if (r.kind === 'event') out.push(r); } });
  pushText(p, text);
  return out;
}

const sliceLines = readFileSync(SLICE, 'utf8').split('\n').slice(4, 34);

describe('CSV: derived real fixture (default columns ts,cpu,pid,tid,comm,event,args)', () => {
  const csv = readFileSync(CSV, 'utf8');
  const r = parseCsv(csv);

  test('the fixture is what the conversion script makes from the real lines', () => {
    assert.equal(sliceLines.length, 30);
    assert.equal(ftraceToCsv(sliceLines), csv);
  });

  test('30 events, nothing unreadable, header consumed', () => {
    assert.equal(r.info.lines, 31);
    assert.equal(r.info.events, 30);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.consumed, 1);
  });

  test('the same events as the ftrace text they came from (except ts.raw: integer ns)', () => {
    const ref = parseFtrace(sliceLines.join('\n') + '\n');
    assert.equal(ref.length, 30);
    r.events.forEach((e, i) => {
      const f = ref[i];
      assert.equal(e.src.line, i + 2);
      assert.deepEqual([e.ts.sec, e.ts.nsec, e.ts.unit], [f.ts.sec, f.ts.nsec, 'seconds']);
      assert.deepEqual([e.cpu, e.pid, e.tgid, e.comm, e.name, e.group], [f.cpu, f.pid, f.tgid, f.comm, f.name, undefined]);
      assert.deepEqual(e.probe, f.probe);
      assert.equal(e.payload, f.payload);
      assert.deepEqual({ ...e.fields }, { ...f.fields });
    });
  });

  test('exact values of the mn_inv_start row (original line 25919)', () => {
    const [ev] = r.events.filter((e) => e.src.line === 6);
    assert.deepEqual(ev.ts, { raw: '6667004000', sec: 6, nsec: 667004000, unit: 'seconds' });
    assert.deepEqual([ev.cpu, ev.pid, ev.comm, ev.name], [1, 147, 'kvmnotif', 'mn_inv_start']);
    assert.deepEqual(ev.probe, { isReturn: false, symbol: '__mmu_notifier_invalidate_range_start', offset: 0, size: 0x190 });
    assert.equal(ev.fields.range, '0xff4d4553c041bb88');
    assert.equal(ev.fields.flags, '1');
  });
});

describe('CSV: other shapes', () => {
  test('pid and tid both given: tid is the task (pid), pid the thread group (tgid); group:event split', () => {
    const r = parseCsv('ts,cpu,pid,tid,comm,event,args\n6667004000,1,147,148,kvmnotif,kprobes:mn_inv_start,range=0xff4d4553c041bb88 flags=1\n');
    assert.equal(r.info.unreadable, 0);
    const [ev] = r.events;
    assert.deepEqual([ev.pid, ev.tgid, ev.group, ev.name, ev.fields.flags], [148, 147, 'kprobes', 'mn_inv_start', '1']);
  });

  test('args as a JSON object (Perfetto args), keys without the args. prefix', () => {
    const r = parseCsv('ts,cpu,pid,tid,comm,event,args\n6667965000,1,147,147,kvmnotif,mn_inv_start_ret,"{""args.ret"": 0, ""args.func"": ""__mmu_notifier_invalidate_range_start""}"\n');
    assert.equal(r.info.unreadable, 0);
    const [ev] = r.events;
    assert.deepEqual(ev.fields, { ret: '0', func: '__mmu_notifier_invalidate_range_start' });
    assert.equal(ev.payload, '{"args.ret": 0, "args.func": "__mmu_notifier_invalidate_range_start"}');
  });

  test('a quoted field spanning lines is one record, at its first line', () => {
    const text = 'ts,cpu,pid,tid,comm,event,args\n6418256000,1,,147,kvmnotif,tracing_mark_write,"KVMNOTIF pid=147\nsecond line"\n6418300000,1,,147,kvmnotif,tlb_flush,pages:-1 reason:flush on task switch (0)\n';
    const r = parseCsv(text);
    assert.equal(r.info.unreadable, 0);
    assert.deepEqual(r.events.map((e) => [e.src.line, e.name]), [[2, 'tracing_mark_write'], [4, 'tlb_flush']]);
    assert.equal(r.events[0].payload, 'KVMNOTIF pid=147\nsecond line');
    assert.equal(r.info.events + r.info.consumed + r.info.unreadable, r.info.lines);
  });

  test('other column names through csvColumns (also from readTrace\'s options, as --csv-columns gives them); TSV', async () => {
    const text = 'timestamp_ns\tcore\tthread\tthread_group\ttask\tevent_name\targuments\n6667004000\t1\t147\t147\tkvmnotif\tmn_inv_start\t(__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff4d4553c041bb88\n';
    const map = { ts: 'timestamp_ns', cpu: 'core', tid: 'thread', pid: 'thread_group', comm: 'task', event: 'event_name', args: 'arguments' };
    const r = parseCsv(text, { csvColumns: map });
    assert.equal(r.info.unreadable, 0);
    assert.deepEqual([r.events[0].cpu, r.events[0].pid, r.events[0].comm, r.events[0].probe?.symbol], [1, 147, 'kvmnotif', '__mmu_notifier_invalidate_range_start']);
    const file = join(mkdtempSync(join(tmpdir(), 'mntrace-csv-')), 'events.tsv');
    writeFileSync(file, text);
    const read = await readTrace(file, () => {}, { format: 'csv', csvColumns: map });
    assert.deepEqual([read.info.events, read.info.unreadable], [1, 0]);
    const noMap = parseCsv(text);
    assert.equal(noMap.info.events, 0);
    assert.match(noMap.unreadable[0].reason, /must name a 'ts' and an 'event' column \(expected ts,cpu,pid,tid,comm,event,args/);
    assert.throws(() => parseCsv(text, { csvColumns: { time: 'x' } }), /unknown CSV column role 'time'/);
  });

  test('broken records are unreadable with their line numbers', () => {
    const lines = readFileSync(CSV, 'utf8').split('\n');
    lines.splice(3, 0, 'not-a-number,1,,147,kvmnotif,mn_inv_end,range=0x1');
    lines.splice(6, 0, '6667004001,1,,147,kvmnotif,,range=0x1');
    const r = parseCsv(lines.join('\n'), {}, 'broken.csv');
    assert.deepEqual(r.unreadable.map((u) => [u.src.file, u.src.line]), [['broken.csv', 4], ['broken.csv', 7]]);
    assert.match(r.unreadable[0].reason, /ts column is not a number/);
    assert.match(r.unreadable[1].reason, /no event name/);
    assert.equal(r.info.events, 30);
  });
});
