import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { analyzeTrace, readKprobeEventsFile } from '../analyze';
import { ConfigError, loadConfig } from '../config/config';
import type { Finding } from '../engine/types';
import { InputError } from '../io/source';
import { renderJson } from '../report/json';
import { buildReport, inputFromResult, type FailOn, type ReportInput } from '../report/report';
import { colorWanted, makeStyle } from '../report/style';
import { renderText } from '../report/text';
import { EXIT, reportUnreadable, UsageError } from './common';

interface CheckOptions {
  format: string;
  output?: string;
  failOn: string;
  config?: string;
  kprobeEvents?: string;
  inputFormat?: string;
  showUnreadable?: boolean;
  color?: boolean;
  quiet?: boolean;
}

const FORMATS = ['text', 'json'];
const FAIL_ON = ['error', 'warning', 'info', 'never'];

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('pair every invalidation range and report what the kernel\'s rules forbid')
    .argument('<files...>', 'trace files (each analysed on its own); - reads stdin; .gz is recognised')
    .option('-f, --format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--fail-on <severity>', 'exit 1 when a finding (not inconclusive) is at or above: error, warning, info, never', 'error')
    .option('-c, --config <file>', 'JSON config: event mappings, field names, rule severities and options')
    .option('--kprobe-events <file>', 'the kprobe_events used for the capture (maps address-only kprobes, as in trace-cmd report and perf script)')
    .option('--input-format <name>', 'skip format detection')
    .option('--show-unreadable', 'list every unreadable line on stderr')
    .option('--no-color', 'no colour in text output (NO_COLOR is honoured too)')
    .option('-q, --quiet', 'no summary on stderr when writing JSON')
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
  const kprobeEvents = opts.kprobeEvents ? readKprobeEventsFile(opts.kprobeEvents) : undefined;
  const inputs: ReportInput[] = [];
  const findings: Finding[] = [];
  let inputErrors = 0;
  for (const file of files) {
    try {
      const result = await analyzeTrace(file, { config, kprobeEvents, inputFormat: opts.inputFormat });
      inputs.push(inputFromResult(result));
      findings.push(...result.findings);
      if (opts.showUnreadable) reportUnreadable(result.unreadable, true);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      inputErrors++;
      process.stderr.write(`mntrace: ${err.message}\n`);
      inputs.push({ path: file, format: 'unknown', lines: 0, events: 0, unreadableLines: 0, error: err.message });
    }
  }
  const report = buildReport(inputs, findings, opts.failOn as FailOn);
  const text = opts.format === 'json'
    ? renderJson(report)
    : renderText(report, makeStyle(!opts.output && colorWanted(process.stdout, opts.color)));
  if (opts.output) writeFileSync(opts.output, text);
  else process.stdout.write(text);
  if (opts.format !== 'text' && !opts.quiet) {
    const s = report.summary;
    process.stderr.write(`mntrace: ${inputs.length} input(s), ${s.ranges.paired} ranges paired, ${s.findings.error} error / ${s.findings.warning} warning / ${s.findings.info} info findings\n`);
  }
  if (inputErrors) return EXIT.usage;
  return report.summary.failed ? EXIT.findings : EXIT.clean;
}
