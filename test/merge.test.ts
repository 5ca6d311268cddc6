/**
 * Per-CPU files of one capture merged by timestamp: the real baseline and OOM
 * captures split into per_cpu/cpuN/trace files (each with the header and the
 * whole buffer's entry count, as the kernel writes them) give the same pairing and findings as the whole file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { analyzeMerged, analyzeTrace } from '../src/analyze';
import { emptyParseInfo, sumParseInfo } from '../src/model/event';
import { at, baseline as b } from './real-lines';

const ROOT = join(__dirname, '..', '..');

/** Split an ftrace text capture into per-CPU files; stack records stay with their CPU's event. */
function splitPerCpu(gz: string): string[] {
  return splitText(gunzipSync(readFileSync(join(ROOT, 'fixtures', 'real', gz))).toString('utf8'));
}

function splitText(text: string): string[] {
  const lines = text.split('\n');
  const header = lines.filter((l) => l.startsWith('#'));
  const byCpu = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const l of lines) {
    if (l.startsWith('#') || l === '') continue;
    const m = /\[(\d{3})\]/.exec(l);
    if (m && !l.startsWith(' =>')) {
      current = byCpu.get(m[1]) ?? [];
      byCpu.set(m[1], current);
    }
    current?.push(l);
  }
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-percpu-'));
  return [...byCpu.entries()].map(([cpu, body]) => {
    const d = join(dir, 'per_cpu', `cpu${Number(cpu)}`);
    mkdirSync(d, { recursive: true });
    // The kernel prints the whole buffer's entries-in-buffer/entries-written in every per-CPU file's header (print_event_info).
    writeFileSync(join(d, 'trace'), [...header, ...body].join('\n') + '\n');
    return join(d, 'trace');
  });
}

describe('per-CPU files merged by timestamp', () => {
  for (const gz of ['baseline.stacktrace.trace.txt.gz', 'oom_reaper.trace.txt.gz']) {
    it(`${gz} split per CPU reads as the whole capture`, async () => {
      const files = splitPerCpu(gz);
      assert.ok(files.length >= 2);
      const whole = await analyzeTrace(join(ROOT, 'fixtures', 'real', gz));
      const merged = await analyzeMerged(files);
      assert.equal(merged.input.events, whole.input.events);
      assert.equal(merged.input.unreadableLines, 0);
      assert.equal(merged.input.orphanStacks, 0);
      assert.deepEqual(merged.counts, whole.counts);
      assert.deepEqual(merged.subscribers, whole.subscribers);
      assert.deepEqual(merged.findings, []);
      assert.deepEqual(merged.input.merged, files);
      assert.equal(merged.input.missingEntries, undefined);
    });
  }

  it('per-CPU files each with the whole buffer\'s entry count: a complete capture, so a certain unpaired-start stays certain (exit 1 as for the single file)', async () => {
    const single = join(ROOT, 'fixtures', 'cases', 'missing-end', 'trace.txt');
    const files = splitText(readFileSync(single, 'utf8'));
    assert.equal(files.length, 2);
    const merged = await analyzeMerged(files);
    assert.equal(merged.input.missingEntries, undefined);
    assert.deepEqual(merged.findings.map((f) => [f.ruleId, f.confidence]), [['unpaired-start', 'certain']]);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'mntrace.js'), 'check', '--merge', ...files], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stdout);
    // Lines cut from one part: all the parts together hold fewer than the figure, counted once.
    const cpu1 = files.find((f) => f.includes('cpu1')) as string;
    const kept = readFileSync(cpu1, 'utf8').split('\n');
    writeFileSync(cpu1, [...kept.slice(0, 40), ...kept.slice(50)].join('\n'));
    const cut = await analyzeMerged(files);
    assert.deepEqual(cut.input.missingEntries, { claimed: 198, found: 188 });
    assert.ok(cut.findings.length > 0 && cut.findings.every((f) => f.confidence === 'inconclusive'), cut.findings.map((f) => `${f.ruleId} ${f.confidence}`).join('\n'));
  });

  it('check --merge reports one input; without it each file is its own capture', () => {
    const files = splitPerCpu('process_mrelease.trace.txt.gz');
    const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'mntrace.js'), 'check', '--format', 'json', ...args, ...files], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const merged = run(['--merge']);
    assert.equal(merged.status, 0, merged.stderr);
    const m = JSON.parse(merged.stdout);
    assert.equal(m.inputs.length, 1);
    assert.equal(m.inputs[0].ranges.paired, 11);
    const separate = JSON.parse(run([]).stdout);
    assert.equal(separate.inputs.length, files.length);
  });

  /**
   * Two parts: CPU 1 (plain) has a range started at 6.667004 and the task still
   * running at 8.0 with no end (likely left open); CPU 0's part is gzip, whole
   * or cut off part way.
   */
  function parts(cutCpu0: boolean): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-cut-part-'));
    const cpu1 = join(dir, 'cpu1.txt');
    writeFileSync(cpu1, [b.start, at(b.later, '8.000000')].join('\n') + '\n');
    // Another task on CPU 0, an event every millisecond from 6.0 s to 7.0 s (real tlb_flush line, other pid and CPU).
    const other = b.later.replace('kvmnotif-147', 'qemu-system-x86-900').replace('[001]', '[000]');
    const lines = Array.from({ length: 1000 }, (_, i) => at(other, (6 + i / 1000).toFixed(6)));
    const gz = gzipSync(lines.join('\n') + '\n');
    const cpu0 = join(dir, 'cpu0.txt.gz');
    writeFileSync(cpu0, cutCpu0 ? gz.subarray(0, Math.floor(gz.length * 0.5)) : gz);
    return [cpu0, cpu1];
  }

  it('a part cut off: merged up to the damage, the rest of it is missing data, so what needed it is inconclusive', async () => {
    const whole = await analyzeMerged(parts(false));
    assert.equal(whole.input.damaged, undefined);
    assert.deepEqual(whole.findings.map((f) => [f.ruleId, f.confidence]), [['unpaired-start', 'likely']]);

    const [cpu0, cpu1] = parts(true);
    const cut = await analyzeMerged([cpu0, cpu1]);
    assert.match(cut.input.damaged ?? '', /cpu0\.txt\.gz: compressed data is corrupt or cut off after \d+ lines/);
    assert.ok(cut.input.events > 2 && cut.input.events < 1002, `${cut.input.events} events`);
    // The window runs from the cut part's last event to the end of the capture.
    const windows = cut.losses.filter((w) => w.why === 'part-cut');
    assert.equal(windows.length, 1);
    assert.equal(windows[0].to, undefined);
    assert.ok(windows[0].from !== undefined && windows[0].from.sec === 6);
    const [f] = cut.findings;
    assert.equal(cut.findings.length, 1);
    assert.equal(f.ruleId, 'unpaired-start');
    assert.equal(f.confidence, 'inconclusive');
    assert.equal(f.severity, 'info');
    // Unreadable lines name the part they are in, not the merged input.
    for (const u of cut.unreadable) assert.equal(u.src.file, cpu0);
  });

  it('check --merge with a part cut off: one report with what was read, exit 2, the input named as merged', () => {
    const files = parts(true);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'mntrace.js'), 'check', '--merge', ...files], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stdout, /read only in part: .*cpu0\.txt\.gz: compressed data is corrupt or cut off/);
    assert.match(r.stdout, new RegExp(`${files[0].replace(/[.]/g, '\\.')} \\+ ${files[1].replace(/[.]/g, '\\.')}: ftrace`));
    assert.match(r.stdout, /unpaired-start/);
    assert.match(r.stdout, /1 range starts but not one end: .* they may be in what could not be read after the damage/);
    assert.doesNotMatch(r.stderr, /corrupt or cut off/, 'said in the text report, not again on stderr');
    // A part that cannot be read at all: the merged input is named, with the reason.
    const missing = spawnSync(process.execPath, [join(ROOT, 'bin', 'mntrace.js'), 'check', '--merge', '--format', 'json', files[1], join(tmpdir(), 'no-such-part.txt')], { encoding: 'utf8' });
    assert.equal(missing.status, 2);
    const report = JSON.parse(missing.stdout);
    assert.equal(report.inputs.length, 1);
    assert.equal(report.inputs[0].path, `${files[1]} + ${join(tmpdir(), 'no-such-part.txt')}`);
    assert.match(report.inputs[0].error, /no-such-part\.txt/);
  });

  it('check --merge goes through the same input checks as one file: a trace-cmd --stat summary is an input error, merged alone or with a real part', () => {
    const stat = join(ROOT, 'fixtures', 'real', 'meta', 'baseline.trace-cmd.stat.txt');
    const copy = join(mkdtempSync(join(tmpdir(), 'mntrace-stat-')), 'cpu1.stat.txt');
    writeFileSync(copy, readFileSync(stat));
    const bin = join(ROOT, 'bin', 'mntrace.js');
    const alone = spawnSync(process.execPath, [bin, 'check', stat], { encoding: 'utf8' });
    assert.equal(alone.status, 2, alone.stdout);
    for (const args of [[stat, copy], [join(ROOT, 'fixtures', 'real', 'oom_reaper.trace.txt.gz'), stat]]) {
      const r = spawnSync(process.execPath, [bin, 'check', '--merge', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stdout);
      assert.match(r.stdout, /holds no events: \d+ of its \d+ lines are the ring-buffer statistics that `trace-cmd report --stat` prints/);
    }
    // With a real part, the error names the part that is a summary.
    const mixed = spawnSync(process.execPath, [bin, 'check', '--merge', '--format', 'json', join(ROOT, 'fixtures', 'real', 'oom_reaper.trace.txt.gz'), stat], { encoding: 'utf8' });
    assert.match(JSON.parse(mixed.stdout).inputs[0].error, /^\S*baseline\.trace-cmd\.stat\.txt holds no events: 25 of its 31 lines/);
  });
});

describe('sumParseInfo: the one sum of parse counters (merged parts, a container and its inner parser)', () => {
  it('adds every counter, ors every flag and keeps the first description, whatever fields ParseInfo has', () => {
    const a = { ...emptyParseInfo(), lines: 3, events: 2, consumed: 1, unreadable: 1, lostMarkers: 1, lostEvents: 5, orphanStacks: 1, continuationLines: 2, truncated: false };
    const b = { ...emptyParseInfo(), lines: 10, events: 0, consumed: 9, unreadable: 0, lostMarkers: 0, lostEvents: 0, orphanStacks: 0, continuationLines: 0, truncated: true, summaryLines: 9, summaryOf: 'the `trace-cmd report --profile` summary' };
    assert.deepEqual(sumParseInfo(a, b), { lines: 13, events: 2, consumed: 10, unreadable: 1, lostMarkers: 1, lostEvents: 5, orphanStacks: 1, continuationLines: 2, truncated: true, summaryLines: 9, summaryOf: 'the `trace-cmd report --profile` summary' });
    // Every field of an info is carried: none is left out of the sum (the bug of a hand-kept list).
    for (const k of Object.keys(b)) assert.ok(k in sumParseInfo(a, b), `${k} dropped`);
    assert.deepEqual(sumParseInfo(), emptyParseInfo());
  });
});
