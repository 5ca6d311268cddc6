import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TraceEvent, TraceRecord, UnreadableRecord } from '../src/model/event';
import { decodeJsStringPart, SystraceParser } from '../parsers/systrace';
import { at, fixture, FIX, parseWith, SHARED, sharedSkip } from './parse-helpers';

function parse(text: string, file = 'trace.html') {
  const r = parseWith((o) => new SystraceParser(o), text, file);
  return { ...r, };
}
/** Lines of a linuxPerfData string (or its saved body) that hold an ftrace event. */
const eventLines = (text: string) => text.split('\n').filter((l) => /^\s*\S.*-\d+\s+\[\d+\]\s+\d+\.\d+: /.test(l)).length;

describe('systrace: old HTML with the trace in var linuxPerfData = "\\', () => {
  test('trivial_systrace.html: events carry the HTML line numbers; HTML lines are container lines', () => {
    const text = fixture('corpus/catapult/trivial_systrace.html');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.lines, 37);
    assert.equal(r.info.events, 4);
    assert.equal(r.info.containerLines, 28);
    assert.equal(r.info.events + r.info.consumed, r.info.lines);
    const [ev] = at(r.events, 30);
    assert.deepEqual([ev.comm, ev.pid, ev.cpu, ev.ts.raw, ev.name, ev.payload], ['hwc_eventmon', 336, 0, '50260.929925', '0', 'C|124|VSYNC|1']);
    assert.equal(ev.src.file, 'trace.html');
    assert.deepEqual(r.records.find((x) => x.kind === 'header'), { kind: 'header', tracer: 'nop', src: { file: 'trace.html', line: 26 } });
  });

  test('counter_tracks.html: every trace line is an event', () => {
    const text = fixture('corpus/catapult/counter_tracks.html');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, eventLines(text));
    assert.equal(r.info.events, 1611);
    const [ev] = at(r.events, 192);
    assert.deepEqual([ev.comm, ev.pid, ev.payload], ['Binder_1', 340, 'C|124|StatusBar|1']);
  });

  test('a broken line inside the string is unreadable at its HTML line', () => {
    const lines = fixture('corpus/catapult/trivial_systrace.html').split('\n');
    lines.splice(30, 0, '     hwc_eventmon-336   [000] 50260.9xx: 0: C|124|VSYNC|0\\n\\');
    const r = parse(lines.join('\n'));
    assert.equal(r.info.unreadable, 1);
    assert.equal(r.unreadable[0].src.line, 31);
    assert.equal(r.unreadable[0].text, '     hwc_eventmon-336   [000] 50260.9xx: 0: C|124|VSYNC|0');
    assert.equal(r.info.events, 4);
  });
});

describe('systrace: the string body saved as text (lines ending in \\n\\)', () => {
  test('android_systrace.txt', () => {
    const text = fixture('corpus/catapult/android_systrace.txt');
    const r = parse(text, 'android_systrace.txt');
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, eventLines(text));
    assert.equal(r.info.events, 91);
    const [ev] = at(r.events, 5);
    assert.deepEqual([ev.comm, ev.pid, ev.cpu, ev.ts.raw, ev.name], ['atrace', 14662, 0, '50260.647576', 'sched_switch']);
    assert.equal(ev.fields.next_comm, 'kworker/0:0');
    assert.ok(r.events.every((e) => !e.payload.endsWith('\\')));
  });
});

describe('systrace: HTML with <script class="trace-data"> blocks', () => {
  // The container as systrace.py writes it, around real atrace lines (android_systrace.txt lines 1-8, `\n\` removed).
  const body = fixture('corpus/catapult/android_systrace.txt').split('\n').slice(0, 8).map((l) => l.replace(/\\n\\$/, ''));
  const html = [
    '<!DOCTYPE html>',
    '<html>',
    '<head i18n-values="dir:textdirection;">',
    '<meta charset="utf-8"/>',
    '<title>Android System Trace</title>',
    '</head>',
    '<body>',
    '  <!-- BEGIN TRACE -->',
    '  <script class="trace-data" type="application/text">',
    '{"traceEvents": [], "metadata": {}}',
    '  </script>',
    '  <script class="trace-data" type="application/text">',
    ...body,
    '  </script>',
    '<!-- END TRACE -->',
    '</body>',
    '</html>',
  ].join('\n');

  test('trace text read with original line numbers; JSON block reported once; HTML never unreadable', () => {
    const r = parse(html);
    assert.equal(r.info.events, 4);
    const [ev] = at(r.events, 17);
    assert.deepEqual([ev.comm, ev.pid, ev.name], ['atrace', 14662, 'sched_switch']);
    assert.equal(r.unreadable.length, 1);
    assert.equal(r.unreadable[0].src.line, 10);
    assert.match(r.unreadable[0].reason, /not ftrace text/);
    assert.equal(r.info.events + r.info.consumed + r.info.unreadable, r.info.lines);
  });

  test('JS string escapes are undone', () => {
    assert.deepEqual(decodeJsStringPart('a\\"b\\\\c\\x41\\u0042\\td\\n\\', true), { decoded: 'a"b\\cAB\td\n', closed: false });
    assert.deepEqual(decodeJsStringPart('last\\n";', true), { decoded: 'last\n', closed: true });
  });
});

describe('systrace: files in ../shared', { skip: sharedSkip('corpus/catapult/android_systrace.html') }, () => {
  test('android_systrace.html (31671 lines): every trace line is an event, nothing unreadable', () => {
    const text = readFileSync(join(SHARED, 'corpus/catapult/android_systrace.html'), 'utf8');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, 31479);
    assert.equal(r.info.events, eventLines(text));
    assert.equal(r.info.events + r.info.consumed, r.info.lines);
  });

  test('every catapult .html and android_systrace.txt: nothing unreadable', () => {
    for (const f of ['android_systrace.html', 'counter_tracks.html', 'trivial_systrace.html', 'android_systrace.txt']) {
      const text = readFileSync(join(SHARED, 'corpus/catapult', f), 'utf8');
      const r = parse(text, f);
      assert.equal(r.info.unreadable, 0, f);
      assert.equal(r.info.events, eventLines(text), f);
    }
  });
});
