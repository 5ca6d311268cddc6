import type { Finding } from '../engine/types';
import type { BaselineSplit } from './baseline';
import type { Report } from './report';
import reportSchema from '../../schemas/report.schema.json';

/** The report schema's id: every JSON report names it in `$schema`, so editors and validators find its description. */
export const REPORT_SCHEMA = reportSchema.$id;

/** A baseline the run was compared with (`path`: its file). */
export interface JsonBaseline {
  path: string;
  split: BaselineSplit;
}

/**
 * The JSON report object, as described by schemas/report.schema.json. With a
 * baseline, each finding says whether the baseline accepted it (`known`) or
 * it is `new`, and a top-level `baseline` counts them.
 */
export function jsonReport(report: Report, baseline?: JsonBaseline): Report & { $schema: string; baseline?: { path: string; known: number; new: number; absent: number } } {
  if (baseline === undefined) return { $schema: REPORT_SCHEMA, ...report };
  const { known, knownFindings, newFindings, absent } = baseline.split;
  const findings = report.findings.map((f): Finding & { baseline: 'known' | 'new' } => ({ ...f, baseline: known.has(f.fingerprint) ? 'known' : 'new' }));
  return { $schema: REPORT_SCHEMA, ...report, findings, baseline: { path: baseline.path, known: knownFindings.length, new: newFindings.length, absent: absent.length } };
}

/** The JSON report, indented (`check --format json`). */
export function renderJson(report: Report, baseline?: JsonBaseline): string {
  return JSON.stringify(jsonReport(report, baseline), null, 2) + '\n';
}
