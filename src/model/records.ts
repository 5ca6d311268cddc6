/**
 * The scan record: what the ftrace scanner reads from one line's bytes, as
 * 32-bit integers in an Int32Array (no string, no object per line). One layout for
 * both lanes: the parser scans a line on its own thread into a record of its
 * own, and a scan worker scans straight into the records of the chunk it
 * hands over, which the main thread reads with the same names.
 *
 * A chunk's records follow each other, one per line in line order, each as
 * long as its kind says (LineRec.size, EventRec.skippedSize, EventRec.size):
 *
 *   LINE     a line the parser reads as text: where its bytes are in the chunk
 *   SKIPPED  an event line the analysis does not need in full: CPU, task and time
 *   WANTED   an event line it does: those, and where each column's bytes are
 *
 * (Const enums: TypeScript writes each name as its number, so reading a field
 * costs what rec[o + 3] costs.)
 */

/** What a record stands for (its first slot). */
export const enum RecordKind {
  Line = 0,
  Skipped = 1,
  Wanted = 2,
}

/** A LINE record's slots. */
export const enum LineRec {
  kind = 0,
  /** Offsets of the line's first byte and of its end (a CR before the newline left out). */
  start = 1,
  end = 2,
  /** 0, or the length in bytes of a line too long to read (source.ts MAX_LINE_BYTES): start..end is then only its head, for the report. */
  tooLong = 3,
  size = 4,
}

/**
 * An event record's slots: SKIPPED records are the first `skippedSize` of
 * them, WANTED records all `size`.
 */
export const enum EventRec {
  kind = 0,
  cpu = 1,
  pid = 2,
  /** The timestamp: whole seconds (at most 9 digits: longer goes to the text lane), nanoseconds, and how many decimals it was printed with. */
  sec = 3,
  nsec = 4,
  digits = 5,
  skippedSize = 6,
  /** Offsets into the chunk: the line's end, */
  end = 6,
  /** the task name, */
  comm = 7,
  commEnd = 8,
  /** the flags column (-1: none), */
  flagsFrom = 9,
  flagsTo = 10,
  /** the timestamp's text, */
  tsFrom = 11,
  tsTo = 12,
  /** the event name, */
  nameFrom = 13,
  nameEnd = 14,
  /** a probe site's `)` and the payload after it (-1 for an event without a site). */
  siteClose = 15,
  restFrom = 16,
  /**
   * Set by a scan worker, ids of what it sends once each: the probe site
   * (-1: none), the event name, the flags column's decoding (-1: none).
   */
  site = 17,
  name = 18,
  flags = 19,
  /**
   * A kprobe payload's `key=value` tokens (TraceEvent.tokens), when the
   * scanner read them: the id of its keys (-1: not read; a scan worker sends
   * each distinct list of keys once), the canonical-pointer bits, and where
   * each token's value ends (from restFrom), MAX_TOKENS at most.
   */
  keys = 20,
  canonical = 21,
  ends = 22,
  size = 22 + 12,
}

/** Tokens a scan record holds (EventRec.ends); a payload with more is left to the text reader. */
export const MAX_TOKENS = 12;
