/**
 * SARIF 2.1.0 output (schemas/sarif-schema-2.1.0.json, the OASIS schema): one
 * run, every rule mntrace ships in tool.driver.rules, one result per finding
 * located at its main evidence line, the other evidence lines as
 * relatedLocations. GitHub code scanning reads it
 * (github/codeql-action/upload-sarif); see docs/ci.md.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { Finding, RuleMeta, Severity } from '../engine/types';
import { FINGERPRINT_KEY } from '../engine/fingerprint';
import { describeKernel, inputFiles, type Report } from './report';
import { STDIN_NAME } from '../model/event';

export type SarifLevel = 'error' | 'warning' | 'note' | 'none';

export interface SarifOptions {
  /** Artifact URIs are relative to this directory (default: process.cwd()). */
  cwd?: string;
  /** Stable fingerprints a baseline accepted: their results get baselineState `unchanged`, the others `new`. */
  known?: ReadonlySet<string>;
  /** The rules to describe in tool.driver.rules (the caller's: `ruleMetas` for all mntrace ships). */
  rules: readonly RuleMeta[];
}

const SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

export function sarifLevel(severity: Severity): SarifLevel {
  return severity === 'error' ? 'error' : severity === 'warning' ? 'warning' : 'note';
}

/** A trace path as a SARIF URI reference: relative to cwd, forward slashes, each segment percent-encoded. */
export function artifactUri(path: string, cwd = process.cwd()): string {
  // `-` as given on the command line, `<stdin>` as the report names it: one artifact either way.
  if (path === '-' || path === STDIN_NAME) return 'stdin';
  const abs = resolve(cwd, path);
  let rel = relative(cwd, abs);
  if (rel === '' || (isAbsolute(rel) && !rel.startsWith('..'))) rel = abs; // another drive (Windows)
  const segments = rel.split(sep).join('/').split('/');
  const encoded = segments.map((s, i) => (i === 0 && /^[A-Za-z]:$/.test(s) ? s : encodeURIComponent(s))).join('/');
  return isAbsolute(rel) ? `file:///${encoded.replace(/^\/+/, '')}` : encoded;
}

function firstSentence(text: string): string {
  const m = /^(.+?[.!?])(\s|$)/.exec(text);
  return m ? m[1] : text;
}

function ruleDescriptor(meta: RuleMeta) {
  const d = meta.docs;
  const helpText = [
    d.description,
    '',
    `Why: ${d.rationale}`,
    '',
    ...(d.commits.length ? ['Kernel commits:', ...d.commits.map((c) => `  - ${c}`), ''] : []),
    `Kernels: ${d.kernels}`,
    ...(d.capture ? ['', `To get a certain verdict, capture: ${d.capture}`] : []),
  ].join('\n');
  const helpMarkdown = [
    d.description,
    '',
    `**Why it matters.** ${d.rationale}`,
    '',
    ...(d.commits.length ? ['**Kernel commits**', '', ...d.commits.map((c) => `- \`${c.split(' ')[0]}\` ${c.slice(c.indexOf(' ') + 1)}`), ''] : []),
    `**Kernels.** ${d.kernels}`,
    ...(d.capture ? ['', `**Capture for a certain verdict.** ${d.capture}`] : []),
    '',
    `Run \`mntrace rules ${meta.id}\` for details.`,
  ].join('\n');
  return {
    id: meta.id,
    name: meta.id.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase()),
    shortDescription: { text: firstSentence(d.description) },
    fullDescription: { text: d.description },
    help: { text: helpText, markdown: helpMarkdown },
    defaultConfiguration: { level: sarifLevel(meta.defaultSeverity) },
    properties: {
      tags: ['mmu_notifier', 'linux-kernel', 'correctness'],
      precision: 'high',
      'problem.severity': meta.defaultSeverity === 'info' ? 'recommendation' : meta.defaultSeverity,
      kernels: d.kernels,
      commits: d.commits,
    },
  };
}

function physicalLocation(path: string, line: number, cwd: string, snippet?: string) {
  return {
    artifactLocation: { uri: artifactUri(path, cwd), uriBaseId: '%SRCROOT%' },
    region: { startLine: Math.max(1, line), ...(snippet ? { snippet: { text: snippet } } : {}) },
  };
}

function result(f: Finding, ruleIndex: number, cwd: string, known: ReadonlySet<string> | undefined) {
  const [main, ...others] = f.evidence;
  const fp = f.fingerprint;
  return {
    ruleId: f.ruleId,
    ...(ruleIndex >= 0 ? { ruleIndex } : {}),
    // Inconclusive findings are for information only: never more than a note.
    level: f.confidence === 'inconclusive' ? 'note' : sarifLevel(f.severity),
    message: { text: f.message },
    locations: main ? [{ physicalLocation: physicalLocation(main.path, main.line, cwd, main.text), message: { text: main.role ?? 'event' } }] : [],
    ...(others.length
      ? {
          relatedLocations: others.map((e, i) => ({
            id: i + 1,
            physicalLocation: physicalLocation(e.path, e.line, cwd, e.text),
            message: { text: e.role ?? 'evidence' },
          })),
        }
      : {}),
    partialFingerprints: { [FINGERPRINT_KEY]: fp },
    ...(known ? { baselineState: known.has(fp) ? 'unchanged' : 'new' } : {}),
    properties: {
      confidence: f.confidence,
      severity: f.severity,
      pid: f.pid,
      comm: f.comm,
      ...(f.cpu !== undefined ? { cpu: f.cpu } : {}),
      timestamp: f.timestamp,
      ...(f.repeats ? { repeats: f.repeats } : {}),
    },
  };
}

/** Build the SARIF log object. */
export function buildSarif(report: Report, opts: SarifOptions) {
  const cwd = opts.cwd ?? process.cwd();
  const ruleList = opts.rules;
  const index = new Map(ruleList.map((r, i) => [r.id, i]));
  const notifications: Array<Record<string, unknown>> = [];
  for (const i of report.inputs) {
    // The files read (a merged capture's parts, a capture directory's trace), as results locate their evidence.
    const loc = { locations: inputFiles(i).map((file) => ({ physicalLocation: { artifactLocation: { uri: artifactUri(file, cwd), uriBaseId: '%SRCROOT%' } } })) };
    if (i.error) notifications.push({ level: 'error', message: { text: `${i.path} could not be read: ${i.error}` }, ...loc });
    else if (i.unreadableLines) {
      notifications.push({ level: 'warning', message: { text: `${i.unreadableLines} line(s) of ${i.path} could not be read (mntrace check --show-unreadable lists them)` }, ...loc });
    }
    // Read only in part: the run exits 2, so the tool's execution did not succeed.
    if (i.damaged) notifications.push({ level: 'error', message: { text: `${i.path} was read only in part: ${i.damaged}; the lines before it are analysed` }, ...loc });
    if (i.missingEntries) {
      const { claimed, found } = i.missingEntries;
      notifications.push({ level: 'warning', message: { text: `${i.path}: its header counted ${claimed} ring-buffer entries but the file holds ${found}: lines were cut or removed, so verdicts that rest on a missing event are inconclusive` }, ...loc });
    }
    if (report.summary.withoutRanges?.includes(i.path)) {
      notifications.push({ level: 'error', message: { text: `${i.path} holds no invalidation range at all (--require-ranges): were the probes on, and is it the right trace?` }, ...loc });
    }
    if (i.unmappedKprobes?.length) {
      notifications.push({ level: 'warning', message: { text: `${i.path}: ${i.unmappedKprobes.join(', ')} look like kprobes printed at an address only, with names mntrace does not know: give the capture's kprobe_events with --kprobe-events to map them` }, ...loc });
    }
    if (i.truncated) notifications.push({ level: 'warning', message: { text: `${i.path} ends in the middle of a line (a truncated capture?)` }, ...loc });
    for (const u of i.unlistedFindings ?? []) {
      notifications.push({ level: 'warning', message: { text: `${i.path}: ${u.count} more ${u.ruleId} finding${u.count === 1 ? '' : 's'} (${u.severity}, ${u.confidence}) ${u.count === 1 ? 'was' : 'were'} counted but not listed as results (engine.maxFindingsPerRule)` }, ...loc });
    }
    if (i.lostEvents || i.lostMarkers) notifications.push({ level: 'warning', message: { text: `${i.path}: the capture lost ${i.lostEvents ?? 0} events at ${i.lostMarkers ?? 0} markers; verdicts near them are inconclusive` }, ...loc });
  }
  return {
    $schema: SCHEMA_URI,
    version: '2.1.0' as const,
    runs: [
      {
        tool: {
          driver: {
            name: report.tool.name,
            version: report.tool.version,
            semanticVersion: report.tool.version,
            rules: ruleList.map(ruleDescriptor),
          },
        },
        invocations: [
          {
            executionSuccessful: report.inputs.every((i) => !i.error && !i.damaged),
            ...(notifications.length ? { toolExecutionNotifications: notifications } : {}),
          },
        ],
        // One artifact per file read; the counts are the input's (a merged capture's, on each of its parts).
        artifacts: report.inputs.flatMap((i) => inputFiles(i).map((file, _, files) => ({
          location: { uri: artifactUri(file, cwd), uriBaseId: '%SRCROOT%' },
          ...(i.bytes !== undefined && files.length === 1 && (!i.compression || i.compression === 'none') ? { length: i.bytes } : {}),
          properties: {
            ...(file !== i.path ? { input: i.path } : {}),
            format: i.format, ...(i.compression && i.compression !== 'none' ? { compression: i.compression } : {}), lines: i.lines, events: i.events,
            ...(i.kernel ? { kernel: { ...i.kernel, assumed: describeKernel(i.kernel) } } : {}),
            ...(i.ranges ? { ranges: { paired: i.ranges.paired, open: i.ranges.open, failedStarts: i.ranges.failedStarts, orphanEnds: i.ranges.orphanEnds } } : {}),
          },
        }))),
        results: report.findings.map((f) => result(f, index.get(f.ruleId) ?? -1, cwd, opts.known)),
        columnKind: 'utf16CodeUnits' as const,
        properties: {
          failOn: report.summary.failOn,
          failed: report.summary.failed,
          ranges: { paired: report.summary.ranges.paired, open: report.summary.ranges.open, failedStarts: report.summary.ranges.failedStarts, orphanEnds: report.summary.ranges.orphanEnds },
        },
      },
    ],
  };
}

export function renderSarif(report: Report, opts: SarifOptions): string {
  return JSON.stringify(buildSarif(report, opts), null, 2) + '\n';
}
