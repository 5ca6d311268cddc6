/**
 * Trace Event Format JSON (the Chrome trace format ui.perfetto.dev and
 * chrome://tracing open): one process per thread group (tgid when the capture
 * recorded it, else each task is its own process), one thread per task, with
 * `M` metadata events naming them. Paired ranges are complete `X` slices named
 * by event type; open, failed, ended-after-failed and overlapping ranges are
 * async `b`/`e` slices; findings are thread-scoped instant events; windows
 * where the capture lost events are slices on a "capture coverage" process,
 * one thread per CPU, plus a global instant at each loss marker.
 *
 * Timestamps are the trace clock in microseconds, as the format requires.
 */
import { SEVERITY_RANK, type Finding } from '../engine/types';
import { findingOfInput, type Report } from './report';
import { rawToUs, type TimelineInput, type TimelineRange } from './timeline';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'b' | 'e' | 'i' | 'M';
  ts?: number;
  dur?: number;
  pid: number;
  tid?: number;
  cat?: string;
  id?: string;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

/** Process id of the synthetic "capture coverage" process (lost-event windows). */
export const COVERAGE_PID = 2147483646;
/** With several inputs, each input's pids are offset by this much so that tasks of different captures never merge. */
const INPUT_PID_STRIDE = 10_000_000;

const us = (x: number) => Math.round(x * 1000) / 1000;

function rangeArgs(r: TimelineRange): Record<string, unknown> {
  return {
    outcome: r.outcome,
    range: r.range,
    ...(r.flags !== undefined ? { flags: r.flags } : {}),
    ...(r.blockable !== undefined ? { blockable: r.blockable } : {}),
    ...(r.mm !== undefined ? { mm: r.mm } : {}),
    ...(r.start !== undefined ? { start: r.start, end: r.end } : {}),
    ...(r.ret !== undefined ? { ret: r.ret } : {}),
    ...(r.caller ? { caller: r.caller } : {}),
    ...(r.callerBasis ? { callerBasis: r.callerBasis } : {}),
    subscriberCalls: r.subscriberCalls.map((c) => `${c.role} ${c.kind ? c.kind + ' ' : ''}${c.subscriber} (line ${c.line})`),
    lines: `${r.file}:${r.startLine}${r.returnLine !== undefined ? ` ret ${r.returnLine}` : ''}${r.endLine !== undefined && r.outcome !== 'failed' ? ` end ${r.endLine}` : ''}`,
    startTs: r.startTs,
    ...(r.endTs ? { endTs: r.endTs } : {}),
    depth: r.depth,
  };
}

function asyncName(r: TimelineRange): string {
  switch (r.outcome) {
    case 'open': return `${r.eventType} (no end captured)`;
    case 'failed': return `${r.eventType} (start failed${r.ret !== undefined ? `, ret=${r.ret}` : ''})`;
    case 'end-after-failed': return `${r.eventType} (ended after a failed start)`;
    default: return `${r.eventType} (overlapping)`;
  }
}

/** The events for a set of inputs (timelines) and findings. */
export function chromeTraceEvents(timelines: readonly TimelineInput[], findings: readonly Finding[]): TraceEvent[] {
  const meta: TraceEvent[] = [];
  const events: TraceEvent[] = [];
  const multi = timelines.length > 1;
  const coverageThreads = new Set<number>();
  let anyLoss = false;

  timelines.forEach((tl, idx) => {
    const offset = multi ? idx * INPUT_PID_STRIDE : 0;
    const label = multi ? ` [${tl.path}]` : '';
    const procOf = (pid: number) => (tl.tgids.get(pid) ?? pid) + offset;
    const threads = new Map<number, string>(); // pid -> comm
    const procNames = new Map<number, string>();
    const noteTask = (pid: number, comm: string) => {
      if (!threads.has(pid) || threads.get(pid) === '<...>') threads.set(pid, comm);
      const proc = procOf(pid);
      const tgid = tl.tgids.get(pid) ?? pid;
      if (tgid === pid || !procNames.has(proc)) procNames.set(proc, tgid === pid ? `${comm} (${pid})` : `tgid ${tgid}`);
    };

    // Paired ranges are X slices when they nest on their thread; a partial overlap goes async.
    const byTask = new Map<number, TimelineRange[]>();
    for (const r of tl.ranges) {
      noteTask(r.pid, r.comm);
      if (r.outcome === 'paired' && r.endUs !== undefined) {
        const list = byTask.get(r.pid) ?? [];
        list.push(r);
        byTask.set(r.pid, list);
      } else {
        const end = r.endUs ?? tl.lastUs ?? r.startUs;
        const common = { cat: `mmu_notifier,${r.outcome}`, id: `${idx}:${r.id}`, pid: procOf(r.pid), tid: r.pid + offset };
        events.push({ ...common, name: asyncName(r), ph: 'b', ts: us(r.startUs), args: rangeArgs(r) });
        events.push({ ...common, name: asyncName(r), ph: 'e', ts: us(Math.max(end, r.startUs)), args: r.endUs === undefined ? { note: 'no end was captured: drawn to the end of the capture' } : {} });
      }
    }
    for (const [pid, list] of byTask) {
      list.sort((a, b) => a.startUs - b.startUs || (b.endUs as number) - (a.endUs as number));
      const stack: number[] = [];
      for (const r of list) {
        const end = r.endUs as number;
        while (stack.length && stack[stack.length - 1] <= r.startUs) stack.pop();
        if (stack.length && end > stack[stack.length - 1]) {
          const common = { cat: 'mmu_notifier,overlapping', id: `${idx}:${r.id}`, pid: procOf(pid), tid: pid + offset };
          events.push({ ...common, name: asyncName(r), ph: 'b', ts: us(r.startUs), args: { ...rangeArgs(r), note: 'overlaps another range of this task without nesting in it' } });
          events.push({ ...common, name: asyncName(r), ph: 'e', ts: us(end) });
          continue;
        }
        stack.push(end);
        events.push({ name: r.eventType, cat: 'mmu_notifier', ph: 'X', ts: us(r.startUs), dur: us(Math.max(0, end - r.startUs)), pid: procOf(pid), tid: pid + offset, args: rangeArgs(r) });
      }
    }

    for (const f of findings) {
      if (!findingOfInput(f, { path: tl.path, merged: tl.files })) continue;
      noteTask(f.pid, f.comm);
      const ts = rawToUs(f.timestamp);
      if (ts === undefined) continue;
      events.push({
        name: `${f.ruleId}: ${f.severity}`,
        cat: `finding,${f.ruleId}`,
        ph: 'i',
        s: 't',
        ts: us(ts),
        pid: procOf(f.pid),
        tid: f.pid + offset,
        args: {
          message: f.message, severity: f.severity, confidence: f.confidence, timestamp: f.timestamp,
          evidence: f.evidence.map((e) => `${e.path}:${e.line} ${e.role ?? ''} ${e.text ?? ''}`.trim()),
        },
      });
    }

    for (const w of tl.losses) {
      anyLoss = true;
      const cpu = w.cpu ?? -1;
      const tid = cpu + 1 + offset;
      coverageThreads.add(tid);
      const from = w.fromUs ?? tl.firstUs;
      const to = w.toUs ?? tl.lastUs ?? from;
      const name = w.why === 'lost-events' ? `events lost${w.count !== undefined ? ` (${w.count})` : ''}` : w.why === 'buffer-started' ? 'buffer started: earlier events not captured' : w.why === 'overwritten' ? 'ring buffer overwrote older events'
        : w.why === 'missing-entries' ? `${w.count} entries the header counted are not in the file (cut or removed lines)`
        : w.why === 'part-cut' ? 'a part of the merged capture stops here (compressed data cut off or corrupt)' : 'unreadable line';
      const args = { why: w.why, line: w.line, ...(w.count !== undefined ? { count: w.count } : {}), ...(w.cpu !== undefined ? { cpu: w.cpu } : {}), input: tl.path };
      if (from !== undefined && to !== undefined) {
        events.push({ name, cat: 'coverage', ph: 'X', ts: us(from), dur: us(Math.max(0, to - from)), pid: COVERAGE_PID, tid, args });
      }
      const at = w.toUs ?? w.fromUs ?? tl.firstUs;
      if (at !== undefined) events.push({ name, cat: 'coverage', ph: 'i', s: 'g', ts: us(at), pid: COVERAGE_PID, tid, args });
    }

    for (const [pid, comm] of threads) {
      meta.push({ name: 'thread_name', ph: 'M', pid: procOf(pid), tid: pid + offset, args: { name: `${comm}-${pid}${label}` } });
    }
    for (const [proc, name] of procNames) {
      meta.push({ name: 'process_name', ph: 'M', pid: proc, args: { name: `${name}${label}` } });
    }
  });

  if (anyLoss) {
    meta.push({ name: 'process_name', ph: 'M', pid: COVERAGE_PID, args: { name: 'capture coverage (mntrace)' } });
    meta.push({ name: 'process_sort_index', ph: 'M', pid: COVERAGE_PID, args: { sort_index: -1 } });
    for (const tid of coverageThreads) {
      const cpu = (tid % INPUT_PID_STRIDE) - 1;
      meta.push({ name: 'thread_name', ph: 'M', pid: COVERAGE_PID, tid, args: { name: cpu < 0 ? 'unknown CPU' : `CPU ${cpu}` } });
    }
  }
  // A stable sort: events at the same time keep their order (a `b` before its `e`, a parent X before its children).
  events.sort((a, b) => (a.ts as number) - (b.ts as number));
  return [...meta, ...events];
}

/** `mntrace check --format chrome-trace`: one JSON object, one event per line. */
export function renderChromeTrace(report: Report, timelines: readonly TimelineInput[]): string {
  const events = chromeTraceEvents(timelines, report.findings);
  const worst = report.findings.reduce((m, f) => Math.max(m, SEVERITY_RANK[f.severity]), -1);
  const other = {
    tool: `${report.tool.name} ${report.tool.version}`,
    inputs: report.inputs.map((i) => i.path),
    findings: report.findings.length,
    worstSeverity: worst < 0 ? 'none' : (['info', 'warning', 'error'] as const)[worst],
    rangesLeftOut: timelines.reduce((n, t) => n + t.dropped, 0),
  };
  return `{"displayTimeUnit":"ns","otherData":${JSON.stringify(other)},"traceEvents":[\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`;
}
