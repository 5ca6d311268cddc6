/**
 * Traces pasted into mail and bug reports (fixtures/pasted, built from the
 * real 6.1 baseline lines and perf-tools' function_graph example; README
 * there): quoted, wrapped, CRLF, the latency layout of PREEMPT_RT kernels
 * with and without its header, a function_graph excerpt without its columns.
 * Each is detected without --input-format and gives the events of the text it
 * was made from.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectFormat } from '../parsers/detect';
import { FtraceParser } from '../parsers/ftrace';
import { FuncGraphParser } from '../parsers/funcgraph';
import { pastedView, unquote } from '../parsers/pasted';
import { readTrace } from '../src/io/read-trace';
import type { TraceEvent, TraceRecord, UnreadableRecord } from '../src/model/event';
import { FIX, fixture, parseWith } from './parse-helpers';

const original = fixture('real/baseline.trace.lines-25911-26110.txt').split('\n').slice(0, 60).join('\n') + '\n';
const originalEvents = parseWith((o) => new FtraceParser(o), original, 'orig').events;

async function read(rel: string) {
  const records: TraceRecord[] = [];
  const result = await readTrace(join(FIX, rel), (r) => records.push(r));
  return {
    result,
    events: records.filter((r): r is TraceEvent => r.kind === 'event'),
    unreadable: records.filter((r): r is UnreadableRecord => r.kind === 'unreadable'),
  };
}

const key = (e: TraceEvent) => [e.comm, e.pid, e.cpu, e.name, e.ts.sec, e.ts.nsec, e.probe, e.fields, e.ctx?.irqsOff, e.ctx?.preemptDepth, e.ctx?.migrateDisable];

function sameEvents(got: TraceEvent[], want: TraceEvent[]): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.deepEqual(key(got[i]), key(want[i]), `event ${i} (line ${got[i].src.line})`);
}

describe('pasted traces', () => {
  it('quoted twice in a mail reply (`> > `, `>>`): the trace events, the prose unreadable with its lines', async () => {
    const { result, events, unreadable } = await read('pasted/quoted-reply.txt');
    assert.equal(result.format, 'pasted ftrace');
    sameEvents(events, originalEvents.slice(0, 40));
    // Quoted lines keep their own line numbers: the trace starts on line 5.
    assert.equal(events[0].src.line, 5);
    // The prose around the trace is unreadable, with its line numbers: a line without the event columns continues only a
    // trace_marker write, so the reply after the trace is not glued into the last event's payload.
    assert.deepEqual(unreadable.map((u) => u.src.line), [1, 2, 3, 46, 48]);
  });

  for (const f of ['quoted-wrapped-crlf.txt', 'wrapped-76.txt']) {
    it(`${f}: wrapped event lines are joined back, and read as the original lines`, async () => {
      const { result, events, unreadable } = await read(`pasted/${f}`);
      assert.equal(result.format, 'pasted ftrace');
      assert.equal(unreadable.length, 0);
      sameEvents(events, originalEvents.slice(0, 40));
      const lines = readFileSync(join(FIX, 'pasted', f), 'utf8').trimEnd().split('\n').length;
      assert.equal(result.info.lines, lines);
      assert.equal(result.info.continuationLines, lines - 40);
    });
  }

  it('a plain trace, or one whose lines are longer than a mail client wraps, is not taken for pasted text', () => {
    assert.equal(detectFormat(original.split('\n'))?.name, 'ftrace');
    const marker = fixture('real/baseline.trace.lines-25911-26110.txt').split('\n').slice(0, 20);
    marker.splice(5, 0, '        kvmnotif-147     [001] .....     6.665800: tracing_mark_write: KVMNOTIF step=munmap', 'second line of the marker');
    assert.equal(pastedView(marker).wrapped, false);
    assert.equal(detectFormat(marker)?.name, 'ftrace');
  });

  it('unquote drops every quote level, with or without spaces', () => {
    assert.deepEqual(['> a', '>> a', '> > a', '>a', '   > a', 'a > b', '    > a'].map(unquote), ['a', 'a', 'a', 'a', 'a', 'a > b', '    > a']);
  });

  it('the latency layout of a PREEMPT_RT kernel (7 flag columns after the CPU, µs), with its header and as a bare excerpt', async () => {
    for (const [f, from, to] of [['latency-rt.txt', 0, 60], ['latency-rt-excerpt.txt', 10, 40]] as const) {
      const { result, events, unreadable } = await read(`pasted/${f}`);
      assert.equal(result.format, 'ftrace', f);
      assert.equal(unreadable.length, 0, f);
      sameEvents(events, originalEvents.slice(from, to));
      assert.equal(events[0].ctx?.raw.length, 7);
    }
  });

  it('a function_graph excerpt without its CPU and duration columns: the calls of the original, in order, nested alike', async () => {
    const { result, events, unreadable } = await read('pasted/funcgraph-bare.txt');
    assert.equal(result.format, 'function_graph');
    assert.equal(unreadable.length, 0);
    const orig = fixture('corpus/perf-tools/funcgraph_do_nanosleep.txt').split('\n').slice(0, 60).join('\n') + '\n';
    const want = parseWith((o) => new FuncGraphParser(o), orig, 'orig').events;
    // Depths relative to the first call: the excerpt keeps the indentation, not the column it started in.
    const rel = (es: TraceEvent[]) => es.map((e) => [e.name, e.fields.func, Number(e.fields.depth) - Number(es[0].fields.depth)]);
    assert.deepEqual(rel(events), rel(want));
  });
});
