import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LostEventsRecord, TraceEvent, TraceRecord, UnreadableRecord } from '../src/model/event';
import { TraceCmdParser, type TraceCmdParseInfo } from '../parsers/tracecmd';
import { detectFormat } from '../parsers/detect';
import { at, fixture, FIX, parseWith, SHARED, sharedSkip } from './parse-helpers';

function parse(text: string, file = 'report.txt') {
  const r = parseWith((o) => new TraceCmdParser(o), text, file);
  return { ...r, info: r.info as TraceCmdParseInfo, };
}

describe('trace-cmd report: real baseline slice (trace-cmd 3.1.6, lines 24861-25160)', () => {
  const text = fixture('real/baseline.trace-cmd-report.lines-24861-25160.txt');
  const r = parse(text);

  test('every line is one event, nothing unreadable', () => {
    assert.equal(r.info.lines, 300);
    assert.equal(r.info.events, 300);
    assert.equal(r.events.length, 300);
    assert.equal(r.info.unreadable, 0);
  });

  test('kprobe printed as a raw address, event name padded to a column', () => {
    // original line 24875
    const [ev] = at(r.events, 15);
    assert.equal(ev.comm, 'kvmnotif');
    assert.equal(ev.pid, 318);
    assert.equal(ev.cpu, 1);
    assert.deepEqual(ev.ts, { raw: '23.565443', sec: 23, nsec: 565443000, unit: 'seconds' });
    assert.equal(ev.name, 'mn_inv_start');
    assert.equal(ev.group, undefined);
    assert.equal(ev.ctx, undefined, 'no flags column in this report');
    assert.deepEqual(ev.probe, { isReturn: false, address: '0xffffffffb7d20eb0' });
    assert.equal(ev.payload, 'range=0xff4d4553c087bb10 mm=0xff201f0681054d80 start=0x7fc2ddc00000 end=0x7fc2dde00000 flags=1 event=1');
    assert.deepEqual(ev.fields, { range: '0xff4d4553c087bb10', mm: '0xff201f0681054d80', start: '0x7fc2ddc00000', end: '0x7fc2dde00000', flags: '1', event: '1' });
  });

  test('kretprobe (func <- return address): probe.address is the probed function, as for the kprobe', () => {
    // original line 24878: `mn_inv_start_ret:     (ffffffffb7d20eb0 <- ffffffffb7d3ae41) ret=0`
    const [ev] = at(r.events, 18);
    assert.equal(ev.name, 'mn_inv_start_ret');
    assert.deepEqual(ev.probe, { isReturn: true, address: '0xffffffffb7d20eb0', returnTo: { address: '0xffffffffb7d3ae41' } });
    assert.equal(ev.fields.ret, '0');
  });

  test('print: tracing_mark_write keeps its name and the marker text as payload', () => {
    // original line 24872
    const [ev] = at(r.events, 12);
    assert.equal(ev.name, 'print');
    assert.equal(ev.payload, 'tracing_mark_write: KVMNOTIF step=munmap_begin addr=0x7fc2ddd42000 len=0x100000 (memslot region)');
    assert.equal(ev.fields.step, 'munmap_begin');
    assert.equal(ev.fields.addr, '0x7fc2ddd42000');
  });

  test('kmalloc keeps its (call_site+off) prefix in the payload (not a probe site: no size)', () => {
    // original line 25006
    const [ev] = at(r.events, 146);
    assert.equal(ev.name, 'kmalloc');
    assert.equal(ev.probe, undefined);
    assert.ok(ev.payload.startsWith('(alloc_pipe_info+0x5c) call_site=alloc_pipe_info+0x5c ptr=0xff201f06818de780'));
    assert.equal(ev.fields.bytes_alloc, '192');
    // original line 24980: <idle> on CPU 0, and line 25086: the forked child
    const [idle] = at(r.events, 120);
    assert.deepEqual([idle.comm, idle.pid, idle.cpu, idle.name, idle.payload], ['<idle>', 0, 0, 'tlb_flush', 'pages=-1 reason=flush on task switch (0)']);
    const [child] = at(r.events, 226);
    assert.deepEqual([child.comm, child.pid, child.cpu], ['kvmnotif', 320, 0]);
  });

  test('a broken line is unreadable, with its line number', () => {
    const lines = text.split('\n');
    lines.splice(20, 0, '        kvmnotif-318   [001]    23.5655xx: mn_inv_end:  garbled');
    const b = parse(lines.join('\n'), 'broken.txt');
    assert.equal(b.info.unreadable, 1);
    assert.equal(b.unreadable[0].src.line, 21);
    assert.equal(b.unreadable[0].src.file, 'broken.txt');
    assert.equal(b.info.events, 300);
  });
});

describe('trace-cmd report: corpus files', () => {
  const expected: Record<string, { events: number; consumed?: number; summary?: number }> = {
    'report_cpu2_kernel_stack.txt': { events: 17, consumed: 13 },
    'report_default_function_all.txt': { events: 12 },
    'report_filter_mmap_lock.txt': { events: 12 },
    'report_kernel_stack_T.txt': { events: 1, consumed: 4 },
    'report_kmalloc.txt': { events: 9 },
    'report_multi_file_host_guest.txt': { events: 8 },
    'report_old_filemap_fault_kmalloc.txt': { events: 4 },
    'report_old_funcgraph_events.txt': { events: 15 },
    'report_old_function_pagefault.txt': { events: 8 },
    'report_profile.txt': { events: 0, summary: 31 },
    'report_sched_waking.txt': { events: 12 },
    'report_wakeup_latency.txt': { events: 19, summary: 7 },
    'report_wakeup_latency_rt.txt': { events: 22, summary: 7 },
  };
  for (const [name, want] of Object.entries(expected)) {
    test(`${name}: ${want.events} events, nothing unreadable`, () => {
      const r = parse(fixture(`corpus/trace-cmd/${name}`), name);
      assert.equal(r.info.unreadable, 0, JSON.stringify(r.unreadable));
      assert.equal(r.info.events, want.events);
      if (want.consumed !== undefined) assert.equal(r.info.consumed, want.consumed);
      assert.equal(r.info.summaryLines, want.summary ?? 0);
      assert.equal(r.info.events + r.info.consumed, r.info.lines);
    });
  }

  test('`trace-cmd report --stat` of a real capture: its ring-buffer statistics are summary lines, not unreadable, and say what printed them', () => {
    const r = parse(fixture('real/meta/baseline.trace-cmd.stat.txt'));
    assert.equal(r.info.events, 0);
    assert.equal(r.info.unreadable, 0, JSON.stringify(r.unreadable));
    // All but `cpus=2` and the blank lines before the block.
    assert.equal(r.info.summaryLines, 25);
    assert.match(r.info.summaryOf ?? '', /ring-buffer statistics that `trace-cmd report --stat` prints/);
    // What `trace-cmd record` prints when it stops: the same block with no `cpus=` line before it, still trace-cmd's.
    const tail = fixture('real/meta/baseline.trace-cmd.stat.txt').split('\n').slice(2);
    assert.equal(detectFormat(tail)?.name, 'trace-cmd');
    assert.equal(parse(tail.join('\n')).info.summaryLines, 25);
    assert.equal(parse(fixture('corpus/trace-cmd/report_profile.txt')).info.summaryOf, 'the `trace-cmd report --profile` summary');
    assert.match(parse(fixture('corpus/trace-cmd/report_wakeup_latency.txt')).info.summaryOf ?? '', /wakeup-latency summary of `trace-cmd report -w`/);
  });

  test('kernel_stack: <stack trace > frames attach to the event before on the same CPU and task', () => {
    const r = parse(fixture('corpus/trace-cmd/report_cpu2_kernel_stack.txt'));
    const [ev] = at(r.events, 17);
    assert.equal(ev.name, 'wakeup_lat');
    assert.equal(ev.stack?.length, 12);
    assert.deepEqual(ev.stack?.[0], { symbol: 'trace_event_raw_event_synth', address: 'ffffffff8121a0db' });
    assert.deepEqual(ev.stack?.[11], { symbol: 'secondary_startup_64_no_verify', address: 'ffffffff81000107' });
    assert.equal(r.info.orphanStacks, 0);
    assert.ok(r.events.every((e) => e.name !== 'kernel_stack'));
    const t = parse(fixture('corpus/trace-cmd/report_kernel_stack_T.txt'));
    assert.deepEqual(t.events[0].stack?.map((f) => f.symbol), ['schedule', 'cpu_idle', 'start_secondary']);
  });

  test('a stack of another task is counted as an orphan, not attached', () => {
    const lines = fixture('corpus/trace-cmd/report_kernel_stack_T.txt').split('\n');
    lines[1] = lines[1].replace('<idle>-0 ', '<idle>-7 ');
    const r = parse(lines.join('\n'));
    assert.equal(r.info.orphanStacks, 1);
    assert.equal(r.events[0].stack, undefined);
    assert.equal(r.info.unreadable, 0);
  });

  test('flags column (trace-cmd 3.x) decoded; function events get func', () => {
    const r = parse(fixture('corpus/trace-cmd/report_default_function_all.txt'));
    const [ev] = at(r.events, 2);
    assert.equal(ev.ctx?.raw, '...1.');
    assert.equal(ev.ctx?.preemptDepth, 1);
    assert.equal(ev.name, 'function');
    assert.deepEqual(ev.fields, { func: 'mutex_unlock' });
    const w = parse(fixture('corpus/trace-cmd/report_sched_waking.txt'));
    const [waking] = at(w.events, 3);
    assert.equal(waking.ctx?.raw, 'dNh7.');
    assert.ok(waking.ctx?.irqsOff && waking.ctx.hardirq && waking.ctx.needResched);
  });

  test('old function tracer `func <-- parent`', () => {
    const r = parse(fixture('corpus/trace-cmd/report_old_function_pagefault.txt'));
    const [ev] = at(r.events, 4);
    assert.equal(ev.comm, 'trace-cmd');
    assert.equal(ev.pid, 13586);
    assert.deepEqual(ev.fields, { func: 'up_read', parent: 'do_page_fault' });
  });

  test('funcgraph_entry / funcgraph_exit events: func, depth, duration', () => {
    const r = parse(fixture('corpus/trace-cmd/report_old_funcgraph_events.txt'));
    const [entry] = at(r.events, 1);
    assert.equal(entry.name, 'funcgraph_entry');
    assert.deepEqual(entry.fields, { func: 'do_IRQ', depth: '0' });
    const [exit] = at(r.events, 3);
    assert.equal(exit.name, 'funcgraph_exit');
    assert.deepEqual(exit.fields, { func: 'do_IRQ', depth: '0', duration_ns: '36358' });
    assert.equal(exit.ts.raw, '157412.934004');
    const [exit2] = at(r.events, 6); // the oddly padded `funcgraph_exit:                        + 24.014 us |  }`
    assert.deepEqual(exit2.fields, { func: 'do_IRQ', depth: '0', duration_ns: '24014' });
  });

  test('multi-file report: the input name is kept as @input, headers per input', () => {
    const r = parse(fixture('corpus/trace-cmd/report_multi_file_host_guest.txt'));
    const headers = r.records.filter((x) => x.kind === 'header');
    assert.deepEqual(headers.map((h) => (h.kind === 'header' ? h.cpus : -1)), [28, 1]);
    const [host] = at(r.events, 3);
    assert.deepEqual([host.comm, host.pid, host.cpu, host.name, host.fields['@input']], ['ping', 3071450, 13, 'sched_process_exec', 'trace.dat']);
    assert.equal(host.fields.filename, '/bin/ping');
    const [guest] = at(r.events, 5);
    assert.deepEqual([guest.comm, guest.pid, guest.cpu, guest.fields['@input'], guest.fields.ret], ['<idle>', 0, 0, 'trace-guest.dat', '3']);
    assert.equal(guest.ts.raw, '1196830.835997');
  });

  test('-w wakeup latency: the summary block is summary lines, the events keep their Latency suffix', () => {
    const r = parse(fixture('corpus/trace-cmd/report_wakeup_latency.txt'));
    const [ev] = at(r.events, 2);
    assert.equal(ev.comm, 'kworker/u36:1');
    assert.equal(ev.pid, 51219);
    assert.equal(ev.payload, 'kworker/u36:1:51219 [120] R ==> kworker/u33:2:49692 [120] Latency: 4024.977 usecs');
  });

  test('LISA trace.txt: version/cpus header, print events with an unresolved ip', () => {
    const head = parse(fixture('corpus/lisa/trace.lines-1-300.txt'));
    assert.equal(head.info.unreadable, 0);
    assert.equal(head.info.events, 298);
    assert.deepEqual(head.records.find((x) => x.kind === 'header'), { kind: 'header', cpus: 6, src: { file: 'report.txt', line: 2 } });
    const [first] = at(head.events, 3);
    assert.deepEqual([first.comm, first.pid, first.cpu, first.name, first.fields.prev_state], ['<...>', 1701, 1, 'sched_switch', '64']);
    const prints = parse(fixture('corpus/lisa/trace.lines-940-960.txt'));
    assert.equal(prints.info.unreadable, 0);
    assert.equal(prints.info.events, 21);
    const [p] = at(prints.events, 9); // original line 948
    assert.equal(p.name, 'print');
    assert.equal(p.comm, 'shutils');
    assert.equal(p.payload, '0xffff00000819ff24s: cpu_frequency_devlib:        state=950000 cpu_id=0');
  });
});

describe('trace-cmd report: variants documented by trace-cmd', () => {
  test('header lines, CPU N is empty, DROPPED markers become lost records', () => {
    const text = [
      'version = 6',
      'cpus=8',
      'CPU 3 is empty',
      'CPU:7 [204600 EVENTS DROPPED]',
      '           <...>-3979  [007]   217.975284: sched_stat_runtime:   comm=Thread-103 pid=3979 runtime=5014167 [ns] vruntime=244334517704 [ns]',
      'CPU:7 [EVENTS DROPPED]',
      '           <...>-3979  [007]   217.975298: sched_task_load_contrib: comm=Thread-103 pid=3979 load_contrib=2500',
    ].join('\n');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, 2);
    assert.equal(r.info.lostMarkers, 2);
    assert.equal(r.info.lostEvents, 204600);
    const lost = r.records.filter((x): x is LostEventsRecord => x.kind === 'lost');
    assert.deepEqual(lost.map((l) => [l.cpu, l.count, l.after?.raw, l.src.line]), [
      [7, 204600, undefined, 4],
      [7, undefined, '217.975284', 6],
    ]);
  });

  test('-l latency form, -t nanosecond and raw counter timestamps, --ts-diff', () => {
    const r = parse(
      [
        '      <idle>-0       0d.h1. 106467.859747: function:             ktime_get <-- tick_check_idle',
        '        kvmnotif-318   [001]    23.565443123: mn_inv_start:         (ffffffffb7d20eb0) range=0xff4d4553c087bb10 flags=1 event=1',
        '        kvmnotif-318   [001] 23565443123: mn_inv_end:           (ffffffffb7d21040) range=0xff4d4553c087bb10',
        '        kvmnotif-318   [001]    23.565546: (+103)   mn_inv_start_ret:     (ffffffffb7d20eb0 <- ffffffffb7d3ae41) ret=0',
      ].join('\n'),
    );
    assert.equal(r.info.unreadable, 0, JSON.stringify(r.unreadable));
    const [lat, ns, counter, diff] = r.events;
    assert.deepEqual([lat.comm, lat.pid, lat.cpu, lat.ctx?.raw, lat.ts.raw], ['<idle>', 0, 0, 'd.h1.', '106467.859747']);
    assert.deepEqual(lat.fields, { func: 'ktime_get', parent: 'tick_check_idle' });
    assert.deepEqual(ns.ts, { raw: '23.565443123', sec: 23, nsec: 565443123, unit: 'seconds' });
    assert.deepEqual(counter.ts, { raw: '23565443123', sec: 23, nsec: 565443123, unit: 'counter' });
    assert.equal(diff.name, 'mn_inv_start_ret');
    assert.equal(diff.fields.ret, '0');
  });
});

describe('trace-cmd report: files in ../shared', { skip: sharedSkip('traces/real/baseline.trace-cmd-report.txt') }, () => {
  test('baseline.trace-cmd-report.txt: as many events as event lines, nothing unreadable', () => {
    const text = readFileSync(join(SHARED, 'traces/real/baseline.trace-cmd-report.txt'), 'utf8');
    const eventLines = text.split('\n').filter((l) => /^\s*\S.*-\d+\s+\[\d+\]\s+\d+\.\d+: /.test(l)).length;
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(eventLines, 28276);
    assert.equal(r.info.events, eventLines);
    const count = (n: string) => r.events.filter((e) => e.name === n).length;
    // event counts from traces/real/MANIFEST.md
    assert.deepEqual(
      ['mn_inv_start', 'mn_inv_start_ret', 'mn_inv_end', 'kvm_mn_inv_start', 'mn_inv_range', 'print', 'mn_register', 'mn_release', 'kmalloc', 'tlb_flush'].map(count),
      [281, 281, 281, 280, 263, 19, 1, 1, 114, 323],
    );
  });

  test('every corpus trace-cmd report and LISA trace.txt: nothing unreadable', () => {
    const dir = join(SHARED, 'corpus/trace-cmd');
    const files = [...readdirSync(dir).filter((f) => f.startsWith('report_')).map((f) => join(dir, f)), join(SHARED, 'corpus/lisa/trace.txt')];
    for (const f of files) {
      const r = parse(readFileSync(f, 'utf8'), f);
      assert.equal(r.info.unreadable, 0, `${f}: ${JSON.stringify(r.unreadable.slice(0, 3))}`);
      assert.equal(r.info.events + r.info.consumed, r.info.lines, f);
    }
  });
});
