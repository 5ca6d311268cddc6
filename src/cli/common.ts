import type { UnreadableRecord } from '../model/event';
import { CSV_DEFAULT_COLUMNS, setCsvColumns } from '../../parsers/csv';

/** A mistake in how mntrace was called: exit code 2 with a message that says what to do. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes, as documented in the README. */
export const EXIT = { clean: 0, findings: 1, usage: 2 } as const;

/** Show unreadable lines on stderr with file and line; all of them with `--show-unreadable`, else the first few. */
export function reportUnreadable(records: readonly UnreadableRecord[], all: boolean, limit = 10): void {
  if (records.length === 0) return;
  const shown = all ? records : records.slice(0, limit);
  for (const r of shown) process.stderr.write(`${r.src.file}:${r.src.line}: unreadable (${r.reason}): ${r.text}\n`);
  if (shown.length < records.length) {
    process.stderr.write(`... and ${records.length - shown.length} more unreadable lines (use --show-unreadable to list them all)\n`);
  }
}

/**
 * `--csv-columns ts=timestamp_ns,event=name`: the CSV parser's column names for
 * our roles (ts, cpu, pid, tid, comm, event, args), for exports that do not use the defaults.
 */
export function applyCsvColumns(spec: string | undefined): void {
  if (spec === undefined) return;
  const map: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const role = part.slice(0, eq).trim();
    const column = part.slice(eq + 1).trim();
    if (eq <= 0 || column === '') throw new UsageError(`--csv-columns: "${part}" is not role=column (e.g. ts=timestamp_ns,event=name)`);
    if (!(CSV_DEFAULT_COLUMNS as readonly string[]).includes(role)) {
      throw new UsageError(`--csv-columns: unknown role "${role}" (roles: ${CSV_DEFAULT_COLUMNS.join(', ')})`);
    }
    map[role] = column;
  }
  setCsvColumns(map);
}
