import type { EventFilter, ParseInfo, TraceRecord } from '../src/model/event';

export type { EventFilter };

/** Where parsed records go. Records arrive in file order per CPU (and per task). */
export type RecordSink = (record: TraceRecord) => void;

/**
 * A line-at-a-time parser for one input format. It only reads text: it never
 * decides what is a bug. Every line ends up as an event, part of an event
 * (a stack frame), a header/coverage record, or an unreadable record.
 */
export interface TraceParser {
  readonly format: string;
  readonly info: ParseInfo;
  /** Feed one line (no terminator). `terminated` is false for a final line without newline. */
  push(text: string, lineNo: number, terminated: boolean): void;
  /**
   * A line the reader could not hand over (longer than MAX_LINE_BYTES): it is
   * counted as a line and reported as unreadable with `reason`; `text` is its start.
   */
  pushUnreadable(text: string, lineNo: number, reason: string): void;
  /** Flush whatever is still held (pending events awaiting their stacks). */
  end(): void;
}

export interface ParserOptions {
  /** The file name used in source locations. */
  file: string;
  sink: RecordSink;
  /** Optional: build only the events a consumer needs (the rest are counted and reported as skipped). */
  filter?: EventFilter;
  /** CSV: the file's header names for the column roles, when it does not use the default names (parsers/csv.ts). */
  csvColumns?: Readonly<Record<string, string>>;
}
