/** `mntrace probes`: print the probes and capture commands for a kernel. */
import { chmodSync } from 'node:fs';
import type { Command } from 'commander';
import { BtfError } from '../btf/reader';
import { DEFAULT_BUFFER_KB, generateProbes, KernelVersionError, ProbeOptionError, renderProbes } from '../probes';
import { ARCHES, FORMATS, SYNTAXES, type OutputFormat } from '../probes/types';
import { cannotWrite, UsageError, writeOutput } from './common';

export interface ProbesCommandOptions {
  kernel?: string;
  btf?: string;
  arch?: string;
  syntax?: string;
  format?: string;
  output?: string;
  bufferKb?: string;
  quiet?: boolean;
}

const EXAMPLES = `
Examples:
  mntrace probes                                   kprobe_events lines for this machine's kernel
  mntrace probes --kernel 6.1.0-56-amd64           for another kernel (the version tables)
  mntrace probes --btf /sys/kernel/btf/vmlinux     offsets and enum values from the kernel's BTF
  mntrace probes --format script -o capture.sh     a capture script; then: sudo sh capture.sh -- ./workload
  mntrace probes --format trace-cmd -- ./workload  trace-cmd commands
  mntrace probes --format perf-probe               perf probe / perf record commands
  mntrace probes --syntax btf --kernel 6.12        fprobes with BTF names (range->start), about 6.5+

Version boundaries in the tables are approximate ("about 6.3"); --btf reads the truth from the kernel.
See docs/capture.md.`;

function usage(message: string): never {
  process.exitCode = 2;
  throw new UsageError(`probes: ${message}`);
}

function oneOf<T extends string>(what: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) usage(`unknown ${what} "${value}": use ${allowed.join(', ')}`);
  return value as T;
}

/** The action of `mntrace probes`, separate from commander so it can be called directly. */
export function runProbesCommand(command: readonly string[], opts: ProbesCommandOptions): void {
  const format = oneOf<OutputFormat>('--format', opts.format ?? 'kprobe_events', FORMATS) ?? 'kprobe_events';
  oneOf('--arch', opts.arch, ARCHES);
  oneOf('--syntax', opts.syntax, SYNTAXES);
  let bufferKb = DEFAULT_BUFFER_KB;
  if (opts.bufferKb !== undefined) {
    if (!/^\d+$/.test(opts.bufferKb) || Number(opts.bufferKb) < 1) usage(`--buffer-kb needs a positive number of KiB, not "${opts.bufferKb}"`);
    bufferKb = Number(opts.bufferKb);
  }
  if (command.length > 0 && format === 'kprobe_events') {
    usage('a command to trace applies to --format trace-cmd, perf-probe or script, not to kprobe_events lines');
  }

  let set;
  try {
    set = generateProbes({ kernel: opts.kernel, arch: opts.arch, syntax: opts.syntax, btf: opts.btf });
  } catch (err) {
    if (err instanceof ProbeOptionError || err instanceof KernelVersionError || err instanceof BtfError) usage(err.message);
    throw err;
  }
  const text = renderProbes(format, set, { command, bufferKb });

  if (!opts.quiet) {
    for (const w of set.warnings) process.stderr.write(`mntrace probes: note: ${w}\n`);
  }
  if (opts.output !== undefined) {
    writeOutput(opts.output, text, '--output');
    try {
      if (format === 'script') chmodSync(opts.output, 0o755);
    } catch (err) {
      throw cannotWrite('--output', opts.output, err);
    }
    if (!opts.quiet) {
      const next = format === 'script' ? `; run it as root: sudo sh ${opts.output} [-o DIR] [-- COMMAND...]` : '';
      process.stderr.write(`mntrace probes: wrote ${opts.output} for Linux ${set.kernel.raw} (${set.arch})${next}\n`);
    }
    return;
  }
  process.stdout.write(text);
}

export function registerProbesCommand(program: Command): void {
  program
    .command('probes')
    .description('print the kprobes and capture commands (kprobe_events, trace-cmd, perf, or a capture script) for a kernel')
    .argument('[command...]', 'the workload to trace, after -- (trace-cmd, perf-probe and script formats)')
    .option('--kernel <release>', "target kernel release as `uname -r` prints it, e.g. 6.1.0-56-amd64 (default: this machine's)")
    .option('--btf <file>', 'read struct offsets, enum values and signatures from BTF (/sys/kernel/btf/vmlinux, a copy, .gz, or a vmlinux ELF)')
    .option('--arch <arch>', `argument registers of ${ARCHES.join(' or ')} (default: this machine's)`)
    .option('--syntax <syntax>', 'offsets: registers and +OFFS(%reg), every kernel; btf: fprobes with BTF names, about 6.5+', 'offsets')
    .option('--format <format>', FORMATS.join(' | '), 'kprobe_events')
    .option('-o, --output <file>', 'write to this file instead of stdout (a script is made executable)')
    .option('--buffer-kb <kb>', 'ring buffer size per CPU, in KiB (trace-cmd and script)', String(DEFAULT_BUFFER_KB))
    .option('-q, --quiet', 'no notes on stderr')
    .addHelpText('after', EXAMPLES)
    .action((command: string[], opts: ProbesCommandOptions) => {
      runProbesCommand(command ?? [], opts);
    });
}
