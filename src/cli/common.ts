import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { UnreadableRecord } from '../model/event';
import { checkColumnMap } from '../../parsers/csv';
import { termText } from '../report/terminal';

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
  for (const r of shown) process.stderr.write(termText(`${r.src.file}:${r.src.line}: unreadable (${r.reason}): ${r.text}`) + '\n');
  if (shown.length < records.length) {
    process.stderr.write(`... and ${records.length - shown.length} more unreadable lines (use --show-unreadable to list them all)\n`);
  }
}

/**
 * `--csv-columns ts=timestamp_ns,event=name`: the CSV parser's column names for
 * its roles (ts, cpu, pid, tid, comm, event, args, ...), for exports that do not
 * use the defaults; passed to the parser through the read options.
 */
export function parseCsvColumns(spec: string | undefined): Record<string, string> | undefined {
  if (spec === undefined) return undefined;
  const map: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const role = part.slice(0, eq).trim();
    const column = part.slice(eq + 1).trim();
    if (eq <= 0 || column === '') throw new UsageError(`--csv-columns: "${part}" is not role=column (e.g. ts=timestamp_ns,event=name)`);
    map[role] = column;
  }
  try {
    checkColumnMap(map);
  } catch (err) {
    throw new UsageError(`--csv-columns: ${(err as Error).message}`);
  }
  return map;
}

/** Why a file cannot be written, in words (ENOENT reads "no such directory": the file itself is about to be made). */
function writeProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such directory';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return (err as Error).message;
}

/**
 * Fail at once on an output path that cannot be written (before reading a
 * trace that may take minutes), without touching the file: `what` names it
 * for the message (`--output`, `--write-baseline`).
 */
export function ensureWritable(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw cannotWrite(what, path, err);
  }
  if (st?.isDirectory()) throw cannotWrite(what, path, { code: 'EISDIR' });
  try {
    accessSync(st ? path : dirname(path), constants.W_OK);
  } catch (err) {
    throw cannotWrite(what, path, err);
  }
}

/** The usage error for an output file that could not be written. */
export function cannotWrite(what: string, path: string, err: unknown): UsageError {
  return new UsageError(`${what} ${path}: cannot write there (${writeProblem(err)})`);
}

/** Write an output file; a failure (disk full, the directory gone meanwhile) is a usage error with the reason, not a crash. */
export function writeOutput(path: string, text: string, what: string): void {
  try {
    writeFileSync(path, text);
  } catch (err) {
    throw cannotWrite(what, path, err);
  }
}
