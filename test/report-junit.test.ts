/**
 * JUnit XML: a suite per input, a case per rule, failures with the findings
 * and their evidence lines, everything from the trace escaped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { ruleMetas, rules } from '../rules';
import type { Finding } from '../src/engine/types';
import { renderJunit, xmlEscape } from '../src/report/junit';
import { buildReport } from '../src/report/report';
import { caseTrace, reportFor, ROOT, runCli } from './report-helpers';

/**
 * A strict-enough well-formedness check for the XML we write: every tag
 * closes in order, attribute values are quoted, and text holds no raw `<` or
 * `&` outside an entity, and no character XML 1.0 forbids.
 */
function assertWellFormed(xml: string): void {
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(xml), 'a control character XML 1.0 forbids');
  const body = xml.slice(xml.indexOf('\n') + 1);
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    if (m[6]) assert.fail(`stray < at ${m.index}: ${body.slice(m.index, m.index + 60)}`);
    if (m[5] !== undefined) {
      const bad = /&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.exec(m[5]);
      assert.ok(!bad, `raw & in text: ${m[5].slice(0, 80)}`);
      continue;
    }
    for (const v of m[3].matchAll(/="([^"]*)"/g)) assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(v[1]), `raw & in attribute ${v[1]}`);
    if (m[1]) assert.equal(stack.pop(), m[2], `</${m[2]}> closes the wrong element`);
    else if (!m[4]) stack.push(m[2]);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

function count(xml: string, re: RegExp): number {
  return (xml.match(re) ?? []).length;
}

describe('JUnit report', () => {
  it('one suite per input, one case per rule; failing rules carry the findings and evidence lines', async () => {
    const bug = caseTrace('failed-blockable-start');
    const { report } = await reportFor([caseTrace('real-oom-reaper'), bug]);
    const xml = renderJunit(report, { rules: ruleMetas });
    assertWellFormed(xml);
    assert.equal(count(xml, /<testsuite /g), 2);
    assert.equal(count(xml, /<testcase /g), 2 * rules.length);
    // The OOM capture is clean: no failure in its suite.
    const [oom, buggy] = xml.split('<testsuite ').slice(1);
    assert.match(oom, /failures="0" errors="0"/);
    assert.equal(count(oom, /<failure /g), 0);
    // The bug: three rules fail (failed-blockable-start, subscriber-imbalance, end-after-failed-start).
    assert.match(buggy, /tests="\d+" failures="3" errors="0"/);
    const failed = [...buggy.matchAll(/<testcase name="([^"]+)"[^>]*>\s*<failure/g)].map((x) => x[1]).sort();
    assert.deepEqual(failed, ['end-after-failed-start', 'failed-blockable-start', 'subscriber-imbalance']);
    assert.ok(buggy.includes(`${bug}:24  failed-return`), 'the failure text has file:line and role of each evidence line');
    // The inconclusive subscriber-imbalance finding does not fail: it is in system-out.
    assert.match(buggy, /<system-out>Not failing[^<]*info \[inconclusive\]/);
  });

  it('passes every case when nothing is at or above --fail-on; an unreadable input is an <error>', async () => {
    const { report } = await reportFor([caseTrace('failed-blockable-start')], { failOn: 'never' });
    const xml = renderJunit(report, { rules: ruleMetas });
    assert.equal(count(xml, /<failure /g), 0);
    const broken = buildReport([{ path: 'gone.txt', format: 'unknown', lines: 0, events: 0, unreadableLines: 0, error: 'cannot open gone.txt: no such file' }], [], 'error');
    const x2 = renderJunit(broken, { rules: ruleMetas });
    assertWellFormed(x2);
    assert.match(x2, /<error message="cannot open gone.txt: no such file" type="InputError">/);
  });

  it('an input read only in part: a read-trace <error> beside the rule cases, which judge what was read', async () => {
    const { report } = await reportFor([caseTrace('missing-end')]);
    report.inputs[0].damaged = 'trace.txt.gz: compressed data is corrupt or cut off after 30 lines (unexpected end of file)';
    const xml = renderJunit(report, { rules: ruleMetas });
    assertWellFormed(xml);
    assert.match(xml, /<testcase name="read trace" [^>]*>\s*<error message="trace\.txt\.gz: compressed data is corrupt or cut off after 30 lines \(unexpected end of file\)" type="DamagedInput">/);
    assert.equal(count(xml, /<failure /g), 1);
    assert.match(xml, /tests="14" failures="1" errors="1"/);
  });

  it('findings a baseline accepted do not fail their case', async () => {
    const { report } = await reportFor([caseTrace('missing-end')]);
    const known = new Set(report.findings.map((f) => f.fingerprint));
    const xml = renderJunit(report, { known, rules: ruleMetas });
    assert.equal(count(xml, /<failure /g), 0);
    assert.match(xml, /known: accepted by the baseline/);
  });

  it('escapes everything from the trace: markup, quotes, ampersands, control characters, lone surrogates', () => {
    const comm = '<img src=x onerror=alert(1)>';
    const f: Finding = {
      ruleId: 'unpaired-start', severity: 'error', confidence: 'certain',
      message: `a "quoted" & 'apostrophed' ]]> message with \u0001 and \ud800 and <b>tags</b>`,
      pid: 7, comm, timestamp: '1.000001', fingerprint: 'x', messageId: 'leftOpen',
      evidence: [{ path: 'a&b<c>.txt', line: 3, role: 'start', text: `${comm}-7 [000] 1.000001: mn_inv_start: \u001b[31m` }],
    };
    const report = buildReport([{ path: 'a&b<c>.txt', format: 'ftrace', lines: 3, events: 1, unreadableLines: 0 }], [f], 'error');
    const xml = renderJunit(report, { rules: ruleMetas });
    assertWellFormed(xml);
    assert.ok(!xml.includes('<img'), 'no raw markup from the trace');
    assert.ok(xml.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(xml.includes('a&amp;b&lt;c&gt;.txt'));
    assert.ok(xml.includes('\\x01') && xml.includes('\\x1b') && xml.includes('\\ud800'));
    assert.equal(xmlEscape(`"'&<>`), '&quot;&apos;&amp;&lt;&gt;');
    assert.equal(xmlEscape('\ud83d\ude00 ok'), '\ud83d\ude00 ok', 'a valid surrogate pair is kept');
  });

  it('mntrace check --format junit -o file: exit 1 with findings, the file is the XML', () => {
    const trace = relative(ROOT, caseTrace('nonblock-other-caller'));
    const res = runCli(['check', '--format', 'junit', '-q', trace]);
    assert.equal(res.code, 1, res.stderr);
    assertWellFormed(res.stdout);
    assert.match(res.stdout, /<testcase name="nonblock-outside-oom-reaper" classname="mntrace\.fixtures\/cases\/nonblock-other-caller\/trace\.txt" time="0">\s*<failure message="1 finding at or above error: /);
  });
});
