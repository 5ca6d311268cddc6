/**
 * Shared by the parser tests: run one parser over a text, and find fixtures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TraceEvent, TraceRecord, UnreadableRecord } from '../src/model/event';
import { pushText } from '../parsers/shared-text';
import type { ParserOptions, TraceParser } from '../parsers/types';

export const FIX = resolve(__dirname, '../../fixtures');
/** The workplace's shared/ beside the checkout (CI has it too); tests that read it skip when it is absent. */
export const SHARED = resolve(__dirname, '../../../shared');

/**
 * The `skip` of a test that reads these files of ../shared: false when all are
 * there, else a reason naming them relative to the checkout (never this machine's path).
 */
export function sharedSkip(...paths: string[]): string | false {
  const missing = paths.filter((p) => !existsSync(join(SHARED, p)));
  return missing.length ? `../shared/${missing.join(', ../shared/')} absent (the workplace's real traces and corpus beside the checkout)` : false;
}

export function parseWith<P extends TraceParser>(create: (opts: ParserOptions) => P, text: string, file: string) {
  const records: TraceRecord[] = [];
  const parser = create({ file, sink: (r) => records.push(r) });
  pushText(parser, text);
  const events = records.filter((r): r is TraceEvent => r.kind === 'event');
  const unreadable = records.filter((r): r is UnreadableRecord => r.kind === 'unreadable');
  return { parser, info: parser.info as P['info'], records, events, unreadable };
}

export const fixture = (rel: string): string => readFileSync(join(FIX, rel), 'utf8');
export const at = (events: TraceEvent[], line: number): TraceEvent[] => events.filter((e) => e.src.line === line);
