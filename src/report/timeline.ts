/**
 * Ranges for timelines (chrome-trace, HTML): a compact copy of each RangeRecord
 * the engine reconstructed, taken through AnalyzeOptions.onRange. Only kept
 * when a timeline format is asked for; the engine itself keeps none.
 */
import type { AnalysisResult, RangeOutcome } from '../analyze';
import type { LossWindow } from '../engine/coverage';
import type { RangeRecord } from '../engine/types';
import { taskKey, type Timestamp } from '../model/event';
import { parseTimestamp } from '../model/time';
import { inputFiles } from './report';
import { eventTypeName } from '../semantics/operations';

export interface TimelineRange {
  id: string;
  pid: number;
  /** In a report of several machines: the task's machine (its pid is that machine's). */
  machine?: string;
  tgid?: number;
  comm: string;
  cpu?: number;
  outcome: RangeOutcome;
  /** Microseconds (the trace clock, as printed), start and end; end absent when no end / return was seen. */
  startUs: number;
  endUs?: number;
  startTs: string;
  endTs?: string;
  startLine: number;
  /** The end's line; for a failed start, its return's line. */
  endLine?: number;
  returnLine?: number;
  file: string;
  eventType: string;
  flags?: number;
  blockable?: boolean;
  ret?: string;
  range: string;
  mm?: string;
  start?: string;
  end?: string;
  depth: number;
  caller?: string;
  callerBasis?: string;
  subscriberCalls: Array<{ role: 'start' | 'end'; subscriber: string; kind?: string; line: number; ts: string }>;
}

export interface TimelineInput {
  path: string;
  /** The trace files of the input (inputFiles): findings whose evidence is in them are this input's. */
  files: readonly string[];
  ranges: TimelineRange[];
  losses: Array<{ cpu?: number; machine?: string; fromUs?: number; toUs?: number; count?: number; why: LossWindow['why']; line: number }>;
  /** First and last timestamps of the capture (µs), when known. */
  firstUs?: number;
  lastUs?: number;
  /** Task (taskKey: pid, or machine and pid) -> tgid, as far as events showed it. */
  tgids: Map<number | string, number>;
  /** Ranges left out because of the cap. */
  dropped: number;
}

export function tsToUs(ts: Timestamp): number {
  return ts.sec * 1e6 + ts.nsec / 1e3;
}

export function rawToUs(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const t = parseTimestamp(raw);
  return t ? tsToUs(t) : undefined;
}

export function compactRange(r: RangeRecord, outcome: RangeOutcome): TimelineRange {
  const s = r.start;
  const endOp = outcome === 'failed' ? r.startReturn : r.end;
  const a = s.args;
  const calls: TimelineRange['subscriberCalls'] = [
    ...r.subscriberStarts.map((o) => ({ role: 'start' as const, subscriber: o.subscriber ?? '?', ...(o.subscriberKind ? { kind: o.subscriberKind } : {}), line: o.ev.src.line, ts: o.ev.ts.raw })),
    ...r.subscriberEnds.map((o) => ({ role: 'end' as const, subscriber: o.subscriber ?? '?', ...(o.subscriberKind ? { kind: o.subscriberKind } : {}), line: o.ev.src.line, ts: o.ev.ts.raw })),
  ];
  return {
    id: r.id,
    pid: r.pid,
    ...(s.ev.machine !== undefined ? { machine: s.ev.machine } : {}),
    ...(s.ev.tgid !== undefined ? { tgid: s.ev.tgid } : {}),
    comm: r.comm,
    ...(s.ev.cpu !== undefined ? { cpu: s.ev.cpu } : {}),
    outcome,
    startUs: tsToUs(s.ev.ts),
    ...(endOp ? { endUs: tsToUs(endOp.ev.ts), endTs: endOp.ev.ts.raw, endLine: endOp.ev.src.line } : {}),
    startTs: s.ev.ts.raw,
    startLine: s.ev.src.line,
    ...(r.startReturn ? { returnLine: r.startReturn.ev.src.line } : {}),
    ...(r.startReturn?.ret !== undefined ? { ret: String(r.startReturn.ret) } : {}),
    file: s.ev.src.file,
    eventType: eventTypeName(a.event) ?? 'unknown event type',
    ...(a.flags !== undefined ? { flags: a.flags } : {}),
    ...(s.blockable !== undefined ? { blockable: s.blockable } : {}),
    range: r.key,
    ...(a.mm !== undefined ? { mm: a.mm } : {}),
    ...(a.start !== undefined ? { start: a.start } : {}),
    ...(a.end !== undefined ? { end: a.end } : {}),
    depth: r.depth,
    ...(r.caller?.caller ? { caller: r.caller.caller } : r.startReturn?.returnSite ? { caller: r.startReturn.returnSite } : {}),
    ...(r.caller ? { callerBasis: r.caller.basis } : {}),
    subscriberCalls: calls,
  };
}

/**
 * A collector to pass as AnalyzeOptions.onRange. `limit` caps the ranges kept
 * (the rest are counted in `dropped`): problem ranges are always kept.
 */
export function rangeCollector(limit = Infinity): { onRange: (r: RangeRecord, o: RangeOutcome) => void; ranges: TimelineRange[]; tgids: Map<number | string, number>; dropped: () => number } {
  const ranges: TimelineRange[] = [];
  const tgids = new Map<number | string, number>();
  let dropped = 0;
  let paired = 0;
  const byId = new Map<string, number>();
  return {
    ranges,
    tgids,
    dropped: () => dropped,
    onRange(r, outcome) {
      if (r.start.ev.tgid !== undefined) tgids.set(taskKey(r.pid, r.start.ev.machine), r.start.ev.tgid);
      if (outcome === 'end-after-failed') {
        // The same range was passed as `failed` at its return: replace that entry.
        const at = byId.get(r.id);
        if (at !== undefined) {
          ranges[at] = compactRange(r, outcome);
          return;
        }
      }
      if (outcome === 'paired') {
        if (paired >= limit) {
          dropped++;
          return;
        }
        paired++;
      }
      if (outcome === 'failed') byId.set(r.id, ranges.length);
      ranges.push(compactRange(r, outcome));
    },
  };
}

export function timelineInput(result: AnalysisResult, c: ReturnType<typeof rangeCollector>): TimelineInput {
  let firstUs: number | undefined;
  let lastUs: number | undefined;
  for (const cpu of result.cpus) {
    if (cpu.first) firstUs = Math.min(firstUs ?? Infinity, tsToUs(cpu.first));
    if (cpu.last) lastUs = Math.max(lastUs ?? -Infinity, tsToUs(cpu.last));
  }
  for (const r of c.ranges) {
    firstUs = Math.min(firstUs ?? Infinity, r.startUs);
    lastUs = Math.max(lastUs ?? -Infinity, r.endUs ?? r.startUs);
  }
  return {
    path: result.input.path,
    files: inputFiles(result.input),
    ranges: c.ranges,
    losses: result.losses.map((w: LossWindow) => ({
      ...(w.cpu !== undefined ? { cpu: w.cpu } : {}),
      ...(w.machine !== undefined ? { machine: w.machine } : {}),
      ...(w.from ? { fromUs: tsToUs(w.from) } : {}),
      ...(w.to ? { toUs: tsToUs(w.to) } : {}),
      ...(w.count !== undefined ? { count: w.count } : {}),
      why: w.why,
      line: w.line,
    })),
    ...(firstUs !== undefined && Number.isFinite(firstUs) ? { firstUs } : {}),
    ...(lastUs !== undefined && Number.isFinite(lastUs) ? { lastUs } : {}),
    tgids: c.tgids,
    dropped: c.dropped(),
  };
}
