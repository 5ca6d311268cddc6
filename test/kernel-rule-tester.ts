/**
 * RuleTester cases that also name the kernel the trace came from (AnalyzeOptions.kernel,
 * the CLI's --kernel): the same table shape as test/rule-tester.ts, one extra field.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeTrace } from '../src/analyze';
import { parseConfig, type Config } from '../src/config/config';
import type { Finding } from '../src/engine/types';
import { rules } from '../rules';
import type { InvalidCase, TraceCase } from './rule-tester';

export interface KernelTraceCase extends TraceCase {
  kernel?: string;
}

export interface KernelInvalidCase extends InvalidCase {
  kernel?: string;
}

export async function findingsWithKernel(ruleId: string, c: KernelTraceCase): Promise<Finding[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-krt-'));
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

export function runKernelRuleTests(ruleId: string, cases: { valid: KernelTraceCase[]; invalid: KernelInvalidCase[] }): void {
  describe(`rule ${ruleId} (with --kernel)`, () => {
    for (const c of cases.valid) {
      it(`valid: ${c.name}`, async () => {
        const found = await findingsWithKernel(ruleId, c);
        assert.deepEqual(found.map(summary), [], `expected no ${ruleId} findings`);
      });
    }
    for (const c of cases.invalid) {
      it(`invalid: ${c.name}`, async () => {
        const found = await findingsWithKernel(ruleId, c);
        const got = found.map((f) => ({ line: f.evidence[0].line, confidence: f.confidence })).sort((a, b) => a.line - b.line);
        const want = c.errors.map((e) => ({ line: e.line, confidence: e.confidence })).sort((a, b) => a.line - b.line);
        assert.deepEqual(got, want, `findings of ${ruleId}:\n${found.map(summary).join('\n')}`);
        for (const e of c.errors) {
          const f = found.find((x) => x.evidence[0].line === e.line) as Finding;
          for (const words of e.message ?? []) assert.ok(f.message.includes(words), `message should mention "${words}": ${f.message}`);
          const lines = f.evidence.map((x) => x.line);
          for (const l of e.evidenceLines ?? []) assert.ok(lines.includes(l), `evidence should include line ${l}: got ${lines.join(',')}`);
        }
      });
    }
  });
}

function summary(f: Finding): string {
  return `${f.ruleId} ${f.confidence} line ${f.evidence[0].line}: ${f.message}`;
}
