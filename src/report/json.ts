import type { Report } from './report';

/** The JSON report, as described by schemas/report.schema.json. */
export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}
