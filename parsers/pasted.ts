/**
 * Trace text pasted into a mail or a bug report: quoted (`> `, `>> `, `>`
 * with or without a space, as each reply adds one) and/or wrapped by the mail
 * client at its line width, so one event line arrives as two or three.
 *
 *   > kvmnotif-147 [001] .....  6.667004: mn_inv_start:
 *   > (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff4d4553c041bb88
 *
 * A line-prefix layer: each line loses its quote markers, wrapped pieces are
 * joined back to the event line they were cut from (with one space, as the
 * mail client broke the line at a space), and the text goes to the parser of
 * the format it is (ftrace, the latency layout, trace-cmd report,
 * function_graph, perf script, a console dump: whatever detection picks for
 * the unquoted, unwrapped text). Joined pieces count as continuation lines.
 * CRLF line ends are dropped when lines are read (source.ts).
 */
import { MAX_LINE_BYTES } from '../src/model/limits';
import { emptyParseInfo, type ParseInfo } from '../src/model/event';
import { TRACE_SHAPE } from './console';
import type { ParserOptions, TraceParser } from './types';

/** Quote markers at the start of a line: `>`, `> `, `>> `, `> > `, after up to 3 spaces. */
const QUOTE = /^[ \t]{0,3}(?:>[ \t]?)+/;
/** Lines that start a record of their own (never a wrapped piece of the line before). */
const LINE_START = /^\s*(?:#|=>|-{5,}|\d+\)\s|CPU:?\s?\d|\[\s*\d+\.\d+\]|$)/;
/** A mail client wraps at 72-80 columns (some at 100): text with longer lines was not wrapped. */
const MAX_WRAPPED_WIDTH = 100;

/** What the text is once unquoted and unwrapped: its lines (numbered as in the input), and which of the two it was. */
export interface PastedView {
  lines: string[];
  quoted: boolean;
  wrapped: boolean;
}

/** How a pasted text's parser picks the format of its unquoted, unwrapped lines: the best format and its score. */
export type InnerDetector = (lines: readonly string[]) => { create(opts: ParserOptions): TraceParser; score: number } | undefined;

export function unquote(line: string): string {
  const m = QUOTE.exec(line);
  return m ? line.slice(m[0].length) : line;
}

function eventShaped(line: string): boolean {
  return TRACE_SHAPE.test(line);
}

/** A line that continues the wrapped event line before it. */
function wrappedPiece(line: string): boolean {
  return !LINE_START.test(line) && !eventShaped(line);
}

/**
 * The first lines unquoted and unwrapped, and whether they were quoted or
 * wrapped at all. Text is taken as wrapped when no line is longer than a mail
 * client wraps, at least two event lines are followed by a piece, and every
 * piece is one a client would have wrapped: its first word did not fit on the
 * line before (within the longest line's width). A multi-line trace_marker
 * payload fails that test, so a real capture's continuation lines stay its own.
 */
export function pastedView(raw: readonly string[]): PastedView {
  let quotedLines = 0;
  let width = 0;
  for (const r of raw) width = Math.max(width, r.length);
  let fits = 0;
  let misfits = 0;
  const lines: string[] = [];
  let joinable = false;
  let before = 0;
  for (const r of raw) {
    const l = unquote(r);
    if (l !== r) quotedLines++;
    if (joinable && wrappedPiece(l)) {
      lines[lines.length - 1] = lines[lines.length - 1].trimEnd() + ' ' + l.trim();
      const word = l.trim().split(/\s/, 1)[0].length;
      if (before + 1 + word > width) fits++;
      else misfits++;
      before = r.trimEnd().length;
      continue;
    }
    lines.push(l);
    joinable = eventShaped(l);
    before = r.trimEnd().length;
  }
  const quoted = quotedLines >= 3;
  const wrapped = width <= MAX_WRAPPED_WIDTH && fits >= 2 && misfits === 0;
  return { lines: wrapped ? lines : raw.map(unquote), quoted, wrapped };
}

/** Score for the sniffer: the inner format's, doubled, when the text is quoted or wrapped (else 0: plain text is its own format's). */
export function sniffPasted(raw: readonly string[], detect: InnerDetector): number {
  const view = pastedView(raw);
  if (!view.quoted && !view.wrapped) return 0;
  const inner = detect(view.lines);
  return inner ? inner.score * 2 + 1 : 0;
}

export class PastedParser implements TraceParser {
  private inner: TraceParser | undefined;
  /** The first lines, until the inner format is known (with the reason for a line the reader could not hand over). */
  private readonly held: Array<[string, number, boolean, string | undefined]> = [];
  private wrapped = false;
  /** The event line waiting for its wrapped pieces. */
  private pending: { text: string; line: number; terminated: boolean } | undefined;
  private pieces = 0;
  private readonly placeholder = emptyParseInfo();

  constructor(
    private readonly opts: ParserOptions,
    private readonly detect: InnerDetector,
    private readonly sniffLines: number,
    /** The parser for text no format recognises (it reports each line it cannot read). */
    private readonly fallback: (opts: ParserOptions) => TraceParser,
  ) {}

  get format(): string {
    return this.inner ? `pasted ${this.inner.format}` : 'pasted';
  }

  get info(): ParseInfo {
    return this.inner?.info ?? this.placeholder;
  }

  pushUnreadable(text: string, lineNo: number, reason: string): void {
    if (this.inner === undefined) {
      this.held.push([text, lineNo, true, reason]);
      if (this.held.length >= this.sniffLines) this.decide();
      return;
    }
    this.flush();
    this.inner.pushUnreadable(text, lineNo, reason);
  }

  push(text: string, lineNo: number, terminated: boolean): void {
    if (this.inner === undefined) {
      this.held.push([text, lineNo, terminated, undefined]);
      if (this.held.length >= this.sniffLines) this.decide();
      return;
    }
    this.line(text, lineNo, terminated);
  }

  end(): void {
    if (this.inner === undefined) this.decide();
    this.flush();
    const inner = this.inner as TraceParser;
    inner.end();
    // The pieces joined back count as lines read, continuing the event before them.
    inner.info.lines += this.pieces;
    inner.info.continuationLines += this.pieces;
    inner.info.consumed += this.pieces;
    this.pieces = 0;
  }

  private decide(): void {
    const view = pastedView(this.held.map((h) => (h[3] === undefined ? h[0] : '')));
    this.wrapped = view.wrapped;
    const inner = (this.detect(view.lines)?.create ?? this.fallback)(this.opts);
    this.inner = inner;
    for (const [t, n, term, unreadable] of this.held) {
      if (unreadable === undefined) this.line(t, n, term);
      else {
        this.flush();
        inner.pushUnreadable(t, n, unreadable);
      }
    }
    this.held.length = 0;
  }

  private line(raw: string, lineNo: number, terminated: boolean): void {
    const text = unquote(raw);
    // Pieces are joined up to the longest line the reader hands over (MAX_LINE_BYTES), so the patterns see no more.
    if (this.wrapped && this.pending !== undefined && this.pending.text.length + text.length < MAX_LINE_BYTES && wrappedPiece(text)) {
      this.pending.text = this.pending.text.trimEnd() + ' ' + text.trim();
      this.pending.terminated = terminated;
      this.pieces++;
      return;
    }
    this.flush();
    if (this.wrapped && eventShaped(text)) this.pending = { text, line: lineNo, terminated };
    else (this.inner as TraceParser).push(text, lineNo, terminated);
  }

  private flush(): void {
    const p = this.pending;
    if (p === undefined) return;
    this.pending = undefined;
    (this.inner as TraceParser).push(p.text, p.line, p.terminated);
  }
}
