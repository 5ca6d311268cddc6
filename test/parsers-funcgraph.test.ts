import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TraceEvent, TraceRecord, UnreadableRecord } from '../src/model/event';
import { FuncGraphParser } from '../parsers/funcgraph';
import { timestampNs } from '../src/model/time';
import { at, fixture, FIX, parseWith, SHARED, sharedSkip } from './parse-helpers';

function parse(text: string, file = 'graph.txt') {
  const r = parseWith((o) => new FuncGraphParser(o), text, file);
  return { ...r, };
}
const brief = (e: TraceEvent) => [e.name, e.fields.func, e.fields.depth, e.fields.duration_ns];
/** Lines of function_graph output that are graph records: `func() {` one event, `func();` two, `}` one. */
function expectedEvents(text: string): number {
  let n = 0;
  for (const l of text.split('\n')) {
    if (/\(.*\);\s*$/.test(l)) n += 2;
    else if (/\(.*\)\s*\{\s*$/.test(l) || /\|\s*\}|\)\s+\}/.test(l)) n += 1;
  }
  return n;
}

describe('function_graph: real perf-tools output', () => {
  test('entries, leaves and exits: func, depth, duration (CPU column, no timestamps)', () => {
    const text = fixture('corpus/perf-tools/funcgraph_do_sys_open.txt');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, expectedEvents(text));
    assert.deepEqual(brief(at(r.events, 1)[0]), ['funcgraph_entry', 'do_sys_open', '0', undefined]);
    assert.deepEqual(at(r.events, 3).map(brief), [
      ['funcgraph_entry', 'getname_flags', '2', undefined],
      ['funcgraph_exit', 'getname_flags', '2', '296'],
    ]);
    assert.deepEqual(brief(at(r.events, 4)[0]), ['funcgraph_exit', 'getname', '1', '768']);
    // the closing brace of the outermost call knows its function from the nesting
    const [last] = at(r.events, 22);
    assert.deepEqual(brief(last), ['funcgraph_exit', 'do_sys_open', '0', '10777']);
    assert.deepEqual([last.cpu, last.pid, last.comm, last.payload], [0, -1, '', '10.777 us   |  }']);
  });

  test('no timestamps: a synthetic clock (raw empty) that only increases and spans each duration', () => {
    const r = parse(fixture('corpus/perf-tools/funcgraph_do_sys_open.txt'));
    assert.ok(r.events.every((e) => e.ts.raw === '' && e.ts.unit === 'seconds'));
    for (let i = 1; i < r.events.length; i++) assert.ok(timestampNs(r.events[i].ts) >= timestampNs(r.events[i - 1].ts));
    const entry = at(r.events, 1)[0];
    const exit = at(r.events, 22)[0];
    assert.ok(timestampNs(exit.ts) - timestampNs(entry.ts) >= 10777n);
  });

  test('abstime column: timestamps as printed; a leaf exit is entry + duration (computed, raw empty)', () => {
    const text = fixture('corpus/perf-tools/funcgraph_cpuonly_abstime.txt');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, expectedEvents(text));
    const [entry] = at(r.events, 1);
    assert.deepEqual(entry.ts, { raw: '7338520.591816', sec: 7338520, nsec: 591816000, unit: 'seconds' });
    assert.deepEqual(brief(entry), ['funcgraph_entry', 'finish_task_switch', '6', undefined]);
    const [leafIn, leafOut] = at(r.events, 4);
    assert.equal(leafIn.ts.raw, '7338520.591821');
    assert.deepEqual(leafOut.ts, { raw: '', sec: 7338520, nsec: 591821134, unit: 'seconds' });
    assert.deepEqual(brief(at(r.events, 5)[0]), ['funcgraph_exit', 'irq_enter', '8', '823']);
  });

  test('# tracer: function_graph header with TIME column', () => {
    const text = fixture('corpus/perf-tools/funcgraph_abstime_headers.lines-1-200.txt');
    const r = parse(text);
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, expectedEvents(text));
    assert.deepEqual(r.records[0], { kind: 'header', tracer: 'function_graph', src: { file: 'graph.txt', line: 1 } });
    assert.equal(r.info.consumed, 4);
  });

  test('proc column + abstime + overhead marks + funcgraph-tail comments', () => {
    const r = parse(fixture('corpus/perf-tools/funcslower_proc_abstime.txt'));
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, 7);
    const [ev] = at(r.events, 1);
    assert.deepEqual([ev.ts.raw, ev.cpu, ev.pid, ev.comm], ['2678112.003180', 0, 26695, 'cksum']);
    assert.deepEqual(brief(ev), ['funcgraph_exit', 'ext3_readpages', '0', '8145268']);
    assert.equal(ev.payload, '! 8145.268 us |  } /* ext3_readpages */');
    assert.equal(at(r.events, 5)[0].fields.duration_ns, '12234700');
  });

  test('context-switch separators give the task; durations over a second', () => {
    const r = parse(fixture('corpus/perf-tools/funcslower_ctxswitch.txt'));
    assert.equal(r.info.unreadable, 0);
    assert.deepEqual(r.events.map((e) => [e.src.line, e.pid, e.comm, e.fields.duration_ns]), [
      [1, -1, '', '2000147000'],
      [6, 27419, 'vmstat', '1000143000'],
      [7, 27419, 'vmstat', '1000154000'],
      [12, 27414, 'registe', '2000183000'],
      [17, 27419, 'vmstat', '1000141000'],
    ]);
    const n = parse(fixture('corpus/perf-tools/funcgraph_do_nanosleep.txt'));
    assert.equal(n.info.unreadable, 0);
    assert.deepEqual([at(n.events, 104)[0].pid, at(n.events, 109)[0].pid, at(n.events, 109)[0].comm], [-1, 2854, 'vmstat']);
    assert.deepEqual(brief(at(n.events, 89)[0]), ['funcgraph_exit', 'load_TLS_descriptor', '4', '1583']);
  });

  test('max_graph_depth output with misaligned 7-digit durations', () => {
    const r = parse(fixture('corpus/perf-tools/funcgraph_maxdepth_bigdur.txt'));
    assert.equal(r.info.unreadable, 0);
    assert.deepEqual(brief(at(r.events, 7)[0]), ['funcgraph_exit', '__schedule', '2', '1000131000']);
    assert.deepEqual(brief(at(r.events, 13)[0]), ['funcgraph_exit', 'do_nanosleep', '0', '1000154000']);
    assert.equal(at(r.events, 13)[0].cpu, 1);
  });

  test('funcgraph-duration off (nodur): depth from the indentation, exits still know their function', () => {
    const r = parse(fixture('corpus/perf-tools/funcgraph_nodur.txt'));
    assert.equal(r.info.unreadable, 0);
    assert.equal(r.info.events, 26);
    assert.deepEqual(brief(at(r.events, 2)[0]), ['funcgraph_entry', 'getname', '1', undefined]);
    assert.deepEqual(at(r.events, 3).map(brief), [
      ['funcgraph_entry', 'getname_flags', '2', undefined],
      ['funcgraph_exit', 'getname_flags', '2', undefined],
    ]);
    assert.deepEqual(brief(at(r.events, 19)[0]), ['funcgraph_exit', 'do_sys_open', '0', undefined]);
  });

  test('an event printed inside the graph becomes that event; a broken line is unreadable', () => {
    const lines = fixture('corpus/perf-tools/funcgraph_do_sys_open.txt').split('\n');
    // a kprobe hit as the function_graph tracer prints it (payload from the real baseline.trace.txt line 25919)
    lines.splice(2, 0, ' 0)               |      /* mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff4d4553c041bb88 flags=1 event=1 */');
    lines.splice(5, 0, ' 0)   0.296 us    |      getname_flags(;');
    const r = parse(lines.join('\n'), 'broken.txt');
    const [probe] = at(r.events, 3);
    assert.equal(probe.name, 'mn_inv_start');
    assert.equal(probe.probe?.symbol, '__mmu_notifier_invalidate_range_start');
    assert.equal(probe.fields.range, '0xff4d4553c041bb88');
    assert.equal(r.info.unreadable, 1);
    assert.equal(r.unreadable[0].src.line, 6);
  });
});

describe('function_graph: files in ../shared', { skip: sharedSkip('corpus/perf-tools') }, () => {
  test('every funcgraph_* and funcslower_* file: nothing unreadable', () => {
    const dir = join(SHARED, 'corpus/perf-tools');
    for (const f of readdirSync(dir).filter((n) => /^func(graph|slower)_/.test(n))) {
      const text = readFileSync(join(dir, f), 'utf8');
      const r = parse(text, f);
      assert.equal(r.info.unreadable, 0, f);
      assert.equal(r.info.events, expectedEvents(text), f);
    }
  });
});
