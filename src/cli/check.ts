import type { Command } from 'commander';
import { analyzeMerged, analyzeTrace, kernelInfo, readKprobeEventsFile, reportedInputName } from '../analyze';
import { ruleMetas, rules } from '../../rules';
import { ConfigError, loadConfig, ruleSeverity } from '../config/config';
import { DEFAULT_MAX_FINDINGS_PER_RULE } from '../engine/engine';
import type { Finding, UnlistedFindings } from '../engine/types';
import { COMPRESSIONS, InputError } from '../io/source';
import { applyBaseline, BaselineError, failsWithBaseline, readBaseline, writeBaseline, type BaselineSplit } from '../report/baseline';
import { renderChromeTrace } from '../report/chrome-trace';
import { renderHtml } from '../report/html';
import { jsonReport, renderJson } from '../report/json';
import { renderJunit } from '../report/junit';
import { createProgress } from './progress';
import { buildReport, inputFromResult, type FailOn, type ReportInput } from '../report/report';
import { renderSarif } from '../report/sarif';
import { colorWanted, makeStyle } from '../report/style';
import { renderText } from '../report/text';
import { termText } from '../report/terminal';
import { rangeCollector, timelineInput, type TimelineInput } from '../report/timeline';
import { cannotWrite, ensureWritable, EXIT, parseCsvColumns, reportUnreadable, UsageError, writeOutput } from './common';

interface CheckOptions {
  format: string;
  output?: string;
  failOn: string;
  config?: string;
  kprobeEvents?: string;
  inputFormat?: string;
  csvColumns?: string;
  merge?: boolean;
  follow?: boolean;
  kernel?: string;
  requireRanges?: boolean;
  showUnreadable?: boolean;
  color?: boolean;
  quiet?: boolean;
  baseline?: string;
  writeBaseline?: string;
  threads?: string;
}

const FORMATS = ['text', 'json', 'sarif', 'junit', 'chrome-trace', 'html'];
/** Timeline formats keep the reconstructed ranges: at most this many paired ones per input (problem ranges are always kept). */
const RANGE_LIMIT: Record<string, number> = { html: 50_000, 'chrome-trace': 500_000 };
const FAIL_ON = ['error', 'warning', 'info', 'never'];

const CHECK_HELP = `
Inputs:
  ftrace text (trace, trace_pipe, per_cpu/cpuN/trace), trace-cmd report, perf script,
  function_graph, Android atrace/systrace, CSV; the format is detected (--input-format
  names it). Compressed files are read as they are, recognised by their magic bytes (on
  stdin too): ${COMPRESSIONS.join(', ')}. A directory made by the capture script
  (mntrace probes --format script) is read with its kprobe_events, buffer stats and uname.

Examples:
  mntrace check trace.txt.gz
  cat /sys/kernel/tracing/trace_pipe | mntrace check --follow -
  mntrace check --merge per_cpu/cpu*/trace
  mntrace check --kprobe-events kprobe_events.txt trace-cmd-report.txt
  mntrace check --format sarif -o mntrace.sarif --fail-on warning traces/*.txt.zst
  mntrace check --format html -o report.html --fail-on never mycapture

Exit codes:
  0  no finding at or above --fail-on (inconclusive findings never count)
  1  a finding at or above --fail-on
  2  usage or input error: bad option or config, a file that cannot be read, is empty,
     holds no event or only a trace-cmd summary, or compressed data cut off or corrupt
`;

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('pair every invalidation range and report what the kernel\'s rules forbid')
    .argument('<files...>', `trace files or capture directories (each analysed on its own); - reads stdin; ${COMPRESSIONS.join(', ')} are decompressed`)
    .option('-f, --format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--fail-on <severity>', 'exit 1 when a finding (not inconclusive) is at or above: error, warning, info, never', 'error')
    .option('-c, --config <file>', 'JSON config: event mappings, field names, rule severities and options')
    .option('--kprobe-events <file>', 'the kprobe_events used for the capture (maps address-only kprobes, as in trace-cmd report and perf script)')
    .option('--input-format <name>', 'skip format detection')
    .option('--follow', 'live input (e.g. - fed from trace_pipe): print each finding as soon as it is known (a range open longer than engine.likelyAfterMs while its task runs on is reported then), the summary at end of input or Ctrl-C')
    .option('--merge', 'the files are parts of one capture (per_cpu/cpuN/trace): merge them by timestamp into one analysis')
    .option('--csv-columns <map>', 'CSV column names for ts,cpu,pid,tid,comm,event,args when an export differs, e.g. ts=timestamp_ns,event=name')
    .option('--require-ranges', 'fail the run (exit 1) when an input holds no invalidation range at all: the probes were off, or the trace is of something else (config: requireRanges)')
    .option('--kernel <release>', 'the traced kernel (`uname -r`, e.g. 6.1.0-56-amd64): rules whose verdict depends on the version use it (a capture directory\'s uname.txt is read by default)')
    .option('--threads <n>', 'threads to use: 1 reads and parses on one thread; 2 (the default with two or more cores) reads and scans files of 16 MiB or more on a second thread (same results)')
    .option('--show-unreadable', 'list every unreadable line on stderr')
    .option('--no-color', 'no colour in text output (NO_COLOR is honoured too)')
    .option('-q, --quiet', 'no summary on stderr for non-text formats, no progress bar')
    .option('--baseline <file>', 'findings accepted earlier (by fingerprint, as --write-baseline wrote them) are reported as known and do not fail the run')
    .option('--write-baseline <file>', 'record every finding of this run as accepted, in <file>; the run then exits 0 unless an input could not be read')
    .addHelpText('after', CHECK_HELP)
    .action(async (files: string[], opts: CheckOptions) => {
      process.exitCode = await runCheck(files, opts);
    });
}

export async function runCheck(files: string[], opts: CheckOptions): Promise<number> {
  if (!FORMATS.includes(opts.format)) throw new UsageError(`unknown --format '${opts.format}': expected one of ${FORMATS.join(', ')}`);
  if (!FAIL_ON.includes(opts.failOn)) throw new UsageError(`unknown --fail-on '${opts.failOn}': expected one of ${FAIL_ON.join(', ')}`);
  let config;
  try {
    config = opts.config ? loadConfig(opts.config) : undefined;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const csvColumns = parseCsvColumns(opts.csvColumns);
  let threads: number | undefined;
  if (opts.threads !== undefined) {
    threads = Number(opts.threads);
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads: expected a whole number of 1 or more, got '${opts.threads}'`);
  }
  const kprobeEvents = opts.kprobeEvents ? readKprobeEventsFile(opts.kprobeEvents) : undefined;
  if (opts.kernel !== undefined) {
    try {
      kernelInfo(opts.kernel);
    } catch (err) {
      throw new UsageError(`--kernel: ${(err as Error).message}`);
    }
  }
  let baseline;
  try {
    baseline = opts.baseline ? readBaseline(opts.baseline) : undefined;
  } catch (err) {
    if (err instanceof BaselineError) throw new UsageError(err.message);
    throw err;
  }
  // Output paths are checked before the inputs are read: a big trace takes minutes.
  if (opts.output) ensureWritable(opts.output, '--output');
  if (opts.writeBaseline) ensureWritable(opts.writeBaseline, '--write-baseline');
  const failOn = opts.failOn as FailOn;
  const rangeLimit = RANGE_LIMIT[opts.format];
  const inputs: ReportInput[] = [];
  const timelines: Array<TimelineInput | undefined> = [];
  const findings: Finding[] = [];
  let inputErrors = 0;
  // --follow: findings go out as they are made; Ctrl-C ends the input and still prints the summary.
  const follow = new AbortController();
  const onSigint = () => {
    process.stderr.write('\nmntrace: stopped; summarising what was read\n');
    follow.abort();
  };
  const printLive = (f: Finding) => {
    const line = opts.format === 'json' ? JSON.stringify(f) : termText(`${f.severity} [${f.confidence}] ${f.ruleId}: ${f.comm}-${f.pid} at ${f.timestamp}: ${f.message} (${f.evidence.map((e) => `${e.path}:${e.line}`).join(', ')})`);
    process.stdout.write(line + '\n');
  };
  const liveUnlisted = followUnlisted(opts.format === 'json' ? process.stderr : process.stdout, config?.engine?.maxFindingsPerRule ?? DEFAULT_MAX_FINDINGS_PER_RULE);
  if (opts.follow) process.once('SIGINT', onSigint);
  // An input error is said once where the user reads it: in the text report on stdout, else on stderr (beside a report for tools or a file).
  const sayInputError = opts.format === 'text' && !opts.output ? () => {} : (msg: string) => process.stderr.write(`mntrace: ${termText(msg)}\n`);
  // --merge: all files are one capture (per-CPU files), analysed as one input.
  const groups: string[][] = opts.merge ? [files] : files.map((f) => [f]);
  for (const group of groups) {
    const file = group[0];
    const progress = group.length === 1 ? createProgress(file, { quiet: opts.quiet, color: colorWanted(process.stderr, opts.color) }) : undefined;
    const collector = rangeLimit !== undefined ? rangeCollector(rangeLimit) : undefined;
    try {
      const analyzeOpts = {
        config, kprobeEvents, inputFormat: opts.inputFormat, csvColumns, kernel: opts.kernel, threads, onProgress: progress?.onProgress, onRange: collector?.onRange,
        ...(opts.follow ? { live: true, signal: follow.signal, onFinding: printLive, onUnlisted: liveUnlisted.count } : {}),
      };
      const result = group.length > 1 ? await analyzeMerged(group, analyzeOpts) : await analyzeTrace(file, analyzeOpts);
      progress?.done();
      inputs.push(inputFromResult(result));
      for (const f of result.findings) findings.push(f);
      if (collector) {
        const tl = timelineInput(result, collector);
        if (tl.dropped && !opts.quiet) process.stderr.write(`mntrace: ${termText(result.input.path)}: ${tl.dropped} paired ranges left out of the ${opts.format} timeline (at most ${rangeLimit} are kept; problem ranges always are)\n`);
        timelines.push(tl);
      }
      if (opts.showUnreadable) reportUnreadable(result.unreadable, true);
      if (result.input.damaged !== undefined) {
        // Analysed up to the damage, and still an input error: the file was not read whole.
        inputErrors++;
        sayInputError(`${result.input.damaged}; the lines before it were analysed`);
      }
    } catch (err) {
      progress?.done();
      if (!(err instanceof InputError)) throw err;
      inputErrors++;
      sayInputError(err.message);
      inputs.push({ path: reportedInputName(group), ...(group.length > 1 ? { merged: group } : {}), format: 'unknown', lines: 0, events: 0, unreadableLines: 0, error: err.message });
      timelines.push(undefined);
    }
  }
  process.off('SIGINT', onSigint);
  liveUnlisted.stop();
  // A baseline being written accepts every finding of this run.
  let split: BaselineSplit | undefined;
  if (opts.writeBaseline) {
    try {
      split = applyBaseline(findings, writeBaseline(opts.writeBaseline, findings));
    } catch (err) {
      throw cannotWrite('--write-baseline', opts.writeBaseline, err);
    }
  } else if (baseline) split = applyBaseline(findings, baseline);
  const known = split?.known;
  /** The baseline file the run was compared with (written or read), with how the findings split on it. */
  const compared = split ? { path: opts.writeBaseline ?? (opts.baseline as string), split } : undefined;
  const rangesRequired = opts.requireRanges === true || config?.requireRanges === true;
  const report = buildReport(inputs, findings, failOn, (f) => failsWithBaseline(f, failOn, known), { requireRanges: rangesRequired });
  let text: string;
  switch (opts.format) {
    // --follow with JSON: the findings went out as JSON lines; the report is the last line.
    case 'json': text = opts.follow ? JSON.stringify(jsonReport(report, compared)) + '\n' : renderJson(report, compared); break;
    case 'sarif': text = renderSarif(report, { known, rules: ruleMetas }); break;
    case 'junit': text = renderJunit(report, { known, rules: ruleMetas, disabled: new Set(rules.filter((r) => !ruleSeverity(r.meta.id, config)).map((r) => r.meta.id)) }); break;
    case 'chrome-trace': text = renderChromeTrace(report, timelines.filter((t): t is TimelineInput => !!t)); break;
    case 'html': text = renderHtml(report, timelines, { known, rules: ruleMetas }); break;
    default: {
      const st = makeStyle(!opts.output && colorWanted(process.stdout, opts.color));
      if (!compared) {
        text = renderText(report, st, ruleMetas);
        break;
      }
      // Known findings are listed briefly after the new ones; the verdict counts only the new ones.
      const shown = buildReport(inputs, compared.split.newFindings, failOn, undefined, { requireRanges: rangesRequired });
      text = renderText(shown, st, ruleMetas);
      text += termText(baselineText(compared.split, compared.path, !!opts.writeBaseline));
    }
  }
  if (opts.output) writeOutput(opts.output, text, '--output');
  else process.stdout.write(text);
  if (opts.format !== 'text' && !opts.quiet) {
    const s = report.summary;
    process.stderr.write(`mntrace: ${inputs.length} input(s), ${s.ranges.paired} ranges paired, ${s.findings.error} error / ${s.findings.warning} warning / ${s.findings.info} info findings` +
      `${split ? ` (${split.knownFindings.length} known from the baseline)` : ''}${opts.output ? ` -> ${termText(opts.output)}` : ''}\n`);
  }
  if (opts.writeBaseline && !opts.quiet) process.stderr.write(`mntrace: wrote a baseline of ${split?.known.size ?? 0} finding(s) to ${termText(opts.writeBaseline)}\n`);
  if (inputErrors) return EXIT.usage;
  return report.summary.failed ? EXIT.findings : EXIT.clean;
}

function baselineText(split: BaselineSplit, file: string, written: boolean): string {
  const out: string[] = [''];
  out.push(written
    ? `baseline ${file}: written; its ${split.knownFindings.length} finding(s) are accepted from now on`
    : `baseline ${file}: ${split.knownFindings.length} known finding(s) accepted, ${split.newFindings.length} new${split.absent.length ? `, ${split.absent.length} accepted finding(s) no longer found` : ''}`);
  for (const f of split.knownFindings) out.push(`  known ${f.ruleId} [${f.confidence}] ${f.evidence[0]?.path}:${f.evidence[0]?.line} ${f.comm}-${f.pid}`);
  return out.join('\n') + '\n';
}

/** Under --follow, at most this often a line says that findings past the per-rule limit go on. */
const UNLISTED_EVERY_MS = 10_000;

/**
 * --follow prints each finding as it is made, up to the per-rule limit; past
 * it findings are only counted. So that live output does not go quiet while
 * problems continue, a count line goes out at the first finding past the
 * limit, then every UNLISTED_EVERY_MS while the count grows (a line per
 * finding or per thousand would flood the output at millions of findings),
 * and at the end of the input.
 */
function followUnlisted(out: NodeJS.WritableStream, limit: number): { count: (u: Readonly<UnlistedFindings>) => void; stop: () => void } {
  const byRule = new Map<string, number>();
  let total = 0;
  let said = 0;
  const say = () => {
    if (total === said) return;
    said = total;
    const rules = [...byRule].map(([id, n]) => `${id} ${n}`).join(', ');
    out.write(`mntrace: findings go on: ${total} more not printed (over ${limit} per rule: ${rules}); all are counted in the summary\n`);
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    count: (u) => {
      byRule.set(u.ruleId, (byRule.get(u.ruleId) ?? 0) + 1);
      total++;
      timer ??= setInterval(say, UNLISTED_EVERY_MS).unref();
      if (total === 1) say();
    },
    stop: () => {
      if (timer) clearInterval(timer);
      say();
    },
  };
}
