/**
 * The report every output format is rendered from: inputs with their coverage
 * and counts, findings, and the run's verdict. Its JSON form is
 * schemas/report.schema.json.
 */
import type { AnalysisResult } from '../analyze';
import type { RangeCounts, SubscriberSummary } from '../engine/engine';
import type { LatencySummary } from '../engine/latency';
import { SEVERITY_RANK, type Finding, type KernelBasis, type Severity, type UnlistedFindings } from '../engine/types';
import { toolName, version } from '../version';

export type FailOn = Severity | 'never';

/** The kernel basis in words, for reports. */
export function describeKernel(k: KernelBasis): string {
  if (k.source === 'unknown') {
    return 'unknown (no --kernel, no uname.txt in a capture directory, no version in the trace): no kernel version is assumed, and verdicts that depend on it are at most likely; pass --kernel with the traced machine\'s `uname -r` to judge them fully';
  }
  return `${k.release} (${k.source === 'option' ? '--kernel' : 'uname.txt of the capture directory'})`;
}

export interface ReportInput {
  path: string;
  format: string;
  compression?: string;
  bytes?: number;
  lines: number;
  events: number;
  unreadableLines: number;
  /** `path`: the file the line is in (one part of a merged capture, or a capture directory's trace). */
  unreadable?: Array<{ path: string; line: number; reason: string; text: string }>;
  truncated?: boolean;
  /** Console lines that are not trace, around a console dump. */
  consoleLines?: number;
  lostEvents?: number;
  lostMarkers?: number;
  overwritten?: boolean;
  trace?: string;
  merged?: string[];
  bufferStats?: Array<{ cpu: number; overrun: number; dropped: number; entries?: number }>;
  entries?: { inBuffer: number; written: number };
  /** Fewer entries in the file than its header counted (lines cut or removed). */
  missingEntries?: { claimed: number; found: number };
  /** Compressed data corrupt or cut off: why the input stops early (what came before is in the report). */
  damaged?: string;
  /** The kernel version-dependent verdicts were judged for (release and source), or `unknown`. */
  kernel?: KernelBasis;
  /** Kprobe events printed with an address only whose names map to no probed function: --kprobe-events would map them. */
  unmappedKprobes?: string[];
  error?: string;
  ranges?: RangeCounts;
  /** Start-to-end latency of paired ranges (quantiles are log-bucket upper edges, within about 9%). */
  latency?: { byEventType: Record<string, LatencySummary>; byCaller: Record<string, LatencySummary> };
  subscribers?: SubscriberSummary[];
  cpus?: Array<{ cpu: number; machine?: string; first?: string; last?: string; events: number; lostMarkers: number; lostEvents: number }>;
  /** Findings beyond engine.maxFindingsPerRule: counted (in the summary too), not listed. */
  unlistedFindings?: UnlistedFindings[];
}

export interface Report {
  tool: { name: string; version: string };
  inputs: ReportInput[];
  summary: {
    ranges: RangeCounts;
    findings: Record<Severity, number>;
    failOn: FailOn;
    failed: boolean;
    /** With --require-ranges: the inputs read that hold no invalidation range at all (each fails the run). */
    withoutRanges?: string[];
  };
  findings: Finding[];
}

/** Where a finding happened, for people: `comm-pid [on machine] [cpu N] at timestamp`. */
export function findingWhere(f: Finding): string {
  return `${f.comm}-${f.pid}${f.machine !== undefined ? ` on ${f.machine}` : ''}${f.cpu !== undefined ? ` cpu ${f.cpu}` : ''} at ${f.timestamp}`;
}

/** The trace files an input's evidence points at: a merged capture's parts, a capture directory's trace, or the input itself. */
export function inputFiles(i: { path: string; merged?: readonly string[]; trace?: string }): readonly string[] {
  return i.merged ?? [i.trace ?? i.path];
}

/** Whether a finding's main evidence is in one of these files (an input's: inputFiles). */
export function findingIn(f: Finding, files: readonly string[]): boolean {
  const p = f.evidence[0]?.path;
  return p !== undefined && files.includes(p);
}

/** Whether a finding is of this input (its main evidence is in one of the input's files). */
export function findingOfInput(f: Finding, i: { path: string; merged?: readonly string[]; trace?: string }): boolean {
  return findingIn(f, inputFiles(i));
}

/** Does this finding fail the run at this threshold? Inconclusive findings never do. */
export function failsRun(f: Pick<Finding, 'severity' | 'confidence'>, failOn: FailOn): boolean {
  if (failOn === 'never' || f.confidence === 'inconclusive') return false;
  return SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn];
}

export function emptyCounts(): RangeCounts {
  return { starts: 0, paired: 0, open: 0, failedStarts: 0, orphanEnds: 0, endsAfterFailedStart: 0, nonBlockingStarts: 0, unmatchedReturns: 0, notKept: 0, startsByEventType: {} };
}

/** Add one input's range counts into a total: every count, and every per-type count (no list of fields to keep in step with the engine's). */
export function addCounts(into: RangeCounts, c: RangeCounts): void {
  const sum = into as unknown as Record<string, number | Record<string, number>>;
  for (const [k, v] of Object.entries(c) as Array<[string, number | Record<string, number>]>) {
    if (typeof v === 'number') {
      sum[k] = ((sum[k] as number | undefined) ?? 0) + v;
      continue;
    }
    const by = (sum[k] ??= {}) as Record<string, number>;
    for (const [t, n] of Object.entries(v)) by[t] = (by[t] ?? 0) + n;
  }
}

export function inputFromResult(r: AnalysisResult): ReportInput {
  return {
    ...r.input,
    unreadable: r.unreadable.map((u) => ({ path: u.src.file, line: u.src.line, reason: u.reason, text: u.text })),
    ranges: r.counts,
    latency: r.latency,
    subscribers: r.subscribers,
    ...(r.unlistedFindings.length ? { unlistedFindings: r.unlistedFindings } : {}),
    cpus: r.cpus.map((c) => ({
      cpu: c.cpu, ...(c.machine !== undefined ? { machine: c.machine } : {}), events: c.events, lostMarkers: c.lostMarkers, lostEvents: c.lostEvents,
      ...(c.first ? { first: c.first.raw } : {}), ...(c.last ? { last: c.last.raw } : {}),
    })),
  };
}

/**
 * `fails` decides for each listed finding (a baseline accepts some by
 * fingerprint); unlisted findings have no fingerprint and go by failsRun.
 * With `requireRanges` (--require-ranges, config `requireRanges`), an input
 * read whole that holds no invalidation range fails the run, as a capture
 * whose probes were off (or a trace of the wrong thing) would otherwise pass
 * as clean.
 */
export function buildReport(
  inputs: ReportInput[], findings: Finding[], failOn: FailOn, fails: (f: Finding) => boolean = (f) => failsRun(f, failOn),
  opts: { requireRanges?: boolean } = {},
): Report {
  const ranges = emptyCounts();
  for (const i of inputs) if (i.ranges) addCounts(ranges, i.ranges);
  const counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  for (const u of unlistedOf(inputs)) counts[u.severity] += u.count;
  const without = opts.requireRanges ? inputs.filter((i) => !i.error && !hasRanges(i)).map((i) => i.path) : [];
  const failed = findings.some(fails) || unlistedFailing(inputs, failOn) > 0 || without.length > 0;
  return {
    tool: { name: toolName, version },
    inputs,
    summary: { ranges, findings: counts, failOn, failed, ...(without.length > 0 ? { withoutRanges: without } : {}) },
    findings,
  };
}

/** Every input's unlisted findings. */
export function unlistedOf(inputs: readonly ReportInput[]): UnlistedFindings[] {
  return inputs.flatMap((i) => i.unlistedFindings ?? []);
}

/** How many of the inputs' unlisted findings fail the run at this threshold (no baseline accepts them: they have no fingerprint). */
export function unlistedFailing(inputs: readonly ReportInput[], failOn: FailOn): number {
  return unlistedOf(inputs).reduce((n, u) => n + (failsRun(u, failOn) ? u.count : 0), 0);
}

/** Whether an input holds any invalidation range (a start or an end of one). */
export function hasRanges(i: ReportInput): boolean {
  const r = i.ranges;
  return r !== undefined && r.starts + r.paired + r.orphanEnds + r.endsAfterFailedStart > 0;
}
