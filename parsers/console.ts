/**
 * The ftrace buffer as the kernel prints it to the console: `ftrace_dump()`
 * after an oops (`ftrace_dump_on_oops`), on sysrq-z, or from a panic, read
 * back from `dmesg`, a serial log, a kdump's vmcore-dmesg or the journal.
 * After a hang it is often the only trace left.
 *
 *   [   10.137079] Dumping ftrace buffer:
 *   [   10.137079] ---------------------------------
 *   [   10.137079] kvmnotif-198       1..... 569704us : mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=...
 *   [   10.137079] kvmnotif-198       1..... 569765us : <stack trace>
 *                   => kprobe_trace_func
 *   [   10.137079] ---------------------------------
 *
 * A line-prefix layer: each line loses its console prefix (`<N>` log level,
 * `[ seconds.micros]` printk time, `[ T123]`/`[ C1]` caller id, or a syslog /
 * journal / `dmesg -x` head before those) and goes to the ftrace parser, which
 * reads the latency layout ftrace_dump prints (`comm-pid  CPU+FLAGS  TIMEus :`).
 * Console lines that are not trace (the oops, other drivers' messages printed
 * while the dump runs) are kept out: counted in `info.consoleLines`, never
 * reported as unreadable.
 */
import type { ParseInfo } from '../src/model/event';
import { FtraceParser } from './ftrace';
import type { ParserOptions, TraceParser } from './types';

/**
 * What goes before the message on a console line, each part optional:
 * a syslog/journal head (`Dec  4 05:22:00 host kernel: `), a `dmesg -x`
 * facility and level (`kern  :warn  : `), a `<N>` level, the printk time
 * `[   10.137079]` (or `dmesg -T`'s `[Fri Dec  4 05:22:00 2026]`) and a
 * caller id `[ T198]` / `[ C1]`. At least the level or the time must be there.
 */
const PREFIX = new RegExp(
  '^(?:[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\S+ kernel: |\\d{4}-\\d\\d-\\d\\dT[\\d:.,+-]+ \\S+ kernel: )?' +
    '(?:[a-z]+ *:[a-z]+ *: )?' +
    '(?:<(\\d)>)?' +
    '(?:\\[( *\\d+\\.\\d+|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4})\\])?' +
    '(?:\\[ *[TC]\\d+\\])?' +
    ' ?',
);
/** A stack frame line; the kernel prints these without the console prefix on some configurations (a continuation of the record). */
const FRAME = /^\s*=> /;
/** A line the ftrace parser should see: an event line in either layout, a lost-events marker, a buffer-start marker. */
export const TRACE_SHAPE = /-\d+\s+(?:\(\s*(?:\d+|-+)\s*\)\s+)?(?:\[\d+\]\s|\d+\S{3,}\s+\d+(?:us)?.?:\s)|^CPU:\d+ \[LOST \d+ EVENTS\]|^#{5} CPU \d+ buffer started/;
const DASHES = /^-{10,}\s*$/;

export interface ConsoleParseInfo extends ParseInfo {
  /** Console lines that are not trace (counted apart; also in `consumed`). */
  consoleLines: number;
  /** `Dumping ftrace buffer:` headers seen (one per dump). */
  dumps: number;
}

/** Score for the sniffer: console-prefixed trace lines and dump delimiters. */
export function sniffConsoleDump(lines: readonly string[]): number {
  let prefixed = 0;
  let trace = 0;
  let dumps = 0;
  for (const l of lines) {
    const m = PREFIX.exec(l);
    if (!m || (m[1] === undefined && m[2] === undefined)) continue;
    prefixed++;
    const rest = l.slice(m[0].length);
    if (rest.startsWith('Dumping ftrace buffer:')) dumps++;
    else if (TRACE_SHAPE.test(rest)) trace++;
  }
  // Beats ftrace's 2 a line (it does not read these lines at all), and needs trace lines, not just a kernel log.
  if (trace === 0 && dumps === 0) return 0;
  return dumps * 20 + trace * 3 + (prefixed > 0 ? 1 : 0);
}

export class ConsoleDumpParser implements TraceParser {
  readonly format = 'ftrace-dump';
  private readonly inner: FtraceParser;
  readonly info: ConsoleParseInfo;
  /** Inside a dump: between `Dumping ftrace buffer:` and its closing dashes. */
  private inDump = false;
  private dashes = 0;

  constructor(opts: ParserOptions) {
    this.inner = new FtraceParser(opts);
    // One info object: the ftrace parser counts what it reads, this layer the console lines around it.
    this.info = Object.assign(this.inner.info, { consoleLines: 0, dumps: 0 });
  }

  push(text: string, lineNo: number, terminated: boolean): void {
    if (FRAME.test(text)) {
      this.inner.push(' ' + text.trimStart(), lineNo, terminated);
      return;
    }
    const m = PREFIX.exec(text);
    const body = m && (m[1] !== undefined || m[2] !== undefined) ? text.slice(m[0].length) : text;
    if (body.startsWith('Dumping ftrace buffer:')) {
      this.inDump = true;
      this.dashes = 0;
      this.info.dumps++;
      this.own();
      return;
    }
    if (DASHES.test(body)) {
      // The dump opens and closes with a line of dashes.
      if (this.inDump && ++this.dashes >= 2) this.inDump = false;
      this.own();
      return;
    }
    if (/^\s*\(ftrace buffer empty\)\s*$/.test(body)) {
      this.own();
      return;
    }
    if (FRAME.test(body)) {
      this.inner.push(' ' + body.trimStart(), lineNo, terminated);
      return;
    }
    if (body.trim() === '' || TRACE_SHAPE.test(body) || body.startsWith('<stack trace>') || body.startsWith('<user stack trace>')) {
      this.inner.push(body, lineNo, terminated);
      return;
    }
    // Everything else the console printed: the oops, other messages, the shell.
    this.info.consoleLines++;
    this.own();
  }

  pushUnreadable(text: string, lineNo: number, reason: string): void {
    this.inner.pushUnreadable(text, lineNo, reason);
  }

  end(): void {
    this.inner.end();
  }

  /** A line this layer read itself. */
  private own(): void {
    this.info.lines++;
    this.info.consumed++;
  }
}
