import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TraceEvent, TraceRecord, UnreadableRecord } from '../src/model/event';
import { PerfScriptParser } from '../parsers/perfscript';
import { at, fixture, FIX, parseWith, SHARED, sharedSkip } from './parse-helpers';

function parse(text: string, file = 'perf.txt') {
  const r = parseWith((o) => new PerfScriptParser(o), text, file);
  return { ...r, };
}
/** Sample lines: not blank, not `#`, not a callchain frame (tab-indented, or perf 3.x's unindented `addr sym (dso)`). */
const sampleLines = (text: string) =>
  text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('\t') && !/^[0-9a-f]{6,} \S.* \(.*\)$/.test(l)).length;

describe('perf script: real baseline slice (perf 6.1, lines 25311-25610)', () => {
  const text = fixture('real/baseline.perf-script.lines-25311-25610.txt');
  const r = parse(text);

  test('every line is one event, nothing unreadable', () => {
    assert.equal(r.info.lines, 300);
    assert.equal(r.info.events, 300);
    assert.equal(r.info.unreadable, 0);
  });

  test('kprobes:mn_inv_start: group and name split, raw-address probe site, right-aligned event column', () => {
    // original line 25324
    const [ev] = at(r.events, 14);
    assert.equal(ev.comm, 'kvmnotif');
    assert.equal(ev.pid, 345);
    assert.equal(ev.tgid, undefined);
    assert.equal(ev.cpu, 0);
    assert.deepEqual(ev.ts, { raw: '39.964764', sec: 39, nsec: 964764000, unit: 'seconds' });
    assert.equal(ev.group, 'kprobes');
    assert.equal(ev.name, 'mn_inv_start');
    assert.deepEqual(ev.probe, { isReturn: false, address: '0xffffffffb7d20eb0' });
    assert.deepEqual(ev.fields, { range: '0xff4d4553c08b3aa0', mm: '0xff201f0681054000', start: '0x7fc26d200000', end: '0x7fc26d400000', flags: '1', event: '1' });
  });

  test('kretprobe: probe.address is the probed function (perf prints func <- return address)', () => {
    const ret = r.events.find((e) => e.name === 'mn_inv_start_ret');
    assert.ok(ret);
    assert.equal(ret.group, 'kprobes');
    assert.deepEqual(ret.probe, { isReturn: true, address: '0xffffffffb7d20eb0', returnTo: { address: '0xffffffffb7d3ae41' } });
    assert.equal(ret.fields.ret, '0');
  });

  test('tracepoints: kvm:kvm_unmap_hva_range and mmap_lock:* with payload as printed', () => {
    const unmap = r.events.find((e) => e.name === 'kvm_unmap_hva_range');
    assert.ok(unmap);
    assert.equal(unmap.group, 'kvm');
    assert.equal(unmap.payload, 'mmu notifier unmap range: 0x007fc26d200000 -- 0x007fc26d400000');
    const [lock] = at(r.events, 1);
    assert.deepEqual([lock.comm, lock.pid, lock.cpu, lock.group, lock.name, lock.fields.write], ['perf', 344, 1, 'mmap_lock', 'mmap_lock_start_locking', 'false']);
  });

  test('a broken line is unreadable, with its line number', () => {
    const lines = text.split('\n');
    lines.splice(5, 0, '        kvmnotif   345 [000]    39.96xx: kprobes:mn_inv_end (garbled');
    const b = parse(lines.join('\n'), 'broken.txt');
    assert.equal(b.info.unreadable, 1);
    assert.equal(b.unreadable[0].src.line, 6);
    assert.equal(b.info.events, 300);
  });
});

describe('perf script: layouts from real corpus files', () => {
  test('pid/tid: tid is pid, pid is tgid; callchain frames attach as the stack', () => {
    const text = fixture('corpus/flamegraph/perf-iperf-stacks-pidtid-01.lines-1-120.txt');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, sampleLines(text));
    const [ev] = at(r.events, 1);
    assert.deepEqual([ev.comm, ev.pid, ev.tgid, ev.cpu, ev.ts.raw, ev.name, ev.group], ['iperf', 28744, 27409, 0, '441995.133575', 'cpu-clock', undefined]);
    assert.equal(ev.stack?.length, 12);
    assert.deepEqual(ev.stack?.[0], { symbol: 'copy_user_enhanced_fast_string', module: '/lib/modules/4.3.0-rc1-virtual/build/vmlinux', address: '59fef5' });
    assert.deepEqual(ev.stack?.[11], { symbol: '__libc_recv', module: '/lib/x86_64-linux-gnu/libpthread-2.19.so', address: 'f7eb' });
  });

  test('header block, pid/tid with wide padding, [kernel.kallsyms] frames have no module', () => {
    const text = fixture('corpus/flamegraph/example-perf-stacks.lines-1-80.txt');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, sampleLines(text));
    assert.deepEqual(r.records.find((x) => x.kind === 'header'), { kind: 'header', cpus: 4, src: { file: 'perf.txt', line: 7 } });
    const [ev] = at(r.events, 19);
    assert.deepEqual([ev.comm, ev.pid, ev.tgid, ev.cpu, ev.ts.raw], ['perf', 977, 977, 0, '7628263.042515']);
    assert.deepEqual(ev.stack?.[0], { symbol: 'native_write_msr_safe', address: 'ffffffff8104f45a' });
  });

  test('no CPU column, period column (kept as @period)', () => {
    const r = parse(fixture('corpus/flamegraph/perf-dd-stacks-01.txt'));
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, 11);
    const [ev] = at(r.events, 1);
    assert.deepEqual([ev.comm, ev.pid, ev.cpu, ev.ts.raw, ev.name], ['dd', 29776, undefined, '666709.771979', 'cpu-clock']);
    assert.equal(ev.fields['@period'], '10101010');
    assert.deepEqual(ev.stack?.[5], { symbol: '[unknown]', address: '0' });
  });

  test('no timestamp and no CPU: ts.raw is empty', () => {
    const text = fixture('corpus/flamegraph/perf-funcab-pid-01.lines-1-80.txt');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, sampleLines(text));
    const [ev] = at(r.events, 19);
    assert.deepEqual([ev.comm, ev.pid, ev.cpu, ev.name], ['func_ab', 15294, undefined, 'cpu-clock']);
    assert.deepEqual(ev.ts, { raw: '', sec: 0, nsec: 0, unit: 'seconds' });
  });

  test('event modifiers stay in the name (cycles:u, task-clock:ppp); symbol+offset frames', () => {
    const r = parse(fixture('corpus/flamegraph/perf-rust-Yamakaky-dcpu.lines-1-60.txt'));
    assert.equal(r.info.unreadable, 0);
    const [ev] = at(r.events, 1);
    assert.deepEqual([ev.comm, ev.pid, ev.name, ev.group, ev.fields['@period']], ['emulator', 4152, 'cycles:u', undefined, '1']);
    assert.equal(ev.stack?.[0].symbol, '_start');
    assert.equal(ev.stack?.[0].module, '/usr/lib/ld-2.24.so');
    const m = parse(fixture('corpus/speedscope/rust-mangled.linux-perf.lines-1-60.txt'));
    assert.equal(m.info.unreadable, 0);
    assert.equal(m.events[0].name, 'task-clock:ppp');
    assert.deepEqual(m.events[0].stack?.[2], { symbol: '__libc_start_main', offset: 0x98, module: '/usr/lib/aarch64-linux-gnu/libc.so.6', address: 'ffff804d8598' });
  });

  test('perf 3.x: unindented callchain frames; V8 symbols with spaces and parentheses', () => {
    const old = parse(fixture('corpus/flamegraph/perf-java-stacks-02.txt'));
    assert.equal(old.info.unreadable, 0);
    assert.equal(old.info.events, 2);
    assert.equal(old.events[0].stack?.length, 24);
    assert.deepEqual(old.events[0].stack?.[12], { symbol: 'arrayOopDesc::base(BasicType) const', module: '/home/xguan/opt/jdk1.8.0_112/jre/lib/amd64/server/libjvm.so', address: '7f7241fbe6d8' });
    const js = parse(fixture('corpus/flamegraph/perf-js-stacks-01.txt'));
    assert.equal(js.info.unreadable, 0);
    assert.equal(js.info.events, 2);
    assert.deepEqual(js.events[0].stack?.[0], { symbol: 'RegExp:[&<>\\"\\\']', module: '/tmp/perf-7539.map', address: '13a80b608e0a' });
  });

  test('other whole corpus files read with no unreadable line', () => {
    for (const f of ['corpus/flamegraph/perf-java-faults-01.txt', 'corpus/speedscope/one-sample.linux-perf.txt', 'corpus/speedscope/simple-with-pid.linux-perf.lines-1-60.txt', 'corpus/flamegraph/perf-cycles-instructions-01.lines-1-150.txt']) {
      const text = fixture(f);
      const r = parse(text, f);
      assert.equal(r.info.unreadable, 0, f);
      assert.equal(r.info.events, sampleLines(text), f);
    }
    const pid = parse(fixture('corpus/speedscope/simple-with-pid.linux-perf.lines-1-60.txt'));
    assert.deepEqual([pid.events[0].comm, pid.events[0].pid, pid.events[0].tgid], ['simple-terminat', 9, 9]);
  });
});

describe('perf script: variants (real baseline lines with one column changed, as noted)', () => {
  test('comm with spaces, comm ending in -, nanosecond timestamp, probe: group and __return, [FAILED TO PARSE]', () => {
    const r = parse(
      [
        // baseline line 25324 with comm "Web Content" instead of kvmnotif
        '     Web Content   345 [000]    39.964764:                 kprobes:mn_inv_start: (ffffffffb7d20eb0) range=0xff4d4553c08b3aa0 mm=0xff201f0681054000 start=0x7fc26d200000 end=0x7fc26d400000 flags=1 event=1',
        // the same with comm "kvmnotif-" and a 9-digit (perf script --ns) timestamp
        '       kvmnotif-   345 [000]    39.964764123:                 kprobes:mn_inv_start: (ffffffffb7d20eb0) range=0xff4d4553c08b3aa0 flags=1 event=1',
        // baseline line 25339 as a `perf probe` kretprobe (group probe, name with __return)
        '        kvmnotif   345 [000]    39.965444:      probe:mn_inv_start__return: (ffffffffb7d20eb0 <- ffffffffb7d3ae41) ret=0',
        // a tracepoint perf could not format
        '        kvmnotif   345 [000]    39.964948:              kvm:kvm_unmap_hva_range: [FAILED TO PARSE] start=140473851052032 end=140473853149184',
      ].join('\n'),
    );
    assert.equal(r.info.unreadable, 0);
    const [spaces, dash, ret, failed] = r.events;
    assert.deepEqual([spaces.comm, spaces.pid, spaces.name, spaces.group], ['Web Content', 345, 'mn_inv_start', 'kprobes']);
    assert.deepEqual([dash.comm, dash.pid], ['kvmnotif-', 345]);
    assert.deepEqual(dash.ts, { raw: '39.964764123', sec: 39, nsec: 964764123, unit: 'seconds' });
    assert.deepEqual([ret.group, ret.name, ret.probe?.isReturn, ret.probe?.address], ['probe', 'mn_inv_start__return', true, '0xffffffffb7d20eb0']);
    assert.deepEqual([failed.group, failed.name, failed.payload], ['kvm', 'kvm_unmap_hva_range', '[FAILED TO PARSE] start=140473851052032 end=140473853149184']);
    assert.equal(failed.fields.start, '140473851052032');
  });
});

describe('perf script: files in ../shared', { skip: sharedSkip('traces/real/baseline.perf-script.txt') }, () => {
  test('baseline.perf-script.txt: one event per line, nothing unreadable, MANIFEST counts', () => {
    const text = readFileSync(join(SHARED, 'traces/real/baseline.perf-script.txt'), 'utf8');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, 30253);
    assert.equal(r.info.events, sampleLines(text));
    const count = (g: string, n: string) => r.events.filter((e) => e.group === g && e.name === n).length;
    assert.deepEqual(
      [count('kprobes', 'mn_inv_start'), count('kprobes', 'mn_inv_start_ret'), count('kprobes', 'mn_inv_end'), count('kvm', 'kvm_unmap_hva_range'), count('kmem', 'kmalloc'), count('tlb', 'tlb_flush')],
      [279, 279, 279, 278, 129, 318],
    );
  });

  test('every flamegraph and speedscope file: nothing unreadable, one event per sample line', () => {
    for (const dir of ['corpus/flamegraph', 'corpus/speedscope']) {
      for (const f of readdirSync(join(SHARED, dir))) {
        const text = readFileSync(join(SHARED, dir, f), 'utf8');
        const r = parse(text, f);
        assert.equal(r.info.unreadable, 0, `${f}: ${JSON.stringify(r.unreadable.slice(0, 2))}`);
        if (f !== 'perf-js-stacks-01.txt') assert.equal(r.info.events, sampleLines(text), f); // its frames are space-indented
        assert.equal(r.info.events + r.info.consumed, r.info.lines, f);
      }
    }
  });
});
