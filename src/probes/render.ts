/**
 * Turn a {@link ProbeSet} into what the user runs: kprobe_events lines, trace-cmd commands,
 * perf commands, or a complete capture script.
 */
import { version as mntraceVersion } from '../version';
import { renderPerfProbe, renderRemoval } from './definitions';
import { renderContextOf } from './generate';
import { renderScript } from './script';
import { shJoin, shSingleQuote } from './shell';
import type { OutputFormat, ProbeSet, TracepointSpec } from './types';

export interface RenderOptions {
  /** The workload to trace (`mntrace probes ... -- CMD ARGS`). Without it: trace until Ctrl-C. */
  command?: readonly string[];
  /** Per-CPU ring buffer size in KiB (default 32768). */
  bufferKb?: number;
  /** mntrace version written into comments and the capture MANIFEST (default: this package's). */
  toolVersion?: string;
}

export const DEFAULT_BUFFER_KB = 32768;
/** perf record -m: mmap pages per CPU. */
export const PERF_MMAP_PAGES = 1024;

/** The definitions hold kprobe syntax ($retval), which must stay unexpanded in single quotes. */
const SHELLCHECK_DIRECTIVE = '# shellcheck disable=SC2016 # $retval and %di are kprobe syntax, not shell';

function describeTarget(set: ProbeSet): string {
  return `Linux ${set.kernel.raw} (${set.arch}, ${set.syntax} syntax${set.btfSource ? ', layout from BTF' : ''})`;
}

function warningComments(set: ProbeSet): string[] {
  return set.warnings.map((w) => `# note: ${w}`);
}

/** trace-cmd / perf take `group` for a whole subsystem; tracefs globs are `group:*`. */
function traceCmdEvent(t: TracepointSpec): string {
  return t.spec.endsWith(':*') ? t.spec.slice(0, -2) : t.spec;
}

function perfEvent(t: TracepointSpec): string {
  return t.spec.includes('*') ? shSingleQuote(t.spec) : t.spec;
}

function commandTail(command: readonly string[] | undefined): { tail: string; note: string[] } {
  if (command && command.length > 0) return { tail: ` -- ${shJoin(command)}`, note: [] };
  return { tail: '', note: ['# No command given: this records until you press Ctrl-C.'] };
}

function renderKprobeEvents(set: ProbeSet): string {
  return set.definitions.join('\n') + '\n';
}

function renderTraceCmd(set: ProbeSet, options: RenderOptions): string {
  const v = options.toolVersion ?? mntraceVersion;
  const buf = options.bufferKb ?? DEFAULT_BUFFER_KB;
  const file = set.definitionsFile;
  const { tail, note } = commandTail(options.command);
  const events: string[] = [`-e ${set.group}`];
  for (const tr of set.triggers) {
    const [group, event] = tr.event.split('/');
    events.push(`-e ${group}:${event} -R ${tr.command}`);
  }
  for (const t of set.tracepoints) events.push(`-e ${traceCmdEvent(t)}`);
  const lines = [
    '#!/bin/sh',
    SHELLCHECK_DIRECTIVE,
    `# mntrace ${v}: capture with trace-cmd for ${describeTarget(set)}.`,
    '# Run as root. Load kvm first (modprobe kvm) if KVM is the subscriber you care about.',
    ...warningComments(set),
    'T=/sys/kernel/tracing',
    `[ -e "$T/${file}" ] || T=/sys/kernel/debug/tracing`,
    '',
    `# 1. Define the probes (trace-cmd enables events, it does not create kprobes).`,
    '#    Each line is its own write: one the kernel refuses (a module not loaded) does not stop the others.',
    '{',
    ...set.definitions.map((d) => `\techo ${shSingleQuote(d)}`),
    `} >>"$T/${file}"`,
    '',
    '# 2. Record the probes, the context tracepoints and a kernel stack on every range start.',
    '#    A missing event (e.g. kvm not loaded) makes trace-cmd stop: load it, or add -i to ignore it.',
    ...note,
    `trace-cmd record -b ${buf} ${events.join(' ')}${tail}`,
    '',
    '# 3. Write the text report mntrace reads (mntrace check trace-cmd-report.txt).',
    'trace-cmd report > trace-cmd-report.txt',
    '',
    '# 4. Remove the probes again.',
    '{',
    ...set.probes.map((p) => `\techo ${shSingleQuote(renderRemoval(p, set.group))}`),
    `} >>"$T/${file}"`,
  ];
  return lines.join('\n') + '\n';
}

function renderPerf(set: ProbeSet, options: RenderOptions): string {
  const v = options.toolVersion ?? mntraceVersion;
  const ctx = renderContextOf(set);
  const { tail, note } = commandTail(options.command);
  const events = [`-e ${shSingleQuote('probe:*')}`, ...set.tracepoints.map((t) => `-e ${perfEvent(t)}`)];
  const lines = [
    '#!/bin/sh',
    SHELLCHECK_DIRECTIVE,
    `# mntrace ${v}: capture with perf for ${describeTarget(set)}.`,
    '# Run as root. perf puts the probes in group "probe" (probe:mn_inv_start, ...) under our event names.',
    set.syntax === 'btf'
      ? '# These definitions name arguments (range->start): perf resolves them with the kernel debuginfo (DWARF).'
      : '# Without kernel debuginfo perf passes these register/offset arguments to the kernel as they are.',
    '# KVM probes need the kvm module loaded; if perf does not find a module symbol, add -m kvm to that line.',
    ...warningComments(set),
    '',
    '# 1. Define the probes.',
    ...set.probes.map((p) => `perf probe -a ${shSingleQuote(renderPerfProbe(p, ctx))}`),
    '',
    '# 2. Record system-wide (add -g to record kernel call chains too).',
    ...note,
    `perf record -a -m ${PERF_MMAP_PAGES} ${events.join(' ')}${tail}`,
    '',
    '# 3. Write the text mntrace reads (mntrace check perf-script.txt).',
    'perf script > perf-script.txt',
    '',
    '# 4. Remove the probes again.',
    ...set.probes.map((p) => `perf probe -d probe:${p.event}`),
  ];
  return lines.join('\n') + '\n';
}

/** Render `set` in one of the output formats. */
export function renderProbes(format: OutputFormat, set: ProbeSet, options: RenderOptions = {}): string {
  switch (format) {
    case 'kprobe_events': return renderKprobeEvents(set);
    case 'trace-cmd': return renderTraceCmd(set, options);
    case 'perf-probe': return renderPerf(set, options);
    case 'script': return renderScript(set, { ...options, toolVersion: options.toolVersion ?? mntraceVersion, bufferKb: options.bufferKb ?? DEFAULT_BUFFER_KB });
  }
}
