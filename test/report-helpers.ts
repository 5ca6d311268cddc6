/** Shared by the report-format tests: the fixtures, a report built from them, the CLI. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analyzeTrace, readKprobeEventsFile } from '../src/analyze';
import { findFixtures, fixtureTrace, type Expected } from '../src/cli/verify';
import { buildReport, inputFromResult, type FailOn, type Report } from '../src/report/report';
import { rangeCollector, timelineInput, type TimelineInput } from '../src/report/timeline';
import Ajv from 'ajv';

export const ROOT = join(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'mntrace.js');
export const REAL = join(ROOT, 'fixtures', 'real');
export const CASES = join(ROOT, 'fixtures', 'cases');

const validateReport = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas', 'report.schema.json'), 'utf8')));

/** Parse a JSON report and check it against the published schema (schemas/report.schema.json). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function parseReport(text: string): any {
  const report: unknown = JSON.parse(text);
  assert.ok(validateReport(report), JSON.stringify(validateReport.errors));
  return report;
}

export interface FixtureTrace {
  name: string;
  dir: string;
  trace: string;
  kprobeEvents?: string;
}

/** Every trace of fixtures/cases (the real captures and the derived bugs). */
export function fixtureTraces(): FixtureTrace[] {
  return findFixtures(CASES).map((dir) => {
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
    return {
      name: dir.replace(/^.*[\\/]/, ''),
      dir,
      trace: fixtureTrace(dir, expected),
      ...(expected.options?.kprobeEvents ? { kprobeEvents: resolve(dir, expected.options.kprobeEvents) } : {}),
    };
  });
}

export function caseTrace(name: string): string {
  const f = fixtureTraces().find((x) => x.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return f.trace;
}

/** Analyse traces as `mntrace check` does, keeping the timeline ranges. */
export async function reportFor(paths: string[], opts: { failOn?: FailOn; kprobeEvents?: string; limit?: number } = {}): Promise<{ report: Report; timelines: TimelineInput[] }> {
  const inputs = [];
  const findings = [];
  const timelines: TimelineInput[] = [];
  for (const p of paths) {
    const c = rangeCollector(opts.limit);
    const result = await analyzeTrace(p, { onRange: c.onRange, ...(opts.kprobeEvents ? { kprobeEvents: readKprobeEventsFile(opts.kprobeEvents) } : {}) });
    inputs.push(inputFromResult(result));
    findings.push(...result.findings);
    timelines.push(timelineInput(result, c));
  }
  return { report: buildReport(inputs, findings, opts.failOn ?? 'error'), timelines };
}

export function runCli(args: string[], cwd = ROOT, env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, NO_COLOR: '1', ...env } });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}
