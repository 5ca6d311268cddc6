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
import { findingIn, type Report } from './report';
import { taskKey } from '../model/event';
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
/**
 * In a report of several machines (host and guest), each machine's pids are
 * offset by this much (PID_MAX_LIMIT): host pid 318 and guest pid 318 are two tasks.
 */
const MACHINE_PID_SPACE = 4_194_304;
/** With several inputs, each input's pids are offset by this much so that tasks of different captures never merge (room for 8 machines each). */
const INPUT_PID_STRIDE = 8 * MACHINE_PID_SPACE;

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

/** What a loss window of the capture is, for its slice's name. */
function lossName(w: TimelineInput['losses'][number]): string {
  switch (w.why) {
    case 'lost-events': return `events lost${w.count !== undefined ? ` (${w.count})` : ''}`;
    case 'buffer-started': return 'buffer started: earlier events not captured';
    case 'overwritten': return 'ring buffer overwrote older events';
    case 'missing-entries': return `${w.count} entries the header counted are not in the file (cut or removed lines)`;
    case 'part-cut': return 'a part of the merged capture stops here (compressed data cut off or corrupt)';
    case 'unreadable-line': return `unreadable line${w.count !== undefined && w.count > 1 ? `s (${w.count} in a row)` : ''}`;
    case 'ranges-not-kept': return 'open ranges past the limit kept (counted only)';
  }
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
  /** Threads of the capture coverage process (one per CPU), and their names. */
  const coverageThreads = new Map<number, string>();
  let anyLoss = false;

  timelines.forEach((tl, idx) => {
    const offset = multi ? idx * INPUT_PID_STRIDE : 0;
    const label = multi ? ` [${tl.path}]` : '';
    // The first machine's pids are shown as they are; each other machine's in a pid space of its own.
    const machines = new Map<string, number>();
    const space = (machine: string | undefined): number => {
      if (machine === undefined) return offset;
      let m = machines.get(machine);
      if (m === undefined) machines.set(machine, (m = machines.size));
      return offset + m * MACHINE_PID_SPACE;
    };
    const tidOf = (pid: number, machine: string | undefined) => pid + space(machine);
    const tgidOf = (pid: number, machine: string | undefined) => tl.tgids.get(taskKey(pid, machine)) ?? pid;
    const procOf = (pid: number, machine: string | undefined) => tgidOf(pid, machine) + space(machine);
    const threads = new Map<number, { pid: number; comm: string; machine?: string }>(); // by tid
    const procNames = new Map<number, string>();
    const noteTask = (pid: number, comm: string, machine: string | undefined) => {
      const tid = tidOf(pid, machine);
      const known = threads.get(tid);
      if (known === undefined || known.comm === '<...>') threads.set(tid, { pid, comm, machine });
      const proc = procOf(pid, machine);
      const tgid = tgidOf(pid, machine);
      const on = machine !== undefined ? ` on ${machine}` : '';
      if (tgid === pid || !procNames.has(proc)) procNames.set(proc, tgid === pid ? `${comm} (${pid})${on}` : `tgid ${tgid}${on}`);
    };

    // Paired ranges are X slices when they nest on their thread; a partial overlap goes async.
    const byTask = new Map<number, TimelineRange[]>(); // by tid
    for (const r of tl.ranges) {
      noteTask(r.pid, r.comm, r.machine);
      if (r.outcome === 'paired' && r.endUs !== undefined) {
        const tid = tidOf(r.pid, r.machine);
        const list = byTask.get(tid) ?? [];
        list.push(r);
        byTask.set(tid, list);
      } else {
        const end = r.endUs ?? tl.lastUs ?? r.startUs;
        const common = { cat: `mmu_notifier,${r.outcome}`, id: `${idx}:${r.id}`, pid: procOf(r.pid, r.machine), tid: tidOf(r.pid, r.machine) };
        events.push({ ...common, name: asyncName(r), ph: 'b', ts: us(r.startUs), args: rangeArgs(r) });
        events.push({ ...common, name: asyncName(r), ph: 'e', ts: us(Math.max(end, r.startUs)), args: r.endUs === undefined ? { note: 'no end was captured: drawn to the end of the capture' } : {} });
      }
    }
    for (const [tid, list] of byTask) {
      const proc = procOf(list[0].pid, list[0].machine);
      list.sort((a, b) => a.startUs - b.startUs || (b.endUs as number) - (a.endUs as number));
      const stack: number[] = [];
      for (const r of list) {
        const end = r.endUs as number;
        while (stack.length && stack[stack.length - 1] <= r.startUs) stack.pop();
        if (stack.length && end > stack[stack.length - 1]) {
          const common = { cat: 'mmu_notifier,overlapping', id: `${idx}:${r.id}`, pid: proc, tid };
          events.push({ ...common, name: asyncName(r), ph: 'b', ts: us(r.startUs), args: { ...rangeArgs(r), note: 'overlaps another range of this task without nesting in it' } });
          events.push({ ...common, name: asyncName(r), ph: 'e', ts: us(end) });
          continue;
        }
        stack.push(end);
        events.push({ name: r.eventType, cat: 'mmu_notifier', ph: 'X', ts: us(r.startUs), dur: us(Math.max(0, end - r.startUs)), pid: proc, tid, args: rangeArgs(r) });
      }
    }

    for (const f of findings) {
      if (!findingIn(f, tl.files)) continue;
      noteTask(f.pid, f.comm, f.machine);
      const ts = rawToUs(f.timestamp);
      if (ts === undefined) continue;
      events.push({
        name: `${f.ruleId}: ${f.severity}`,
        cat: `finding,${f.ruleId}`,
        ph: 'i',
        s: 't',
        ts: us(ts),
        pid: procOf(f.pid, f.machine),
        tid: tidOf(f.pid, f.machine),
        args: {
          message: f.message, severity: f.severity, confidence: f.confidence, timestamp: f.timestamp,
          evidence: f.evidence.map((e) => `${e.path}:${e.line} ${e.role ?? ''} ${e.text ?? ''}`.trim()),
        },
      });
    }

    for (const w of tl.losses) {
      anyLoss = true;
      const cpu = w.cpu ?? -1;
      const tid = cpu + 1 + space(w.machine);
      coverageThreads.set(tid, cpu < 0 ? 'unknown CPU' : `CPU ${cpu}${w.machine !== undefined ? ` of ${w.machine}` : ''}${label}`);
      const from = w.fromUs ?? tl.firstUs;
      const to = w.toUs ?? tl.lastUs ?? from;
      const name = lossName(w);
      const args = { why: w.why, line: w.line, ...(w.count !== undefined ? { count: w.count } : {}), ...(w.cpu !== undefined ? { cpu: w.cpu } : {}), ...(w.machine !== undefined ? { machine: w.machine } : {}), input: tl.path };
      if (from !== undefined && to !== undefined) {
        events.push({ name, cat: 'coverage', ph: 'X', ts: us(from), dur: us(Math.max(0, to - from)), pid: COVERAGE_PID, tid, args });
      }
      const at = w.toUs ?? w.fromUs ?? tl.firstUs;
      if (at !== undefined) events.push({ name, cat: 'coverage', ph: 'i', s: 'g', ts: us(at), pid: COVERAGE_PID, tid, args });
    }

    for (const [tid, t] of threads) {
      meta.push({ name: 'thread_name', ph: 'M', pid: procOf(t.pid, t.machine), tid, args: { name: `${t.comm}-${t.pid}${t.machine !== undefined ? ` (${t.machine})` : ''}${label}` } });
    }
    for (const [proc, name] of procNames) {
      meta.push({ name: 'process_name', ph: 'M', pid: proc, args: { name: `${name}${label}` } });
    }
  });

  if (anyLoss) {
    meta.push({ name: 'process_name', ph: 'M', pid: COVERAGE_PID, args: { name: 'capture coverage (mntrace)' } });
    meta.push({ name: 'process_sort_index', ph: 'M', pid: COVERAGE_PID, args: { sort_index: -1 } });
    for (const [tid, name] of coverageThreads) meta.push({ name: 'thread_name', ph: 'M', pid: COVERAGE_PID, tid, args: { name } });
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
