/**
 * The library entry point: analyse one trace input end to end
 * (source -> parser -> semantics -> engine -> rules -> findings).
 */
import { readSmallFile } from './util/small-file';
import { resolve } from 'node:path';
import { inputName, type TraceRecord, type UnreadableRecord } from './model/event';
import { readMerged } from './io/merge';
import { readTrace, type ReadResult } from './io/read-trace';
import type { SourceInfo } from './io/source';
import { DamagedInputError, InputError } from './io/source';
import { isDirectory, readCaptureDir, type CpuBufferStats } from './io/capture-dir';
import { Engine, type RangeCounts, type RangeOutcome, type SubscriberSummary } from './engine/engine';
import type { CpuCoverage, LossWindow } from './engine/coverage';
import type { Finding, RangeRecord, UnlistedFindings } from './engine/types';
import type { LatencySummary } from './engine/latency';
import { Semantics, type SemanticsOptions } from './semantics';
import { workerThreadsWanted, type ParallelOptions } from './io/worker-source';
import { parseKprobeEvents, type KprobeDefinition } from './semantics/kprobe-events';
import { rules } from '../rules';
import { explainTracer, explainUnrecognised } from '../parsers/detect';
import { ruleOptions, ruleSeverity, type Config } from './config/config';
import { parseKernelVersion } from './probes/kernel-version';
import type { KernelBasis, KernelInfo } from './engine/types';

export interface AnalyzeOptions {
  config?: Config & { baseDir?: string };
  /** Contents of /sys/kernel/tracing/kprobe_events from the capture (for address-only formats). */
  kprobeEvents?: KprobeDefinition[];
  inputFormat?: string;
  /** CSV: the file's header names for the column roles (`--csv-columns`), when not the defaults. */
  csvColumns?: Readonly<Record<string, string>>;
  /** Keep at most this many unreadable lines' text (all are counted). */
  keepUnreadable?: number;
  onFinding?: (f: Finding) => void;
  /** Each finding past engine.maxFindingsPerRule, with its running count (see EngineOptions.onUnlisted). */
  onUnlisted?: (u: Readonly<UnlistedFindings>) => void;
  onProgress?: (info: SourceInfo) => void;
  /** The kernel release the trace was captured on (`uname -r`, e.g. `6.1.0-56-amd64`): rules whose verdict depends on it use it. */
  kernel?: string;
  /**
   * Opt-in: every reconstructed range as its outcome becomes known (for timelines).
   * A failed start whose end came anyway is passed twice: `failed`, then `end-after-failed` with `end` set.
   * The engine keeps no ranges itself; whatever the caller keeps is the caller's memory.
   */
  onRange?: (range: RangeRecord, outcome: RangeOutcome) => void;
  /** Live input (`--follow`): report ranges left open as soon as they are overdue (see EngineOptions.live). */
  live?: boolean;
  /** Stop reading early (Ctrl-C): what was read so far is analysed and summarised. */
  signal?: AbortSignal;
  /**
   * Threads to use: 1 reads and parses on this thread only; 2 (the default
   * on a machine with two or more cores) reads and scans big files on a
   * worker thread. The results are the same either way.
   */
  threads?: number;
  /** Tuning and tests: when the worker thread is used (by default for files of 16 MiB and more), its chunk size and share. */
  parallel?: Omit<ParallelOptions, 'spec'>;
}

export type { RangeOutcome };

export interface InputSummary {
  path: string;
  format: string;
  compression: string;
  bytes: number;
  lines: number;
  events: number;
  unreadableLines: number;
  truncated: boolean;
  lostEvents: number;
  lostMarkers: number;
  orphanStacks: number;
  continuationLines: number;
  /** Console lines that are not trace, around a console dump (ftrace-dump input). */
  consoleLines?: number;
  /** The ring buffer overwrote older events (header entries-in-buffer < entries-written). */
  overwritten: boolean;
  /** Ring-buffer stats saved with a capture directory (per CPU overrun and dropped events). */
  bufferStats?: CpuBufferStats[];
  /** The trace file read, when the input was a capture directory. */
  trace?: string;
  /** The files merged by timestamp into this one input (per-CPU files). */
  merged?: string[];
  entries?: { inBuffer: number; written: number };
  /** The input holds fewer entries than its header counted: lines were cut or removed after the capture. */
  missingEntries?: { claimed: number; found: number };
  /**
   * The compressed data is corrupt or cut off: why the input stops early.
   * What came before was analysed; `check` still exits 2 (the input was not read whole).
   */
  damaged?: string;
  /** The kernel the version-dependent verdicts were judged for, and where that came from. */
  kernel: KernelBasis;
  /** Kprobe events printed with an address only whose names map to no probed function (see Semantics.unmappedKprobes). */
  unmappedKprobes?: string[];
}

export interface AnalysisResult {
  input: InputSummary;
  unreadable: UnreadableRecord[];
  counts: RangeCounts;
  subscribers: SubscriberSummary[];
  cpus: CpuCoverage[];
  losses: LossWindow[];
  latency: { byEventType: Record<string, LatencySummary>; byCaller: Record<string, LatencySummary> };
  findings: Finding[];
  /** Findings beyond engine.maxFindingsPerRule: counted, not kept. */
  unlistedFindings: UnlistedFindings[];
}

/** A kprobe_events file larger than this is not one (--kprobe-events /dev/zero). */
const KPROBE_EVENTS_MAX_BYTES = 16 << 20;

export function readKprobeEventsFile(path: string): KprobeDefinition[] {
  let text: string;
  try {
    text = readSmallFile(path, KPROBE_EVENTS_MAX_BYTES);
  } catch (err) {
    throw new InputError(`cannot read kprobe definitions ${path}: ${(err as Error).message}`);
  }
  const { definitions, errors } = parseKprobeEvents(text);
  if (errors.length) {
    throw new InputError(`${path}:${errors[0].line}: not a kprobe_events line: ${JSON.stringify(errors[0].text)}`);
  }
  return definitions;
}

/** `--kernel` text to the rules' KernelInfo; throws KernelVersionError on text that is not a release. */
export function kernelInfo(release: string): KernelInfo {
  const v = parseKernelVersion(release);
  return { version: v.raw, major: v.major, minor: v.minor, patch: v.patch };
}

export function analyzeTrace(path: string, opts: AnalyzeOptions = {}): Promise<AnalysisResult> {
  return analyze(path, opts, undefined);
}

/**
 * How an input is named in reports, evidence and errors: a file as given
 * (`<stdin>` for `-`), a merged capture by its parts, or the first and how many more.
 */
export function reportedInputName(paths: readonly string[]): string {
  const names = paths.map(inputName);
  return names.length <= 4 ? names.join(' + ') : `${names[0]} + ${names.length - 1} more`;
}

/**
 * Several files that are one capture (per-CPU `per_cpu/cpuN/trace` files, or
 * per-CPU reports): merged by timestamp into one analysis. A part whose
 * compressed data is cut off or corrupt is merged up to the damage (`damaged`
 * says so), and the rest of it counts as missing data to the end of the capture.
 */
export function analyzeMerged(paths: string[], opts: AnalyzeOptions = {}): Promise<AnalysisResult> {
  return analyze(paths[0], opts, paths);
}

async function analyze(path: string, opts: AnalyzeOptions, merged: string[] | undefined): Promise<AnalysisResult> {
  const cfg = opts.config;
  const kprobeDefinitions = [...(opts.kprobeEvents ?? [])];
  if (cfg?.kprobeEvents) kprobeDefinitions.push(...readKprobeEventsFile(resolve(cfg.baseDir ?? '.', cfg.kprobeEvents)));
  // A capture directory (mntrace probes --format script): its trace, kprobe definitions, buffer stats and kernel release.
  const capture = !merged && isDirectory(path) ? readCaptureDir(path) : undefined;
  if (capture) kprobeDefinitions.push(...capture.kprobeDefinitions);
  const tracePath = capture?.trace ?? path;
  const release = opts.kernel ?? capture?.kernelRelease;
  let kernel: KernelInfo | undefined;
  try {
    kernel = release !== undefined ? kernelInfo(release) : undefined;
  } catch (err) {
    throw new InputError(`${opts.kernel !== undefined ? '--kernel' : `${path}/uname.txt`}: ${(err as Error).message}`);
  }
  const semanticsOptions: SemanticsOptions = { kprobeDefinitions, events: cfg?.events, fields: cfg?.fields };
  const semantics = new Semantics(undefined, semanticsOptions);
  const engine = new Engine({
    semantics,
    likelyAfterNs: (cfg?.engine?.likelyAfterMs ?? 1000) * 1e6,
    maxFindingsPerRule: cfg?.engine?.maxFindingsPerRule,
    onFinding: opts.onFinding,
    onUnlisted: opts.onUnlisted,
    live: opts.live,
    kernel,
    onRange: opts.onRange,
  });
  for (const rule of rules) {
    const severity = ruleSeverity(rule.meta.id, cfg);
    if (!severity) continue;
    const setting = cfg?.rules?.[rule.meta.id];
    const options = ruleOptions(rule.meta.id, typeof setting === 'object' ? setting.options : undefined);
    engine.addRule(rule.meta.id, severity, options, (ctx) => rule.create(ctx), rule.meta);
  }
  if (capture) engine.bufferStats(capture.stats);
  const unreadable: UnreadableRecord[] = [];
  const keep = opts.keepUnreadable ?? 1000;
  // The tracer a `# tracer:` header names, and whether any event the engine checks came (only those reach onRecord in full).
  let tracer: string | undefined;
  let checkedEvents = false;
  let recordedStats: CpuBufferStats[] | undefined;
  const onRecord = (r: TraceRecord) => {
    if (r.kind === 'unreadable' && unreadable.length < keep) unreadable.push(r);
    else if (r.kind === 'event') checkedEvents = true;
    else if (r.kind === 'header') {
      if (r.tracer !== undefined) tracer ??= r.tracer;
      // A trace.dat's per-CPU ring-buffer statistics: as a capture directory's (before the first event).
      if (r.bufferStats !== undefined && !capture) {
        engine.bufferStats(r.bufferStats);
        recordedStats = [...(recordedStats ?? []), ...r.bufferStats];
      }
    }
    engine.push(r);
  };
  let damaged: string | undefined;
  const readOne = () => readTrace(tracePath, onRecord, {
    format: opts.inputFormat,
    csvColumns: opts.csvColumns,
    onProgress: opts.onProgress,
    filter: engine.filter,
    signal: opts.signal,
    live: opts.live,
    ...(workerThreadsWanted(opts.threads)
      ? { parallel: { ...opts.parallel, spec: { semantics: semanticsOptions, roles: [...engine.neededRoles] } } }
      : {}),
  }).catch((err: unknown) => {
    // Compressed data cut off or corrupt: the lines before the damage are analysed, and the input says why it stops there.
    if (!(err instanceof DamagedInputError) || err.partial === undefined) throw err;
    damaged = err.message;
    return err.partial;
  });
  let read: ReadResult;
  let parts: ReadResult[] = [];
  if (merged) {
    const m = await readMerged(merged, onRecord, { format: opts.inputFormat, csvColumns: opts.csvColumns, onProgress: opts.onProgress });
    damaged = m.damaged;
    read = m;
    parts = m.parts;
  } else read = await readOne();
  const name = reportedInputName(merged ?? [path]);
  // The whole input, and each part of a merged one (a part holding a summary or no event at all is not a CPU's share of the capture).
  if (damaged === undefined) {
    acceptInput(read, name, unreadable, { live: opts.live, tracer, checkedEvents });
    for (const p of parts) {
      const part = inputName(p.path);
      acceptInput(p, part, unreadable.filter((u) => u.src.file === part), { live: opts.live });
    }
  }
  engine.finish();
  const cov = engine.coverage;
  return {
    input: {
      // The name its evidence and errors give it (`<stdin>` for `-`), so a report's input and its findings agree.
      path: name,
      format: read.format,
      ...(merged ? { merged } : {}),
      compression: read.source.compression,
      bytes: read.source.bytesRead,
      lines: read.info.lines,
      events: read.info.events,
      unreadableLines: read.info.unreadable,
      truncated: read.info.truncated,
      lostEvents: read.info.lostEvents,
      lostMarkers: read.info.lostMarkers,
      orphanStacks: read.info.orphanStacks,
      continuationLines: read.info.continuationLines,
      ...(read.info.consoleLines !== undefined ? { consoleLines: read.info.consoleLines } : {}),
      overwritten: cov.overwritten || ((capture?.stats ?? recordedStats)?.some((st) => st.overrun > 0) ?? false),
      ...(capture ? { trace: capture.trace, bufferStats: capture.stats } : recordedStats ? { bufferStats: recordedStats } : {}),
      ...(cov.entriesInBuffer !== undefined && cov.entriesWritten !== undefined
        ? { entries: { inBuffer: cov.entriesInBuffer, written: cov.entriesWritten } }
        : {}),
      ...(cov.missingEntries ? { missingEntries: { ...cov.missingEntries } } : {}),
      ...(damaged !== undefined ? { damaged } : {}),
      kernel: kernel ? { release: kernel.version, source: opts.kernel !== undefined ? 'option' : 'uname.txt' } : { source: 'unknown' },
      ...(semantics.unmappedKprobes.size ? { unmappedKprobes: [...semantics.unmappedKprobes] } : {}),
    },
    unreadable,
    counts: engine.counts,
    subscribers: engine.subscriberSummaries(),
    cpus: cov.cpus,
    losses: cov.losses,
    latency: { byEventType: engine.latencyByEventType.summaries(), byCaller: engine.latencyByCaller.summaries() },
    findings: engine.findings,
    unlistedFindings: [...engine.unlisted.values()],
  };
}

/**
 * Whether what was read is a trace to judge, else the input error saying what
 * it is instead (every input goes through here, each part of a merged one too):
 * - no line at all: a capture that was never written (a failed redirect, a copy cut short), not a clean one;
 *   following a quiet trace_pipe and stopping (`live`) is another matter;
 * - a latency or noise tracer's output (hwlat, osnoise, timerlat, wakeup, irqsoff, ...: `tracer`, the
 *   `# tracer:` header's) with no event the engine checks (`checkedEvents`): said what it is;
 * - not one event, only lines its parser could not read: the wrong file, a format taken for another,
 *   or event lines without their context columns (explainUnrecognised names what they are);
 * - not one event, only a tool's summary (trace-cmd's --profile, -w, --stat): the events were never printed.
 * Judging any of these would report "no findings" on a trace that was never read.
 */
export function acceptInput(
  read: Pick<ReadResult, 'format' | 'info'>, name: string, unreadable: readonly UnreadableRecord[],
  opts: { live?: boolean; tracer?: string; checkedEvents?: boolean } = {},
): void {
  const { info } = read;
  if (info.lines === 0 && !opts.live) {
    throw new InputError(`${name} is empty: there is no line to check (was the capture written to another file, or copied before it was written?)`);
  }
  if (opts.tracer !== undefined && opts.checkedEvents === false) {
    const what = explainTracer(opts.tracer, name);
    if (what !== undefined) throw new InputError(what);
  }
  if (info.events > 0) return;
  if (info.unreadable > 0) {
    const what = explainUnrecognised(unreadable.map((u) => u.text), name);
    if (what !== undefined) throw new InputError(`${name} is ${what}`);
    const u = unreadable[0];
    const first = u ? `; the first, line ${u.src.line}: ${JSON.stringify(u.text.slice(0, 120))}` : '';
    throw new InputError(
      `${name}: no event could be read from it as ${read.format} (${info.unreadable} of its ${info.lines} lines unreadable${first}): ` +
        'is it a trace? If it is, --input-format names its format',
    );
  }
  if (info.summaryOf !== undefined) {
    throw new InputError(
      `${name} holds no events: ${info.summaryLines} of its ${info.lines} lines are ${info.summaryOf}. ` +
        'Check the events themselves: what `trace-cmd report -i trace.dat` prints without that option',
    );
  }
}
