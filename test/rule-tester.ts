/**
 * RuleTester for trace rules, in the style of ESLint's: a table of `valid`
 * traces (the rule must stay silent) and `invalid` traces with the exact
 * findings expected (messageId, line of the main evidence, confidence, and
 * optionally words the message must contain). Each case runs the real pipeline on a
 * temporary file with only the rule under test enabled.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeTrace } from '../src/analyze';
import { parseConfig, type Config } from '../src/config/config';
import type { Confidence, Finding } from '../src/engine/types';
import { ruleById, rules } from '../rules';

export interface ExpectedFinding {
  /** Which of the rule's meta.messages the finding's message is. */
  messageId: string;
  line: number;
  confidence: Confidence;
  /** Substrings the message must contain. */
  message?: string[];
  /** Lines that must appear among the evidence. */
  evidenceLines?: number[];
}

export interface TraceCase {
  name: string;
  /** Trace text (ftrace lines; a header is optional). */
  trace: string;
  /** Extra config (rule options, engine thresholds). */
  config?: Config;
  inputFormat?: string;
  /** The kernel the trace came from (`--kernel`), for version-dependent rules. */
  kernel?: string;
}

export interface InvalidCase extends TraceCase {
  errors: ExpectedFinding[];
}

export async function findingsFor(ruleId: string, c: TraceCase): Promise<Finding[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-rt-'));
  try {
    const file = join(dir, 'trace.txt');
    writeFileSync(file, c.trace.endsWith('\n') ? c.trace : c.trace + '\n');
    const ruleSettings: NonNullable<Config['rules']> = {};
    for (const r of rules) if (r.meta.id !== ruleId) ruleSettings[r.meta.id] = 'off';
    const config = parseConfig({ ...c.config, rules: { ...ruleSettings, ...(c.config?.rules ?? {}) } }, `case "${c.name}"`);
    const result = await analyzeTrace(file, { config, inputFormat: c.inputFormat, kernel: c.kernel });
    return result.findings.filter((f) => f.ruleId === ruleId);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function runRuleTests(ruleId: string, cases: { valid: TraceCase[]; invalid: InvalidCase[] }, title = `rule ${ruleId}`): void {
  describe(title, () => {
    for (const c of cases.valid) {
      it(`valid: ${c.name}`, async () => {
        const found = await findingsFor(ruleId, c);
        assert.deepEqual(found.map(summary), [], `expected no ${ruleId} findings`);
      });
    }
    for (const c of cases.invalid) {
      it(`invalid: ${c.name}`, async () => {
        const found = await findingsFor(ruleId, c);
        const messages = ruleById(ruleId)!.meta.messages;
        for (const e of c.errors) assert.ok(e.messageId in messages, `case "${c.name}": ${ruleId} has no message '${e.messageId}' (its messages: ${Object.keys(messages).join(', ')})`);
        const got = found.map((f) => ({ line: f.evidence[0].line, messageId: f.messageId, confidence: f.confidence })).sort(byLine);
        const want = c.errors.map((e) => ({ line: e.line, messageId: e.messageId, confidence: e.confidence })).sort(byLine);
        assert.deepEqual(got, want, `findings of ${ruleId}:\n${found.map(summary).join('\n')}`);
        for (const e of c.errors) {
          const f = found.find((x) => x.evidence[0].line === e.line) as Finding;
          for (const words of e.message ?? []) assert.ok(f.message.includes(words), `message should mention "${words}": ${f.message}`);
          assert.doesNotMatch(f.message, /\{\{\s*\w+\s*\}\}/, `the report's data fills every placeholder of message '${f.messageId}'`);
          const lines = f.evidence.map((x) => x.line);
          for (const l of e.evidenceLines ?? []) assert.ok(lines.includes(l), `evidence should include line ${l}: got ${lines.join(',')}`);
          assert.equal(f.ruleId, ruleId);
          assert.ok(f.evidence.every((x) => x.path.endsWith('trace.txt')), 'evidence names the trace file');
        }
      });
    }
  });
}

function byLine(a: { line: number }, b: { line: number }): number {
  return a.line - b.line;
}

function summary(f: Finding): string {
  return `${f.ruleId} ${f.messageId} ${f.confidence} line ${f.evidence[0].line}: ${f.message}`;
}

export { after };
