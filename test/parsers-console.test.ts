/**
 * The ftrace buffer as the console prints it (ftrace_dump: ftrace_dump_on_oops,
 * sysrq-z), read back from dmesg or a serial log: the real sysrq-z dump of the
 * 6.1 capture (fixtures/real/dump-baseline.dmesg.txt), and the real baseline
 * trace printed the way ftrace_dump prints it, compared event by event with
 * the trace text it came from.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ConsoleDumpParser } from '../parsers/console';
import { FtraceParser } from '../parsers/ftrace';
import { detectFormat } from '../parsers/detect';
import { analyzeTrace } from '../src/analyze';
import { FIX, parseWith } from './parse-helpers';

const dump = readFileSync(join(FIX, 'real/dump-baseline.dmesg.txt'), 'utf8');
const baseline = gunzipSync(readFileSync(join(FIX, 'real/baseline.trace.txt.gz'))).toString('utf8');

/**
 * One ftrace event line as ftrace_dump prints it: the latency layout
 * (lat_print_generic: `%8.8s-%-7d %3d` then the flags; lat_print_timestamp:
 * ` %4lldus%c: ` in microseconds), behind the console's printk time.
 */
function asConsole(line: string, printk: string): string {
  const m = /^\s*(.*?)-(\d+)\s+\[(\d+)\]\s+(\S+)\s+(\d+)\.(\d{6}): (.*)$/.exec(line);
  if (!m) return line;
  const [, comm, pid, cpu, flags, sec, usec, body] = m;
  return `[${printk}] ${comm.slice(0, 8).padStart(8)}-${pid.padEnd(7)} ${String(Number(cpu)).padStart(3)}${flags} ${String(Number(sec + usec)).padStart(4)}us : ${body}`;
}

/** The baseline trace as a console dump: an oops before it, other console messages inside it, CRLF from a serial line on some lines. */
function consoleDumpOf(trace: string): string {
  const out = [
    '[  352.700001] sysrq: Dump ftrace buffer',
    '<4>[  352.700002] CPU: 1 PID: 198 Comm: kvmnotif Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2',
    '[  352.700003] Dumping ftrace buffer:',
    '[  352.700003] ---------------------------------',
  ];
  let n = 0;
  for (const line of trace.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    n++;
    const printk = (352.756926 + n / 1e6).toFixed(6).padStart(12);
    out.push(asConsole(line, printk) + (n % 97 === 0 ? '\r' : ''));
    if (n % 1000 === 0) out.push(`[${printk}] kvm: vcpu0, guest rIP: 0xffffffff8103d0ca disabled perfctr wrmsr: 0xc0010004 data 0xffff`);
  }
  out.push('[  360.100000] ---------------------------------', '[  360.100001] Kernel panic - not syncing: sysrq triggered crash');
  return out.join('\n') + '\n';
}

describe('console dump (ftrace_dump) parser', () => {
  it('detects the real sysrq-z dump as a console dump', () => {
    assert.equal(detectFormat(dump.split('\n').slice(0, 200))?.name, 'ftrace-dump');
  });

  it('reads every event of the real dump, with its stack records, and nothing unreadable', () => {
    const { events, unreadable, info } = parseWith((o) => new ConsoleDumpParser(o), dump, 'dump-baseline.dmesg.txt');
    const eventLines = dump.split('\n').filter((l) => /^\[ *\d+\.\d+\] .*-\d+ +\d\S+ +\d+us : /.test(l) && !l.includes('<stack trace>')).length;
    assert.equal(unreadable.length, 0);
    assert.equal(events.length, eventLines);
    assert.equal(info.consoleLines, 0);
    const starts = events.filter((e) => e.name === 'mn_inv_start');
    assert.ok(starts.length > 50);
    // The stacktrace trigger follows every mn_inv_start with a stack record, whose frames are printed without the console prefix.
    assert.ok(starts.every((e) => e.stack !== undefined && e.stack.some((f) => f.symbol === '__mmu_notifier_invalidate_range_start')));
    const first = events[0];
    assert.deepEqual([first.comm, first.pid, first.cpu, first.name, first.ts.sec, first.ts.nsec], ['kvmnotif', 198, 1, 'mn_inv_range', 0, 569666000]);
    assert.equal(first.fields.start, '0x7f3ce46b2000');
  });

  it('the baseline trace printed as a console dump gives the same events as its trace text', () => {
    const text = parseWith((o) => new FtraceParser(o), baseline, 'baseline.trace.txt');
    const console = consoleDumpOf(baseline);
    assert.equal(detectFormat(console.split('\n').slice(0, 200))?.name, 'ftrace-dump');
    const dumped = parseWith((o) => new ConsoleDumpParser(o), console, 'baseline.dmesg.txt');
    assert.equal(dumped.unreadable.length, 0, JSON.stringify(dumped.unreadable[0]));
    assert.equal(dumped.events.length, text.events.length);
    assert.equal(dumped.events.length, 29294);
    // The oops header, the sysrq and panic lines and one message in a thousand: kept out, not unreadable.
    assert.equal(dumped.info.consoleLines, 3 + Math.floor(29294 / 1000));
    for (let i = 0; i < text.events.length; i++) {
      const a = text.events[i];
      const d = dumped.events[i];
      // ftrace_dump prints 8 characters of the task name, and microseconds.
      assert.deepEqual(
        [d.comm, d.pid, d.cpu, d.name, d.ts.sec, d.ts.nsec, d.probe, d.fields],
        [a.comm.slice(0, 8), a.pid, a.cpu, a.name, a.ts.sec, a.ts.nsec, a.probe, a.fields],
        `event ${i}: ${d.src.line}`,
      );
    }
  });

  it('check reads the real dump: every range it holds is paired but the one the overwritten head cut', async () => {
    const r = await analyzeTrace(join(FIX, 'real/dump-baseline.dmesg.txt'));
    assert.equal(r.input.format, 'ftrace-dump');
    assert.equal(r.input.unreadableLines, 0);
    assert.equal(r.counts.open, 0);
    assert.equal(r.counts.orphanEnds, 1);
    assert.ok(r.counts.paired > 50);
    assert.ok(r.findings.every((f) => f.severity === 'info'), r.findings.map((f) => f.ruleId).join());
  });

  it('strips each console prefix: level, printk time, caller id, dmesg -x, syslog', () => {
    const body = 'kvmnotif-198       1..... 569704us : mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff6fcfdbc044bd70 flags=1 event=1';
    const lines = [
      `[   10.137079] ${body}`,
      `<4>[   10.137079] ${body}`,
      `[   10.137079][  T198] ${body}`,
      `kern  :warn  : [   10.137079] ${body}`,
      `Dec  4 05:22:00 guest kernel: [   10.137079] ${body}`,
      `<4>${body}`,
    ];
    const { events, unreadable } = parseWith((o) => new ConsoleDumpParser(o), lines.join('\n') + '\n', 'x.log');
    assert.equal(unreadable.length, 0);
    assert.equal(events.length, lines.length);
    for (const e of events) assert.deepEqual([e.comm, e.pid, e.cpu, e.fields.range], ['kvmnotif', 198, 1, '0xff6fcfdbc044bd70']);
  });

  it('a broken trace line inside the dump is unreadable, with its line; an ordinary kernel message is not', () => {
    const text = [
      '[   10.137079] Dumping ftrace buffer:',
      '[   10.137079] ---------------------------------',
      '[   10.137079] kvmnotif-198       1..... 569704us : mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0x1 flags=1 event=1',
      '[   10.137080] kvmnotif-198       1.Z... 569705us : mn_inv_end: range=0x1',
      '[   10.137081] usb 1-1: new high-speed USB device number 2 using ehci-pci',
      '[   10.137082] ---------------------------------',
    ].join('\n') + '\n';
    const { events, unreadable, info } = parseWith((o) => new ConsoleDumpParser(o), text, 'x.log');
    assert.equal(events.length, 1);
    assert.deepEqual(unreadable.map((u) => u.src.line), [4]);
    assert.equal(info.consoleLines, 1);
    assert.equal(info.lines, 6);
  });
});
