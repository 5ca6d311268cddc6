/**
 * trace-cmd's trace.dat read directly (src/io/tracedat): the real baseline
 * capture as trace-cmd 3.1.6 wrote it (version 7, zstd) and converted to
 * version 6 (uncompressed, gzipped here), against `trace-cmd report` of the
 * same file (fixtures/tracedat, README there): the same events one by one,
 * the same counts and findings; a cut or corrupt file is an input error
 * with what was read before reported.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { analyzeMerged, analyzeTrace } from '../src/analyze';
import { readTrace } from '../src/io/read-trace';
import { InputError } from '../src/io/source';
import type { TraceEvent, TraceRecord } from '../src/model/event';
import { FIX } from './parse-helpers';

const DIR = join(FIX, 'tracedat');
const V7 = join(DIR, 'baseline.trace-cmd.v7-zstd.dat');
const V6 = join(DIR, 'baseline.trace-cmd.v6.dat.gz');
const REPORT = join(DIR, 'baseline.trace-cmd-report.txt.gz');
const BIN = join(__dirname, '..', '..', 'bin', 'mntrace.js');

async function events(path: string) {
  const records: TraceRecord[] = [];
  const result = await readTrace(path, (r) => records.push(r));
  return { result, records, events: records.filter((r): r is TraceEvent => r.kind === 'event') };
}

function tmp(name: string, bytes: Buffer): string {
  const p = join(mkdtempSync(join(tmpdir(), 'mntrace-dat-')), name);
  writeFileSync(p, bytes);
  return p;
}

/** A timestamp in ns rounded to µs, as trace-cmd report prints it. */
function micros(e: TraceEvent): number {
  return e.ts.sec * 1e6 + Math.round(e.ts.nsec / 1000);
}

describe('trace.dat', () => {
  const reportP = events(REPORT);

  for (const [label, path] of [['version 7 (zstd)', V7], ['version 6 (gzipped)', V6]] as const) {
    it(`${label}: the same events as trace-cmd report, one by one, with nanosecond timestamps`, async () => {
      const report = await reportP;
      const dat = await events(path);
      assert.equal(dat.result.format, 'trace.dat');
      assert.equal(dat.result.info.unreadable, 0);
      assert.equal(dat.events.length, report.events.length);
      assert.equal(dat.events.length, 28276);
      for (let i = 0; i < dat.events.length; i++) {
        const d = dat.events[i];
        const r = report.events[i];
        assert.deepEqual([d.comm, d.pid, d.cpu, d.name, d.fields, d.probe], [r.comm, r.pid, r.cpu, r.name, r.fields, r.probe], `event ${i}`);
        assert.equal(micros(d), micros(r), `event ${i}: ${d.ts.raw} vs ${r.ts.raw}`);
        assert.match(d.ts.raw, /^\d+\.\d{9}$/);
        // Where it is in the file: the CPU and the record's offset in that CPU's data.
        assert.match(d.src.file, /baseline\.trace-cmd\.v[67][-\w.]*\.dat(\.gz)?:cpu[01]@0x[0-9a-f]+$/);
        assert.equal(d.src.line, i + 1);
      }
      const header = dat.records.filter((r) => r.kind === 'header');
      assert.equal(header.length, 1);
      assert.deepEqual(header[0], {
        kind: 'header', cpus: 2, buffers: [''], clock: 'global', uname: 'Linux labguest 6.1.0-56-amd64 x86_64',
        recorder: `trace-cmd 3.1.6 not-a-git-repo (trace.dat v${path === V7 ? '7, zstd 1.5.4' : '6'})`,
        bufferStats: [{ cpu: 0, overrun: 0, dropped: 0, entries: 270 }, { cpu: 1, overrun: 0, dropped: 0, entries: 28006 }],
        src: { file: path, line: 0 },
      });
      // The latency flags the report leaves out are read from the records.
      assert.ok(dat.events.some((e) => e.ctx?.irqsOff));
    });
  }

  it('check gives the same counts and findings on each trace.dat as on its report', async () => {
    const want = await analyzeTrace(REPORT);
    for (const path of [V7, V6]) {
      const got = await analyzeTrace(path);
      assert.equal(got.input.format, 'trace.dat');
      assert.equal(got.input.events, want.input.events);
      assert.deepEqual(got.counts, want.counts);
      assert.deepEqual(got.findings.map((f) => [f.ruleId, f.pid, f.message]), want.findings.map((f) => [f.ruleId, f.pid, f.message]));
      assert.deepEqual(got.subscribers, want.subscribers);
      assert.deepEqual(got.cpus.map((c) => [c.cpu, c.events]), want.cpus.map((c) => [c.cpu, c.events]));
      assert.equal(got.counts.paired, 281);
    }
  });

  it('several trace.dat files of one capture (host and guest) are merged by time, each a machine with its own pids and CPUs', async () => {
    const r = await analyzeMerged([V7, V6]);
    assert.equal(r.input.format, 'trace.dat');
    assert.equal(r.input.events, 2 * 28276);
    // The same pid on two machines is two tasks: every range still pairs within its machine.
    assert.equal(r.counts.paired, 2 * 281);
    assert.equal(r.counts.orphanEnds, 0);
    assert.deepEqual(r.cpus.map((c) => [c.machine, c.cpu, c.events]), [
      ['baseline.trace-cmd.v7-zstd.dat', 0, 270], ['baseline.trace-cmd.v7-zstd.dat', 1, 28006],
      ['baseline.trace-cmd.v6.dat.gz', 0, 270], ['baseline.trace-cmd.v6.dat.gz', 1, 28006],
    ]);
  });

  it('a trace.dat cut inside its ring-buffer data: what was read before is analysed, and check exits 2 saying where it stops', async () => {
    const whole = gunzipSync(readFileSync(V6));
    // cpu1's data starts at 4538368 and takes 950272 bytes: cut it in the middle of a page.
    const cut = tmp('cut.dat', whole.subarray(0, 4538368 + 300000 + 123));
    const r = await analyzeTrace(cut);
    assert.match(r.input.damaged ?? '', /cut\.dat: cpu1's data at \d+: the file ends before cpu1's page .* \(after \d+ records\)/);
    assert.doesNotMatch(r.input.damaged ?? '', /cut\.dat: \S*cut\.dat/);
    assert.ok(r.input.events > 5000 && r.input.events < 28276, String(r.input.events));
    const res = spawnSync(process.execPath, [BIN, 'check', cut], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(res.status, 2);
    assert.match(res.stdout, /read only in part/);
  });

  it('a corrupt page (its data size more than a page holds) stops that CPU there; the other CPU is read whole', async () => {
    const whole = Buffer.from(gunzipSync(readFileSync(V6)));
    // The commit word of cpu1's 10th page.
    whole.writeUInt32LE(0x00ffffff, 4538368 + 9 * 4096 + 8);
    const r = await events(tmp('corrupt.dat', whole)).catch((e: Error & { partial?: unknown }) => e);
    assert.ok(r instanceof InputError);
    assert.match(r.message, /cpu1's page at data offset 36864 claims \d+ bytes of data, more than a page holds/);
  });

  it('a page whose commit word says events were lost before it gives a lost-events record there, with the count when the kernel stored it', async () => {
    const whole = Buffer.from(gunzipSync(readFileSync(V6)));
    const page = (n: number) => 4538368 + n * 4096;
    // Page 5: events missed, count not stored (bit 31). Page 9: missed and stored (bits 31 and 30), the count right after the data.
    whole[page(5) + 11] |= 0x80;
    const size9 = whole.readUInt32LE(page(9) + 8);
    assert.ok(16 + size9 + 8 <= 4096, 'room for the stored count');
    whole.writeBigUInt64LE(42n, page(9) + 16 + size9);
    whole[page(9) + 11] |= 0xc0;
    const { records, result } = await events(tmp('lost.dat', whole));
    const lost = records.filter((r) => r.kind === 'lost');
    assert.deepEqual(lost.map((l) => [l.cpu, l.count, l.src.file.replace(/^.*lost\.dat:/, '')]), [[1, undefined, 'cpu1@0x5000'], [1, 42, 'cpu1@0x9000']]);
    assert.equal(result.info.lostMarkers, 2);
    assert.equal(result.info.lostEvents, 42);
    const r = await analyzeTrace(tmp('lost.dat', whole));
    assert.equal(r.losses.filter((l) => l.why === 'lost-events').length, 2);
  });

  it('the per-CPU ring-buffer statistics recorded in the file: an overrun marks that CPU\'s oldest events as overwritten', async () => {
    const clean = await analyzeTrace(V7);
    assert.deepEqual(clean.input.bufferStats, [{ cpu: 0, overrun: 0, dropped: 0, entries: 270 }, { cpu: 1, overrun: 0, dropped: 0, entries: 28006 }]);
    assert.equal(clean.input.overwritten, false);
    // v7 keeps its first options section uncompressed: CPU 1's CPUSTAT text says 7 events were overwritten.
    const bytes = Buffer.from(readFileSync(V7));
    const at = bytes.indexOf('CPU: 1\nentries: 28006\noverrun: 0');
    assert.ok(at > 0);
    bytes.write('7', at + 'CPU: 1\nentries: 28006\noverrun: '.length);
    const r = await analyzeTrace(tmp('overrun.dat', bytes));
    assert.deepEqual(r.input.bufferStats?.[1], { cpu: 1, overrun: 7, dropped: 0, entries: 28006 });
    assert.equal(r.input.overwritten, true);
    assert.deepEqual(r.losses.filter((l) => l.why === 'overwritten').map((l) => [l.cpu, l.count]), [[1, 7]]);
  });

  it('a trace.dat on stdin: named, with its path or its report text to give instead (it needs random access)', () => {
    const res = spawnSync(process.execPath, [BIN, 'check', '-'], { input: readFileSync(V7), encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(res.status, 2);
    // Said once, in the text report (stderr repeats input errors only beside a report for tools or a file).
    assert.match(res.stdout, /<stdin> is a trace-cmd binary capture \(trace\.dat\), which mntrace reads as a file, not from a pipe: give its path/);
    assert.doesNotMatch(res.stderr, /binary capture/);
  });

  it('a trace.dat cut inside its metadata: an input error naming what is missing', async () => {
    const cut = tmp('head.dat', readFileSync(V7).subarray(0, 0x0f33df + 40));
    await assert.rejects(analyzeTrace(cut), (e: Error) => e instanceof InputError && /head\.dat: cannot read this trace\.dat: .*ends before/.test(e.message));
  });

  it('reading reports its progress as it goes (the reading is synchronous: a bar is drawn from inside it or not at all), for a plain and a compressed file', async () => {
    for (const [file, compression] of [[V7, 'none'], [V6, 'gzip']] as const) {
      const seen: Array<{ bytesRead: number; bytesText: number; lines: number; compression: string }> = [];
      const r = await readTrace(file, () => {}, { onProgress: (i) => seen.push({ ...i }) });
      const size = statSync(file).size;
      assert.ok(seen.length >= 3, `${file}: ${seen.length} progress calls for ${r.info.lines} records`);
      for (let i = 1; i < seen.length; i++) {
        assert.ok(seen[i].bytesRead >= seen[i - 1].bytesRead && seen[i].lines > seen[i - 1].lines, `${file}: progress went back at call ${i}`);
      }
      assert.ok(seen.every((x) => x.compression === compression && x.bytesRead <= size));
      // Past the half of the data by the last call (every 4096 records, so less than that many remain).
      assert.ok(seen[seen.length - 1].bytesRead > size / 2, `${file}: last ${seen[seen.length - 1].bytesRead} of ${size}`);
    }
  });
});
