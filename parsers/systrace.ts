/**
 * Android systrace containers around ftrace/atrace text:
 *
 * - systrace HTML (catapult `systrace.py` output): the trace text sits in
 *   `<script class="trace-data" type="application/text"> ... </script>`
 *   blocks, raw, one trace line per HTML line;
 * - old systrace HTML: the trace is a JavaScript string,
 *   `var linuxPerfData = "\` followed by lines ending in `\n\` and closed by `";`;
 * - that JS string's body saved as text (lines ending in `\n\`).
 *
 * The trace lines found inside (JS escapes undone, the `\n\` continuations
 * removed) go to an inner {@link FtraceParser} with their ORIGINAL line
 * numbers, so every event and unreadable record points at the HTML line. All
 * other lines (HTML, scripts, styles, the container's own opening and closing
 * lines) are container lines: consumed, counted in `info.containerLines`, never
 * unreadable. A trace-data block that holds something other than ftrace text
 * (Chrome JSON, a compressed/base64 blob) is reported as one unreadable record
 * at its first line; its other lines are container lines.
 *
 * Plain atrace text (`TRACE:` preamble, then ftrace text) is the ftrace
 * parser's job, not this one's.
 */
import type { ParseInfo } from '../src/model/event';
import { emptyParseInfo, sumParseInfo } from '../src/model/event';
import { FtraceParser } from './ftrace';
import { UnreadableLines } from './shared-text';
import type { ParserOptions, TraceParser } from './types';

export interface SystraceParseInfo extends ParseInfo {
  /** HTML / JavaScript container lines around the trace (also counted in `consumed`). */
  containerLines: number;
}

type Mode = 'start' | 'html' | 'jsString' | 'traceData' | 'foreignData' | 'text';

const JS_STRING_START = /\b(?:var|let|const)\s+linuxPerfData\s*=\s*"/;
const TRACE_DATA_START = /<script\b[^>]*\bclass\s*=\s*["']?trace-data\b[^>]*>/i;
const SCRIPT_END = /<\/script\s*>/i;

export class SystraceParser implements TraceParser {
  readonly format = 'systrace';
  private readonly inner: FtraceParser;
  private readonly own: SystraceParseInfo = { ...emptyParseInfo(), containerLines: 0 };
  private readonly unreadable: UnreadableLines;
  private mode: Mode = 'start';
  /** Decoded text of a JS string line not yet ended by `\n`. */
  private partial = '';
  private partialLine = 0;
  /** First line of a trace-data block, until we know what it holds. */
  private blockFirst = true;

  constructor(opts: ParserOptions) {
    this.inner = new FtraceParser({ file: opts.file, sink: opts.sink });
    this.unreadable = new UnreadableLines(this.own, opts.sink, opts.file);
  }

  /** Counters of the whole file: container lines plus what the inner ftrace parser read. */
  get info(): SystraceParseInfo {
    // Physical lines are counted here once; the inner parser counts trace lines (a physical line may hold several).
    return { ...sumParseInfo<SystraceParseInfo>(this.own, { ...this.inner.info, containerLines: 0 }), lines: this.own.lines };
  }

  push(text: string, lineNo: number, terminated: boolean): void {
    this.own.lines++;
    if (this.mode === 'start') {
      if (text.trim() === '') {
        this.container();
        return;
      }
      this.mode = /^\s*</.test(text) ? 'html' : 'text';
    }
    switch (this.mode) {
      case 'text':
        // A saved JS string body: lines end in `\n\`. Other lines are taken raw.
        if (/\\n\\?$|\\n";?\s*$/.test(text)) this.jsLine(text, lineNo, terminated, false);
        else this.feed(text, lineNo, terminated);
        return;
      case 'jsString':
        this.jsLine(text, lineNo, terminated, true);
        return;
      case 'traceData':
      case 'foreignData': {
        const end = SCRIPT_END.exec(text);
        const content = end ? text.slice(0, end.index) : text;
        if (this.mode === 'traceData' && (content.trim() !== '' || !end)) this.traceDataLine(content, lineNo, terminated, end !== null);
        else this.container();
        if (end) {
          this.mode = 'html';
          this.blockFirst = true;
        }
        return;
      }
      case 'html':
        this.htmlLine(text, lineNo, terminated);
        return;
    }
  }

  pushUnreadable(text: string, lineNo: number, reason: string): void {
    this.unreadable.pushed(text, lineNo, reason);
  }

  end(): void {
    if (this.partial !== '') this.feed(this.partial, this.partialLine, true);
    this.partial = '';
    this.inner.end();
  }

  private htmlLine(text: string, lineNo: number, terminated: boolean): void {
    const js = JS_STRING_START.exec(text);
    if (js) {
      this.mode = 'jsString';
      const rest = text.slice(js.index + js[0].length);
      if (rest === '\\' || rest === '') this.container();
      else this.jsLine(rest, lineNo, terminated, true, true);
      return;
    }
    const td = TRACE_DATA_START.exec(text);
    if (td) {
      this.mode = 'traceData';
      this.blockFirst = true;
      const rest = text.slice(td.index + td[0].length);
      const end = SCRIPT_END.exec(rest);
      const content = end ? rest.slice(0, end.index) : rest;
      if (content.trim() !== '') this.traceDataLine(content, lineNo, terminated, end !== null, true);
      else this.container();
      if (end) this.mode = 'html';
      return;
    }
    this.container();
  }

  /** One line inside a trace-data block (raw trace text). */
  private traceDataLine(content: string, lineNo: number, terminated: boolean, lastOfBlock: boolean, sharedWithTag = false): void {
    if (this.blockFirst && content.trim() !== '') {
      this.blockFirst = false;
      const t = content.trimStart();
      if (t.startsWith('{') || t.startsWith('[') || /^[A-Za-z0-9+/=]{60,}$/.test(t.trim())) {
        // Chrome JSON trace or a compressed/base64 blob: not ftrace text.
        this.unreadable.report(content, lineNo, 'systrace trace-data block that is not ftrace text (JSON or compressed data is not supported)');
        if (!lastOfBlock) this.mode = 'foreignData';
        return;
      }
    }
    if (sharedWithTag) this.own.containerLines++;
    this.inner.push(content, lineNo, terminated || !lastOfBlock);
  }

  /**
   * One physical line of a JavaScript string body: undo the escapes, drop the
   * `\` line continuation, and feed every complete `\n`-ended trace line.
   * In `text` mode (a saved string body) there is no closing quote.
   */
  private jsLine(text: string, lineNo: number, terminated: boolean, inString: boolean, sharedWithOpening = false): void {
    const { decoded, closed } = decodeJsStringPart(text, inString);
    if (sharedWithOpening) this.own.containerLines++;
    if (this.partial === '') this.partialLine = lineNo;
    this.partial += decoded;
    let fed = false;
    for (;;) {
      const nl = this.partial.indexOf('\n');
      if (nl < 0) break;
      this.feed(this.partial.slice(0, nl), this.partialLine, true);
      fed = true;
      this.partial = this.partial.slice(nl + 1);
      this.partialLine = lineNo;
    }
    if (closed) {
      if (this.partial.trim() !== '') this.feed(this.partial, this.partialLine, true);
      else if (!fed) this.container();
      this.partial = '';
      this.mode = 'html';
      return;
    }
    if (!fed && !terminated && this.partial !== '') {
      // Last line of the file, still inside the string: give it to the inner parser as cut off.
      this.feed(this.partial, lineNo, false);
      this.partial = '';
      return;
    }
    if (!fed) {
      if (this.partial === '') this.container();
      else {
        // Part of a trace line that continues on the next physical line.
        this.own.consumed++;
        this.own.continuationLines++;
      }
    }
  }

  private feed(line: string, lineNo: number, terminated: boolean): void {
    this.inner.push(line, lineNo, terminated);
  }

  private container(): void {
    this.own.consumed++;
    this.own.containerLines++;
  }
}

/**
 * Decode a piece of a double-quoted JS string literal. `closed` is true when
 * an unescaped `"` ends the literal on this line (what follows it is dropped).
 * A trailing lone `\` is a line continuation and produces nothing.
 */
export function decodeJsStringPart(text: string, inString: boolean): { decoded: string; closed: boolean } {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && inString) return { decoded: out, closed: true };
    if (c !== '\\') {
      out += c;
      continue;
    }
    if (i === text.length - 1) break; // line continuation
    const n = text[++i];
    switch (n) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '0': out += '\0'; break;
      case 'x': {
        const h = text.slice(i + 1, i + 3);
        if (/^[0-9a-fA-F]{2}$/.test(h)) {
          out += String.fromCharCode(parseInt(h, 16));
          i += 2;
        } else out += 'x';
        break;
      }
      case 'u': {
        const h = text.slice(i + 1, i + 5);
        if (/^[0-9a-fA-F]{4}$/.test(h)) {
          out += String.fromCharCode(parseInt(h, 16));
          i += 4;
        } else out += 'u';
        break;
      }
      default: out += n; // \\ \" \' \/ and anything else stand for themselves
    }
  }
  return { decoded: out, closed: false };
}

/** How sure we are that these first lines are a systrace container (0: not at all). */
export function sniffSystrace(lines: readonly string[]): number {
  let score = 0;
  const first = lines.find((l) => l.trim() !== '');
  if (first !== undefined && /^\s*<(?:!DOCTYPE\s+html|html)\b/i.test(first)) score += 10000;
  let escaped = 0;
  let nonBlank = 0;
  for (const l of lines) {
    // At the start of a line, as the tools write them (a mention mid-line, in a README say, is not a trace).
    const t = l.trimStart();
    if (JS_STRING_START.exec(t)?.index === 0 || TRACE_DATA_START.exec(t)?.index === 0) score += 5000;
    if (l.trim() === '') continue;
    nonBlank++;
    if (/\\n\\$/.test(l)) escaped++;
  }
  if (escaped > 0 && escaped * 2 >= nonBlank) score += 10 + 5 * escaped;
  return score;
}
