import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { detectFormat, formatByName, formats, SNIFF_LINES } from '../parsers/detect';
import { readTrace } from '../src/io/read-trace';
import { InputError } from '../src/io/source';
import { FIX, SHARED, sharedSkip } from './parse-helpers';

function firstLines(path: string): string[] {
  let buf = readFileSync(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  return buf.toString('utf8').split('\n').slice(0, SNIFF_LINES).map((l) => l.replace(/\r$/, ''));
}
const detected = (path: string) => detectFormat(firstLines(path))?.name ?? 'none';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** What each corpus / real file is (see the MANIFEST.md files): the format the sniffer must pick. */
function expectedFormat(rel: string): string {
  const name = basename(rel);
  if (/\.md$/.test(name) || name.startsWith('kprobe_events')) return 'none';
  if (rel.includes('catapult/')) return /\.html$/.test(name) || name === 'android_systrace.txt' ? 'systrace' : 'ftrace';
  if (rel.includes('flamegraph/') || rel.includes('speedscope/') || name.startsWith('baseline.perf-script')) return 'perf-script';
  if (rel.includes('lisa/') || name.startsWith('report_') || name.startsWith('baseline.trace-cmd-report')) return 'trace-cmd';
  if (/^func(graph|slower)_/.test(name)) return 'function_graph';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.dmesg.txt')) return 'ftrace-dump';
  return 'ftrace';
}

describe('format detection: fixtures', () => {
  const files = [...filesUnder(join(FIX, 'corpus')), ...filesUnder(join(FIX, 'csv')), ...readdirSync(join(FIX, 'real')).filter((f) => /\.lines-\d+-\d+\.txt$/.test(f)).map((f) => join(FIX, 'real', f))].filter(
    (f) => !f.endsWith('README.md'),
  );
  test('there are fixtures of every format', () => {
    const seen = new Set(files.map((f) => expectedFormat(relative(FIX, f))));
    for (const f of ['ftrace', 'trace-cmd', 'perf-script', 'function_graph', 'systrace', 'csv']) assert.ok(seen.has(f), f);
  });
  for (const f of files) {
    const rel = relative(FIX, f);
    test(`${rel} is ${expectedFormat(rel)}`, () => assert.equal(detected(f), expectedFormat(rel)));
  }
  test('compressed fixtures are sniffed after decompression (readTrace)', async () => {
    for (const ext of ['gz', 'zst', 'xz']) {
      const res = await readTrace(join(FIX, `compressed/baseline.trace.lines-25911-26110.txt.${ext}`), () => {});
      assert.equal(res.format, 'ftrace', ext);
    }
  });
});

describe('format detection: registry and messages', () => {
  test('every format is registered by name, ftrace first', () => {
    assert.deepEqual(formats().map((f) => f.name), ['ftrace', 'trace-cmd', 'ftrace-dump', 'pasted', 'perf-script', 'function_graph', 'systrace', 'csv']);
    for (const f of formats()) assert.equal(formatByName(f.name), f);
  });

  test('readTrace picks the parser and reports its format', async () => {
    const cases: Array<[string, string]> = [
      ['real/baseline.trace-cmd-report.lines-24861-25160.txt', 'trace-cmd'],
      ['real/baseline.perf-script.lines-25311-25610.txt', 'perf-script'],
      ['corpus/perf-tools/funcgraph_do_sys_open.txt', 'function_graph'],
      ['corpus/catapult/trivial_systrace.html', 'systrace'],
      ['csv/baseline.derived.csv', 'csv'],
      ['real/baseline.trace.lines-25911-26110.txt', 'ftrace'],
    ];
    for (const [rel, format] of cases) {
      const res = await readTrace(join(FIX, rel), () => {});
      assert.equal(res.format, format, rel);
      assert.equal(res.info.unreadable, 0, rel);
      assert.ok(res.info.events > 0, rel);
    }
  });

  test('unknown input: a clear message naming the formats expected', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-detect-'));
    try {
      const p = join(dir, 'notes.txt');
      writeFileSync(p, 'p:kprobes/mn_inv_start __mmu_notifier_invalidate_range_start range=%di:x64\nsomething else\n');
      await assert.rejects(readTrace(p, () => {}), (e: unknown) => {
        assert.ok(e instanceof InputError);
        assert.match((e as Error).message, /cannot tell what format this is \(expected ftrace, trace-cmd, ftrace-dump, pasted, perf-script, function_graph, systrace, csv;/);
        assert.match((e as Error).message, /--input-format/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** The real baseline slice's event lines with their context columns cut off, as `nocontext-info` prints them. */
  function contextless(): string {
    const lines = readFileSync(join(FIX, 'real', 'baseline.trace.lines-25911-26110.txt'), 'utf8').split('\n');
    const cut = lines.map((l) => /^\s*\S.*?-\d+\s+\[\d+\]\s+\S+\s+\d+\.\d+: (.*)$/.exec(l)?.[1]).filter((l) => l !== undefined);
    assert.ok(cut.length > 150 && cut.some((l) => l.startsWith('mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/')), 'the slice holds kprobe lines');
    return cut.join('\n') + '\n';
  }

  test('a binary capture, the probe definitions or binary data given as the trace: says what it is and what to run, without echoing the bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-detect-'));
    const junk = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 131 + 7) % 256));
    const cases: Array<[string, Buffer, RegExp]> = [
      // trace-cmd.dat(5): 0x17 0x08 0x44, "tracing", the version ("6\0" or "7\0"), then endianness, long size, page size.
      ['trace.dat', Buffer.concat([Buffer.from([0x17, 0x08, 0x44]), Buffer.from('tracing6\0'), Buffer.from([0, 8, 0, 16, 0, 0]), junk]),
        // mntrace reads trace.dat itself: one whose metadata is not there says where it stops.
        /^\S+trace\.dat: cannot read this trace\.dat: no "header_page" where the header info starts/],
      // perf's header magic: "PERFILE2" (and "PERFFILE" for version 1).
      ['perf.data', Buffer.concat([Buffer.from('PERFILE2'), Buffer.from([0x68, 0, 0, 0, 0, 0, 0, 0]), junk]),
        /^\S+perf\.data is a perf binary capture \(perf\.data\), not text: convert it with `perf script -i \S+perf\.data > perf\.txt`/],
      ['kprobe_events', readFileSync(join(FIX, 'real', 'kprobe_events-6.1.txt')),
        /is kprobe definitions \(as in \/sys\/kernel\/tracing\/kprobe_events\), not a trace: give them with --kprobe-events \S+kprobe_events, and the trace itself as the input$/],
      ['blob.bin', Buffer.concat([Buffer.from([0, 1, 2]), junk]), /blob\.bin is binary data, not trace text/],
      // Real event lines as tracefs prints them with `nocontext-info`: the event and its payload, no task, CPU or time.
      ['nocontext.txt', Buffer.from(contextless()),
        /nocontext\.txt is ftrace event lines without their task, CPU and timestamp columns \(captured with the `context-info` trace option off\).*`echo context-info > \/sys\/kernel\/tracing\/trace_options`/],
      // Bytes with no NUL among the first lines still are not text: mostly non-UTF-8 and control bytes.
      ['random.bin', Buffer.from(Array.from({ length: 600 }, (_, i) => 1 + ((i * 167 + 3) % 255))), /random\.bin is binary data, not trace text/],
      // bzip2: "BZh", the block size, then the block magic 0x314159265359; lz4 frames: 0x184D2204 (little-endian).
      ['trace.txt.bz2', Buffer.concat([Buffer.from('BZh91AY&SY'), junk]),
        /trace\.txt\.bz2 is bzip2-compressed, which mntrace does not decompress itself \(it reads gzip, zstd and xz\): `bzcat \S+trace\.txt\.bz2 \| mntrace check -`/],
      ['trace.txt.lz4', Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7]), junk]),
        /trace\.txt\.lz4 is lz4-compressed, which mntrace does not decompress itself \(it reads gzip, zstd and xz\): `lz4cat \S+trace\.txt\.lz4 \| mntrace check -`/],
    ];
    try {
      for (const [name, bytes, message] of cases) {
        const p = join(dir, name);
        writeFileSync(p, bytes);
        await assert.rejects(readTrace(p, () => {}), (e: unknown) => {
          assert.ok(e instanceof InputError, name);
          assert.match((e as Error).message, message);
          assert.doesNotMatch((e as Error).message, /first line:/);
          return true;
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('text that only mentions the systrace markers mid-line (a README) is no format; the markers at the start of a line are', () => {
    const readme = [
      '# mntrace',
      '',
      '| format | recognised by | notes |',
      '|---|---|---|',
      '| Android atrace / systrace | `TRACE:` preamble, `<script class="trace-data">`, the old `linuxPerfData` string | the inner ftrace text keeps its line numbers |',
      'Set `var linuxPerfData = "` aside: it is only a mention.',
    ];
    assert.equal(detectFormat(readme), undefined);
    assert.equal(detectFormat(['<!-- BEGIN TRACE -->', '  <script class="trace-data" type="application/text">', '# tracer: nop'])?.name, 'systrace');
    assert.equal(detectFormat(['<script>', '  var linuxPerfData = "\\', '# tracer: nop\\n\\'])?.name, 'systrace');
  });

  test('mixed input: trace-cmd lines under an ftrace header stay ftrace', () => {
    const ftraceHeader = readFileSync(join(FIX, 'corpus/trace-cmd/kernel_trace_header_6x_migrate_disable.txt'), 'utf8').split('\n');
    const tc = readFileSync(join(FIX, 'real/baseline.trace-cmd-report.lines-24861-25160.txt'), 'utf8').split('\n').slice(0, 20);
    assert.equal(detectFormat([...ftraceHeader, ...tc])?.name, 'ftrace');
    assert.equal(detectFormat(tc)?.name, 'trace-cmd');
  });
});

describe('format detection: every file in ../shared', { skip: sharedSkip('corpus', 'traces/real') }, () => {
  const corpus = readdirSync(join(SHARED, 'corpus'))
    .filter((d) => statSync(join(SHARED, 'corpus', d)).isDirectory())
    .flatMap((d) => filesUnder(join(SHARED, 'corpus', d)));
  const real = readdirSync(join(SHARED, 'traces/real'))
    .map((f) => join(SHARED, 'traces/real', f))
    .filter((p) => statSync(p).isFile());
  for (const f of [...corpus, join(SHARED, 'corpus/MANIFEST.md'), ...real]) {
    const rel = relative(SHARED, f);
    test(`${rel} is ${expectedFormat(rel)}`, () => assert.equal(detected(f), expectedFormat(rel)));
  }
});
