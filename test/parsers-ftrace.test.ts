/**
 * The ftrace text parser on real lines: the real 6.1 captures (fixtures/real),
 * public trace text from other projects (fixtures/corpus, see ../shared/corpus/MANIFEST.md),
 * and variants derived from real lines (fixtures/ftrace/README.md).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readTrace } from '../src/io/read-trace';
import { FtraceParser } from '../parsers/ftrace';
import type { TraceEvent, TraceRecord, UnreadableRecord } from '../src/model/event';
import { baseline as b } from './real-lines';

const FIX = join(__dirname, '..', '..', 'fixtures');

async function read(path: string, format?: string) {
  const records: TraceRecord[] = [];
  const result = await readTrace(path, (r) => records.push(r), { format });
  const events = records.filter((r): r is TraceEvent => r.kind === 'event');
  const unreadable = records.filter((r): r is UnreadableRecord => r.kind === 'unreadable');
  return { result, records, events, unreadable };
}

/** Count event lines independently of the parser: `comm-pid [cpu]` lines that are not stack records. */
function countEventLines(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (/^\s*\S.*?-\d+\s+(\(\s*(\d+|-+)\s*\)\s+)?\[\d+\]\s/.test(line) && !/: <(user )?stack trace>/.test(line)) n++;
  }
  return n;
}

function text(path: string): string {
  const buf = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
}

describe('ftrace parser: real 6.1 captures', () => {
  const dir = join(FIX, 'real');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.trace.txt.gz'))) {
    it(`${f}: every line read, one event per event line`, async () => {
      const { result, unreadable } = await read(join(dir, f));
      assert.equal(result.format, 'ftrace');
      assert.deepEqual(unreadable.map((u) => `${u.src.line}: ${u.text}`), []);
      assert.equal(result.info.events, countEventLines(text(join(dir, f))));
      assert.equal(result.info.truncated, false);
    });
  }

  it('each real capture holds exactly the entries its header counts (events and stack records): no missing-entries record', async () => {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.trace.txt.gz'))) {
      const { records } = await read(join(dir, f));
      assert.deepEqual(records.filter((r) => r.kind === 'missing-entries'), [], f);
    }
  });

  it('decodes a real kprobe line exactly', async () => {
    const { events } = await read(join(FIX, 'ftrace', 'dmesg-in-header.txt'));
    const start = events.find((e) => e.name === 'mn_inv_start') as TraceEvent;
    assert.equal(start.comm, 'kvmnotif');
    assert.equal(start.pid, 147);
    assert.equal(start.cpu, 1);
    assert.equal(start.ts.raw, '6.667004');
    assert.deepEqual([start.ts.sec, start.ts.nsec], [6, 667004000]);
    assert.equal(start.ctx?.raw, '.....');
    assert.equal(start.ctx?.irqsOff, false);
    assert.equal(start.ctx?.preemptDepth, 0);
    assert.deepEqual(start.probe, { isReturn: false, symbol: '__mmu_notifier_invalidate_range_start', offset: 0, size: 0x190 });
    assert.deepEqual(start.fields, {
      range: '0xff4d4553c041bb88', mm: '0xff201f0681057180', start: '0x7fc83c800000', end: '0x7fc83ca00000', flags: '1', event: '1',
    });
    const kvm = events.find((e) => e.name === 'kvm_mn_inv_start') as TraceEvent;
    assert.equal(kvm.probe?.module, 'kvm');
    const ret = events.find((e) => e.name === 'mn_inv_start_ret') as TraceEvent;
    assert.equal(ret.probe?.isReturn, true);
    assert.equal(ret.probe?.symbol, '__mmu_notifier_invalidate_range_start');
    assert.deepEqual(ret.probe?.returnTo, { symbol: '__split_huge_pmd', offset: 0x501, size: 0xfe0 });
    assert.equal(ret.fields.ret, '0');
    const unmap = events.find((e) => e.name === 'kvm_unmap_hva_range') as TraceEvent;
    assert.equal(unmap.payload, 'mmu notifier unmap range: 0x007fc83c800000 -- 0x007fc83ca00000');
  });

  it('attaches <stack trace> frames to the event before them on the same task and CPU', async () => {
    const { events, result } = await read(join(FIX, 'real', 'oom_reaper.trace.txt.gz'));
    const reap = events.find((e) => e.name === 'oom_reap_task_mm') as TraceEvent;
    assert.deepEqual(reap.stack?.map((f) => f.symbol), [
      'kprobe_trace_func', 'kprobe_dispatcher', 'kprobe_ftrace_handler', '0xffffffffc03a90c8', '__oom_reap_task_mm', 'oom_reaper', 'kthread', 'ret_from_fork',
    ]);
    const starts = events.filter((e) => e.name === 'mn_inv_start');
    assert.equal(starts.length, 173);
    assert.ok(starts.every((e) => e.stack && e.stack.length > 5), 'every start has its stack');
    assert.equal(result.info.orphanStacks, 0);
    // events stay in file order
    for (let i = 1; i < events.length; i++) assert.ok(events[i].src.line > events[i - 1].src.line);
  });
});

describe('ftrace parser: header and coverage records', () => {
  it('keeps entries-in-buffer/entries-written and #P', async () => {
    const { records } = await read(join(FIX, 'ftrace', 'dmesg-in-header.txt'));
    const h = records.find((r) => r.kind === 'header' && r.entriesWritten !== undefined);
    assert.deepEqual(h && h.kind === 'header' ? [h.entriesInBuffer, h.entriesWritten, h.cpus] : [], [10, 10, 2]);
    const cols = records.find((r) => r.kind === 'header' && r.hasFlagsColumn !== undefined);
    assert.ok(cols && cols.kind === 'header' && cols.hasFlagsColumn === true && cols.hasTgidColumn === false);
  });

  it('reports a dmesg line leaked into the header with its line number, and reads the rest', async () => {
    const { events, unreadable } = await read(join(FIX, 'ftrace', 'dmesg-in-header.txt'));
    assert.equal(unreadable.length, 1);
    assert.equal(unreadable[0].src.line, 4);
    assert.match(unreadable[0].reason, /dmesg/);
    assert.equal(events.length, 10);
  });

  it('reports a line cut off by truncation, and marks the input truncated', async () => {
    const { events, unreadable, result } = await read(join(FIX, 'ftrace', 'truncated.txt'));
    assert.equal(events.length, 5);
    assert.equal(unreadable.length, 1);
    assert.equal(unreadable[0].src.line, 6);
    assert.match(unreadable[0].reason, /ends in the middle of this line/);
    assert.equal(result.info.truncated, true);
  });

  it('a complete last line without its newline is fine', async () => {
    const { events, unreadable, result } = await read(join(FIX, 'ftrace', 'no-final-newline.txt'));
    assert.equal(unreadable.length, 0);
    assert.equal(events.length, 3);
    assert.equal(events[2].name, 'kvm_unmap_hva_range');
    assert.equal(result.info.truncated, false);
  });

  it('reads CRLF line endings', async () => {
    const { events, unreadable } = await read(join(FIX, 'ftrace', 'crlf.txt'));
    assert.equal(unreadable.length, 0);
    assert.equal(events.length, 3);
    assert.equal(events[2].fields.only_end, '1');
  });

  it('turns LOST EVENTS and buffer-started markers into coverage records, not events', async () => {
    const { records, events, result } = await read(join(FIX, 'ftrace', 'lost-events.txt'));
    const lost = records.find((r) => r.kind === 'lost');
    assert.ok(lost && lost.kind === 'lost');
    assert.equal(lost.cpu, 1);
    assert.equal(lost.count, 3);
    assert.equal(lost.after?.raw, '6.667242');
    assert.equal(lost.src.line, 16);
    const started = records.find((r) => r.kind === 'buffer-started');
    assert.ok(started && started.kind === 'buffer-started' && started.cpu === 0 && started.src.line === 19);
    assert.equal(events.length, 7);
    assert.equal(result.info.lostEvents, 3);
    assert.equal(result.info.unreadable, 0);
  });

  it('detects the latency format from its header and decodes CPU+flags and µs times', async () => {
    const { records, events, unreadable } = await read(join(FIX, 'ftrace', 'latency-format.txt'));
    assert.equal(unreadable.length, 0);
    assert.ok(records.some((r) => r.kind === 'header' && r.latencyFormat === true));
    assert.equal(events.length, 6);
    const [start, , ret, , idle, later] = events;
    assert.deepEqual([start.comm, start.pid, start.cpu, start.ctx?.raw, start.ts.raw], ['kvmnotif', 147, 1, '.....', '357us']);
    assert.equal(start.probe?.symbol, '__mmu_notifier_invalidate_range_start');
    assert.equal(ret.probe?.returnTo?.symbol, '__split_huge_pmd');
    assert.deepEqual([idle.comm, idle.pid, idle.cpu, idle.ctx?.irqsOff, idle.ctx?.preemptDepth], ['<idle>', 0, 0, true, 2]);
    assert.deepEqual([later.ts.sec, later.ts.nsec], [0, 1465000]);
  });
});

describe('ftrace parser: columns', () => {
  it('timestamps: bare integers (counter clocks) and 9 decimals, kept exactly', async () => {
    const c = await read(join(FIX, 'ftrace', 'counter-clock.txt'));
    assert.equal(c.events[0].ts.raw, '6667004123');
    assert.equal(c.events[0].ts.unit, 'counter');
    assert.deepEqual([c.events[0].ts.sec, c.events[0].ts.nsec], [6, 667004123]);
    const n = await read(join(FIX, 'ftrace', 'ns-timestamps.txt'));
    assert.equal(n.events[0].ts.raw, '6.667004789');
    assert.deepEqual([n.events[0].ts.sec, n.events[0].ts.nsec], [6, 667004789]);
  });

  it('flags: hex preempt depth, extra PREEMPT_RT columns, migrate-disable, NMI with BH off', async () => {
    const { events, unreadable } = await read(join(FIX, 'ftrace', 'flags-variants.txt'));
    assert.equal(unreadable.length, 0);
    const [a, b, c, d] = events.map((e) => e.ctx!);
    assert.deepEqual([a.irqsOff, a.preemptDepth], [true, 10]);
    assert.deepEqual([b.needResched, b.hardirq, b.preemptDepth, b.extra], [true, true, 1, '..']);
    assert.deepEqual([c.irqsOff, c.preemptDepth, c.migrateDisable, c.extra], [false, 1, 0, '.2']);
    assert.deepEqual([d.irqsOff, d.bhOff, d.nmi, d.needResched], [true, true, true, true]);
  });

  it('task names with spaces, slashes and colons; 7-digit pids', async () => {
    const { events, unreadable } = await read(join(FIX, 'ftrace', 'comm-variants.txt'));
    assert.equal(unreadable.length, 0);
    assert.deepEqual(events.map((e) => [e.comm, e.pid]), [['Web Content', 4432], ['kworker/u8:2', 71], ['<...>', 1234567]]);
  });

  it('the byte lane (used with an event filter) reads odd lines exactly as the text lane', () => {
    const real = readFileSync(join(FIX, 'ftrace', 'comm-variants.txt'), 'utf8').split('\n').filter((l) => l !== '');
    const lines = [
      real[0],
      // no CPU bracket at all (the search for `[` runs on into the next line), then a good line
      '         kvmnotif-147     001 .....     6.667004: mn_inv_start: range=0x1',
      real[1],
      // brackets in the task name, before the real CPU column
      real[0].replace('Web Content-4432', '  a[1]b-4432').replace(/^ */, ''),
      real[0].replace('Web Content-4432', 'x [1] y-4432'),
      real[2],
      // the last line of the buffer has no bracket: nothing after it to find one in
      '          <idle>-0       000 d..1.   7.000001: cpu_idle: state=1',
    ];
    const run = (bytes: boolean) => {
      const records: TraceRecord[] = [];
      const p = new FtraceParser({
        file: 't', sink: (r) => records.push(r), filter: bytes ? { wants: () => true, skipped: () => assert.fail('nothing is filtered out') } : undefined,
      });
      const buf = Buffer.from(lines.join('\n'));
      let from = 0;
      lines.forEach((_, i) => {
        const nl = buf.indexOf(10, from);
        const end = nl < 0 ? buf.length : nl;
        p.pushBytes(buf, from, end, i + 1);
        from = end + 1;
      });
      p.end();
      return JSON.parse(JSON.stringify(records)) as TraceRecord[];
    };
    const text = run(false);
    assert.deepEqual(run(true), text);
    // A line without the columns after an event (not a trace_marker write) is unreadable in both lanes.
    assert.deepEqual(text.filter((r) => r.kind === 'unreadable').map((r) => r.src.line), [2, 7]);
    assert.equal(text.filter((r) => r.kind === 'event').length, 5);
    assert.deepEqual((text.filter((r) => r.kind === 'event') as TraceEvent[]).map((e) => [e.comm, e.pid, e.cpu]),
      [['Web Content', 4432, 1], ['kworker/u8:2', 71, 1], ['a[1]b', 4432, 1], ['x [1] y', 4432, 1], ['<...>', 1234567, 1]]);
  });

  it('a kprobe site cut before its `)`, after whole ones of the same event: both lanes read it as no site (the site cache is not fooled)', () => {
    const cut = b.start.slice(0, b.start.indexOf(')'));
    const lines = [b.start, cut, b.start];
    const run = (bytes: boolean) => {
      const records: TraceRecord[] = [];
      const p = new FtraceParser({ file: 't', sink: (r) => records.push(r), filter: bytes ? { wants: () => true, skipped: () => assert.fail('nothing is filtered out') } : undefined });
      lines.forEach((l, i) => p.pushBytes(Buffer.from(l), 0, Buffer.byteLength(l), i + 1));
      p.end();
      return JSON.parse(JSON.stringify(records)) as TraceEvent[];
    };
    const text = run(false);
    assert.deepEqual(run(true), text);
    assert.deepEqual(text.map((e) => [e.probe?.symbol, e.payload]), [
      ['__mmu_notifier_invalidate_range_start', b.start.slice(b.start.indexOf(') ') + 2)],
      [undefined, '(__mmu_notifier_invalidate_range_start+0x0/0x190'],
      ['__mmu_notifier_invalidate_range_start', b.start.slice(b.start.indexOf(') ') + 2)],
    ]);
  });

  it('a flags column with a byte that is not UTF-8 reads the same in both lanes (as UTF-8, like the rest of the line)', () => {
    const line = Buffer.concat([Buffer.from(b.end.slice(0, b.end.indexOf('.....') + 5)), Buffer.from([0xe9]), Buffer.from(b.end.slice(b.end.indexOf('.....') + 5))]);
    const run = (bytes: boolean) => {
      const records: TraceRecord[] = [];
      const p = new FtraceParser({ file: 't', sink: (r) => records.push(r), filter: bytes ? { wants: () => true, skipped: () => {} } : undefined });
      p.pushBytes(line, 0, line.length, 1);
      p.end();
      return JSON.parse(JSON.stringify(records)) as TraceEvent[];
    };
    const text = run(false);
    assert.deepEqual(run(true), text);
    assert.equal(text[0].ctx?.raw, '.....\ufffd');
  });

  it('record-tgid columns: (  77) and (-----)', async () => {
    const { events } = await read(join(FIX, 'corpus', 'catapult', 'atrace_fixed_tgids'));
    assert.equal(events[0].tgid, undefined); // (-----)
    const k = events.find((e) => e.comm === 'ksoftirqd/0') as TraceEvent;
    assert.equal(k.tgid, 3);
    const p = await read(join(FIX, 'corpus', 'perfetto-fixtures', 'cpu_frequency_limits.systrace'));
    assert.deepEqual([p.events[0].comm, p.events[0].pid, p.events[0].tgid, p.events[0].ts.raw], ['<unknown>', 200, undefined, '0.090000']);
  });

  it('payload values: hex without 0x, negative, quoted strings with quotes, GFP masks', async () => {
    const regs = await read(join(FIX, 'corpus', 'perf-tools', 'kprobe_regs_noflags.txt'));
    assert.equal(regs.events[2].comm, 'jbd2/xvda1-8');
    assert.equal(regs.events[2].pid, 212);
    assert.equal(regs.events[2].fields.arg3, 'ffff8800ba22c06c');
    assert.equal(regs.events[2].ctx, undefined);
    const str = await read(join(FIX, 'corpus', 'perf-tools', 'uretprobe_string.txt'));
    assert.equal(str.events[1].fields.arg1, 'echo "hello world"');
    assert.deepEqual(str.events[1].probe?.returnTo, { address: '0x41e876' });
    const mem = await read(join(FIX, 'corpus', 'catapult', 'memreclaim_parser_test_lines.txt'));
    assert.equal(mem.events[0].fields.gfp_flags, 'GFP_KERNEL|GFP_NOWARN|GFP_ZERO|0x2');
    const base = await read(join(FIX, 'real', 'baseline.trace.txt.gz'));
    const kmalloc = base.events.find((e) => e.name === 'kmalloc') as TraceEvent;
    assert.equal(kmalloc.fields.gfp_flags, 'GFP_KERNEL_ACCOUNT|__GFP_ZERO');
    assert.equal(kmalloc.fields.node, '-1');
  });

  it('function tracer lines and <user stack trace> records', async () => {
    const f = await read(join(FIX, 'corpus', 'perf-tools', 'functrace_3.2_noflags.txt'));
    assert.deepEqual(f.events[0].fields, { func: 'do_nanosleep', parent: 'hrtimer_nanosleep' });
    const u = await read(join(FIX, 'corpus', 'perf-tools', 'uprobe_user_stacktrace.txt'));
    assert.equal(u.events.length, 2);
    assert.deepEqual(u.events[0].userStack?.map((s) => s.address), ['00000000004004f4', '0000000000400527', '0000000000400537', '00007fca9f0e376d']);
  });

  it('multi-line trace_marker payloads continue the event before them; a line after any other event is unreadable', async () => {
    const file = join(FIX, 'corpus', 'perfetto-fixtures', 'bad_print.systrace');
    // bad_print.systrace's first event, printed over three lines, as a trace_marker write.
    const marker = join(mkdtempSync(join(tmpdir(), 'mntrace-marker-')), 'marker.systrace');
    writeFileSync(marker, readFileSync(file, 'utf8').replace(' event: event: ', ' tracing_mark_write: event: '));
    const m = await read(marker);
    assert.equal(m.unreadable.length, 0);
    assert.equal(m.events.length, 3);
    assert.equal(m.result.info.continuationLines, 2);
    assert.match(m.events[0].payload, /xyz = 0x0 abc = 0x0$/);
    // As captured, the event is not a trace_marker write: its two later lines are not part of it.
    const { events, unreadable, result } = await read(file);
    assert.deepEqual(unreadable.map((u) => [u.src.line, u.text]), [[2, 'some = 000, other = 0x4'], [3, 'xyz = 0x0 abc = 0x0']]);
    assert.equal(events.length, 3);
    assert.equal(result.info.continuationLines, 0);
    assert.match(events[0].payload, /clk id = 019$/);
  });

  it('a stray line after a kretprobe event is unreadable, not glued into its last field', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mntrace-stray-')), 'trace.txt');
    writeFileSync(file, [b.start, b.ret, 'xx', b.end].join('\n') + '\n');
    const { events, unreadable } = await read(file);
    assert.equal(events[1].fields.ret, '0');
    assert.deepEqual(unreadable.map((u) => [u.src.line, u.text, u.reason]), [[3, 'xx', 'not an ftrace event line']]);
  });
});

describe('ftrace parser: a file with fewer entries than its header counted', () => {
  const oom = text(join(FIX, 'real', 'oom_reaper.trace.txt.gz'));
  const oomLines = oom.split('\n');
  /** Event lines and stack records, counted without the parser. */
  const entries = (t: string) => t.split('\n').filter((l) => /^\s*\S.*?-\d+\s+\[\d+\]\s/.test(l)).length;
  /** The missing-entries records of `content` read as a file, as [claimed, found, header line]. */
  async function missing(content: string) {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-entries-'));
    try {
      writeFileSync(join(dir, 'trace.txt'), content);
      const { records } = await read(join(dir, 'trace.txt'));
      return records.flatMap((r) => (r.kind === 'missing-entries' ? [[r.claimed, r.found, r.src.line]] : []));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('cut with head: one record, with the entries counted, those found and the header line', async () => {
    const head = oomLines.slice(0, 5000).join('\n') + '\n';
    assert.deepEqual(await missing(head), [[12627, entries(head), 3]]);
  });

  it('one event line removed (grep -v): found is one short; a stack record counts as an entry', async () => {
    const at = oomLines.findIndex((l) => l.includes(' mn_inv_end: '));
    assert.deepEqual(await missing(oomLines.filter((_, i) => i !== at).join('\n')), [[12627, 12626, 3]]);
    // A whole stack record (its `<stack trace>` line and its frames) removed.
    const stack = oomLines.findIndex((l) => l.includes('<stack trace>'));
    let frames = stack + 1;
    while (oomLines[frames].startsWith(' =>')) frames++;
    assert.deepEqual(await missing(oomLines.filter((_, i) => i < stack || i >= frames).join('\n')), [[12627, 12626, 3]]);
  });

  it('no record for a header of 0/0 (trace_pipe read after the header), nor for more entries than counted', async () => {
    assert.deepEqual(await missing(readFileSync(join(FIX, 'corpus', 'perf-tools', 'tpoint_header.txt'), 'utf8')), []);
    const twice = oomLines.join('\n') + oomLines.filter((l) => !l.startsWith('#')).join('\n');
    assert.deepEqual(await missing(twice), []);
  });

  it('two captures one after the other: their counts add up', async () => {
    const cut = oomLines.slice(0, 5000).join('\n') + '\n';
    assert.deepEqual(await missing(oom + cut), [[2 * 12627, 12627 + entries(cut), 3]]);
  });

  it('a corpus slice that dropped an event of its header\'s count (perf-tools kprobe example, 4 counted, 3 kept)', async () => {
    assert.deepEqual(await missing(readFileSync(join(FIX, 'corpus', 'perf-tools', 'kprobe_header_nop.txt'), 'utf8')), [[4, 3, 3]]);
  });
});

describe('ftrace parser: every ftrace-text file of the corpus', () => {
  const corpus = join(FIX, 'corpus');
  const files: string[] = [];
  for (const sub of ['perf-tools', 'perfetto-docs', 'perfetto-fixtures', 'trace-cmd', 'catapult']) {
    const d = join(corpus, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      const isFtrace = /^(functrace|kprobe|kretprobe|tpoint|uprobe|uretprobe|trace_pipe|show_snapshot|kernel_trace_header)/.test(f)
        || /\.systrace$/.test(f) || /^atrace_/.test(f) || /^(decompressed_atrace_data|kfunc_parser|memreclaim_parser)/.test(f);
      if (isFtrace) files.push(join(sub, f));
    }
  }
  it('found the corpus files', () => assert.ok(files.length >= 25, `only ${files.length} files`));
  for (const f of files) {
    it(`${f}: zero unreadable lines (but bad_print's two lines after a non-marker event), one event per event line`, async () => {
      const { result, unreadable } = await read(join(corpus, f), 'ftrace');
      assert.deepEqual(unreadable.map((u) => `${u.src.line}: ${u.reason}: ${u.text}`), f.endsWith('bad_print.systrace')
        ? ['2: not an ftrace event line: some = 000, other = 0x4', '3: not an ftrace event line: xyz = 0x0 abc = 0x0'] : []);
      assert.equal(result.info.events, countEventLines(readFileSync(join(corpus, f), 'utf8')));
    });
  }
});
