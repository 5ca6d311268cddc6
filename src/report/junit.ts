/**
 * JUnit XML (the dialect GitLab, Jenkins and most CI systems read): one
 * <testsuite> per input file, one <testcase> per rule. A rule's test case
 * passes when it found nothing that fails the run (at or above --fail-on, not
 * inconclusive, not accepted by a baseline); otherwise it carries a <failure>
 * with the findings and their evidence lines. Everything from the trace is
 * XML-escaped, and characters XML 1.0 cannot carry are written as \xNN.
 */
import type { Finding, RuleMeta } from '../engine/types';
import { failsWithBaseline } from './baseline';
import { failsRun, findingOfInput, findingWhere, type Report } from './report';

/** Characters XML 1.0 allows (Char production); anything else becomes a visible \xNN / \uNNNN escape. */
// eslint-disable-next-line no-control-regex
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function visible(c: string): string {
  const n = c.charCodeAt(0);
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** Escape text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s
    .replace(NOT_XML_CHAR, visible)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Attribute values: escaped, and newlines / tabs kept as character references (attribute normalisation would eat them). */
function attr(s: string | number): string {
  return xmlEscape(String(s)).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

export interface JunitCase {
  name: string;
  classname: string;
  failure?: { message: string; type: string; text: string };
  error?: { message: string; type: string; text: string };
  skipped?: string;
  systemOut?: string;
}

export interface JunitSuite {
  name: string;
  cases: JunitCase[];
  properties?: Record<string, string | number>;
  systemOut?: string;
}

/** Serialise suites as a <testsuites> document. */
export function renderJunitSuites(name: string, suites: readonly JunitSuite[]): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = (k: 'failure' | 'error' | 'skipped') => suites.reduce((n, s) => n + s.cases.filter((c) => c[k] !== undefined).length, 0);
  const tests = suites.reduce((n, s) => n + s.cases.length, 0);
  out.push(`<testsuites name="${attr(name)}" tests="${tests}" failures="${total('failure')}" errors="${total('error')}" skipped="${total('skipped')}">`);
  suites.forEach((s, id) => {
    const count = (k: 'failure' | 'error' | 'skipped') => s.cases.filter((c) => c[k] !== undefined).length;
    out.push(`  <testsuite name="${attr(s.name)}" id="${id}" tests="${s.cases.length}" failures="${count('failure')}" errors="${count('error')}" skipped="${count('skipped')}" time="0">`);
    const props = Object.entries(s.properties ?? {});
    if (props.length) {
      out.push('    <properties>');
      for (const [k, v] of props) out.push(`      <property name="${attr(k)}" value="${attr(v)}"/>`);
      out.push('    </properties>');
    }
    for (const c of s.cases) {
      const open = `    <testcase name="${attr(c.name)}" classname="${attr(c.classname)}" time="0"`;
      const body: string[] = [];
      if (c.failure) body.push(`      <failure message="${attr(c.failure.message)}" type="${attr(c.failure.type)}">${xmlEscape(c.failure.text)}</failure>`);
      if (c.error) body.push(`      <error message="${attr(c.error.message)}" type="${attr(c.error.type)}">${xmlEscape(c.error.text)}</error>`);
      if (c.skipped !== undefined) body.push(`      <skipped message="${attr(c.skipped)}"/>`);
      if (c.systemOut) body.push(`      <system-out>${xmlEscape(c.systemOut)}</system-out>`);
      if (body.length) out.push(`${open}>`, ...body, '    </testcase>');
      else out.push(`${open}/>`);
    }
    if (s.systemOut) out.push(`    <system-out>${xmlEscape(s.systemOut)}</system-out>`);
    out.push('  </testsuite>');
  });
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

/** One finding as readable text: the verdict line, the message, the evidence lines. */
export function findingText(f: Finding, known?: boolean): string {
  const lines = [
    `${f.severity} [${f.confidence}]${known ? ' (known: accepted by the baseline)' : ''} ${findingWhere(f)}`,
    `  ${f.message}`,
    ...f.evidence.map((e) => `    ${e.path}:${e.line}  ${(e.role ?? '').padEnd(16)} ${e.text ?? ''}`),
  ];
  return lines.join('\n');
}

export interface JunitOptions {
  /** Stable fingerprints a baseline accepted: they never fail a test case. */
  known?: ReadonlySet<string>;
  /** Rules turned off by the config: their test cases are skipped. */
  disabled?: ReadonlySet<string>;
  /** The rules, a test case each (the caller's: `ruleMetas` for all mntrace ships). */
  rules: readonly RuleMeta[];
}

/** `mntrace check --format junit`. */
export function renderJunit(report: Report, opts: JunitOptions): string {
  const ruleList = opts.rules;
  const failOn = report.summary.failOn;
  const suites: JunitSuite[] = report.inputs.map((input) => {
    const classname = `mntrace.${input.path}`;
    const props: Record<string, string | number> = { format: input.format, lines: input.lines, events: input.events, unreadableLines: input.unreadableLines, failOn };
    if (input.ranges) Object.assign(props, { paired: input.ranges.paired, open: input.ranges.open, failedStarts: input.ranges.failedStarts, orphanEnds: input.ranges.orphanEnds });
    if (input.error) {
      return { name: input.path, properties: props, cases: [{ name: 'read trace', classname, error: { message: input.error, type: 'InputError', text: input.error } }] };
    }
    const mine = report.findings.filter((f) => findingOfInput(f, input));
    const cases: JunitCase[] = ruleList.map(({ id }) => {
      if (opts.disabled?.has(id)) return { name: id, classname, skipped: 'rule turned off by the config' };
      const found = mine.filter((f) => f.ruleId === id);
      const failing = found.filter((f) => failsWithBaseline(f, failOn, opts.known));
      const others = found.filter((f) => !failing.includes(f));
      const isKnown = (f: Finding) => !!opts.known?.has(f.fingerprint);
      // Past the engine's per-rule limit findings are only counted: those fail the case too (they fail the run).
      const unlisted = (input.unlistedFindings ?? []).filter((u) => u.ruleId === id && failsRun(u, failOn)).reduce((n, u) => n + u.count, 0);
      const c: JunitCase = { name: id, classname };
      if (failing.length || unlisted) {
        const n = failing.length + unlisted;
        const more = unlisted ? `${unlisted} more ${unlisted === 1 ? 'was' : 'were'} counted but not listed (engine.maxFindingsPerRule)` : '';
        c.failure = {
          message: `${n} finding${n === 1 ? '' : 's'} at or above ${failOn}: ${failing.length ? failing[0].message : more}`,
          type: id,
          text: [...failing.map((f) => findingText(f)), ...(more && failing.length ? [`... ${more}`] : [])].join('\n\n'),
        };
      }
      if (others.length) {
        c.systemOut = `Not failing (below --fail-on ${failOn}, inconclusive, or accepted by the baseline):\n\n` + others.map((f) => findingText(f, isKnown(f))).join('\n\n');
      }
      return c;
    });
    // Read only in part: the rules judged what came before the damage, and reading the trace is an error (check exits 2).
    if (input.damaged) cases.unshift({ name: 'read trace', classname, error: { message: input.damaged, type: 'DamagedInput', text: `${input.damaged}; the lines before it are analysed` } });
    return { name: input.path, properties: props, cases };
  });
  return renderJunitSuites('mntrace check', suites);
}
