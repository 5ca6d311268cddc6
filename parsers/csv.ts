/**
 * Trace events as CSV (or TSV), e.g. what a Perfetto trace_processor query
 * over `ftrace_event` and `args` exports. The first record is a header naming
 * the columns; the default column set is
 *
 *   ts,cpu,pid,tid,comm,event,args
 *
 * - `ts`: integer nanoseconds (`23565443123`, split exactly into sec/nsec,
 *   `ts.raw` as written); decimal seconds (`23.565443`) are accepted too;
 * - `cpu`: CPU number (empty: unknown);
 * - `pid`: the process id (thread-group id) and `tid`: the thread id, as in
 *   Perfetto; the event's `pid` is the tid (the kernel task, like ftrace's PID
 *   column) and its `tgid` the pid. With only one of them, that one is `pid`;
 * - `comm`: the task name;
 * - `event`: `name`, or `group:name` / `group/name` (`kprobes:mn_inv_start`),
 *   split into `group` and `name`;
 * - `args`: either `key=value key=value` text as ftrace prints it (kept as the
 *   payload: a leading kprobe site `(sym+0x0/0x190)` fills `probe`, fields parse
 *   lazily) or a JSON object (`{"range":"0x...","flags":1}`: its members become
 *   the fields, values as text; the JSON text is the payload). A leading
 *   `args.` on a key (Perfetto's arg keys) is dropped.
 * Optional extra roles: `tgid` (when the file names the thread group
 * separately), `group` (event group in its own column), `flags` (an ftrace flags
 * column like `d..2.`). Header names are matched case-insensitively; `name`
 * is accepted for `event` and `thread_name` for `comm`. Unknown columns are ignored.
 *
 * Other column names: map roles to the file's header names with a
 * {@link CsvColumnMap}, e.g. `{ ts: 'timestamp_ns', event: 'event_name' }`, given
 * as `csvColumns` in the parser options (`--csv-columns` reaches it through
 * readTrace's options). Sniffing only recognises the default names (and the
 * aliases); other headers need the format named explicitly.
 *
 * Reading is streaming and line-fed: each line (plus "\n") goes into one
 * csv-parse `Parser` instance through its synchronous core, so quoted fields
 * that span lines still work. Blank lines and lines starting with `#` are
 * skipped (counted as consumed). Malformed records (a field csv-parse rejects,
 * a ts that is not a number, no event name) are unreadable records with the
 * line where the record starts.
 */
import { parse as csvParse } from 'csv-parse';
import type { ContextFlags, ParseInfo, Timestamp } from '../src/model/event';
import { emptyParseInfo } from '../src/model/event';
import { decodeFlags } from '../src/model/flags';
import { parseTimestamp, timestampFromNsText } from '../src/model/time';
import { exactInts, ParsedEvent, splitProbeSite } from './common';
import { UnreadableLines } from './shared-text';
import type { ParserOptions, RecordSink, TraceParser } from './types';

/** The column roles the CSV reader understands. */
export type CsvRole = 'ts' | 'cpu' | 'pid' | 'tid' | 'tgid' | 'comm' | 'event' | 'group' | 'args' | 'flags';

/** Role -> header name in the file (e.g. `{ ts: 'timestamp', event: 'name' }`). */
export type CsvColumnMap = Partial<Record<CsvRole, string>>;

export const CSV_DEFAULT_COLUMNS: readonly CsvRole[] = ['ts', 'cpu', 'pid', 'tid', 'comm', 'event', 'args'];
const ROLES: readonly CsvRole[] = ['ts', 'cpu', 'pid', 'tid', 'tgid', 'comm', 'event', 'group', 'args', 'flags'];
const ALIASES: Partial<Record<CsvRole, string[]>> = { event: ['name'], comm: ['thread_name'] };

/** Validate a role -> column map (unknown roles are a usage error). */
export function checkColumnMap(map: Readonly<Record<string, string>>): CsvColumnMap {
  const out: CsvColumnMap = {};
  for (const [k, v] of Object.entries(map)) {
    if (!(ROLES as readonly string[]).includes(k)) throw new Error(`unknown CSV column role '${k}' (expected one of ${ROLES.join(', ')})`);
    out[k as CsvRole] = v;
  }
  return out;
}

/** Does this header line look like one the CSV reader understands with the default names? */
export function looksLikeCsvHeader(line: string): boolean {
  const delimiter = line.includes('\t') && !line.includes(',') ? '\t' : ',';
  const names = line.split(delimiter).map((s) => s.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
  if (names.length < 3) return false;
  const has = (role: CsvRole) => names.includes(role) || (ALIASES[role] ?? []).some((a) => names.includes(a));
  return has('ts') && has('event');
}

interface CsvApi {
  parse(buf: Buffer | undefined, end: boolean, push: (rec: unknown) => void, close: () => void): Error | undefined;
}

interface RecordWithInfo {
  record: string[];
  raw: string;
  info: { lines: number };
}

export class CsvParser implements TraceParser {
  readonly format = 'csv';
  private readonly own: ParseInfo = emptyParseInfo();
  private readonly file: string;
  private readonly sink: RecordSink;
  private readonly unreadable: UnreadableLines;
  private readonly map: CsvColumnMap;
  private api: CsvApi | undefined;
  private delimiter: string | undefined;
  /** File line number of each line fed to csv-parse (csv-parse counts from 1). */
  private readonly lineNos: number[] = [];
  private index: Partial<Record<CsvRole, number>> | undefined;
  private headerProblem: string | undefined;
  private lastTerminated = true;
  private dead = false;

  constructor(opts: ParserOptions) {
    this.file = opts.file;
    this.sink = opts.sink;
    this.unreadable = new UnreadableLines(this.own, opts.sink, opts.file);
    this.map = opts.csvColumns ? checkColumnMap(opts.csvColumns) : {};
  }

  /** Counters; `consumed` is every line that is neither an event's first line nor an unreadable record's. */
  get info(): ParseInfo {
    return { ...this.own, consumed: this.own.lines - this.own.events - this.own.unreadable };
  }

  push(text: string, lineNo: number, terminated: boolean): void {
    this.own.lines++;
    if (this.dead) {
      this.bad(lineNo, text, 'CSV reading had stopped at an earlier error');
      return;
    }
    if (!this.api) {
      if (text.trim() === '' || text.startsWith('#')) return;
      this.delimiter = text.includes('\t') && !text.includes(',') ? '\t' : ',';
      this.api = this.makeApi();
    }
    this.lineNos.push(lineNo);
    this.lastTerminated = terminated;
    const err = (this.api as CsvApi).parse(Buffer.from(text + '\n', 'utf8'), false, (r) => this.record(r as RecordWithInfo), () => {});
    if (err) this.fatal(err, lineNo);
  }

  end(): void {
    if (!this.api) return;
    const err = this.api.parse(undefined, true, (r) => this.record(r as RecordWithInfo), () => {});
    if (err) this.fatal(err, this.lineNos[this.lineNos.length - 1] ?? 0);
  }

  private makeApi(): CsvApi {
    const parser = csvParse({
      delimiter: this.delimiter,
      bom: true,
      info: true,
      raw: true,
      comment: '#',
      comment_no_infix: true,
      skip_empty_lines: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_records_with_error: true,
      on_skip: (err, raw) => {
        const end = err && typeof (err as { lines?: number }).lines === 'number' ? (err as unknown as { lines: number }).lines : this.lineNos.length;
        const start = raw ? end - Math.max(0, (raw.match(/\n/g) ?? []).length - (raw.endsWith('\n') ? 1 : 0)) : end;
        this.bad(this.lineAt(start), raw ?? '', `malformed CSV record (${err ? err.message : 'rejected by csv-parse'})`);
        return undefined;
      },
    }) as unknown as { api?: CsvApi };
    if (!parser.api || typeof parser.api.parse !== 'function') throw new Error('csv-parse has no synchronous parser core (parser.api): this csv-parse version is not supported');
    return parser.api;
  }

  private lineAt(csvLine: number): number {
    return this.lineNos[Math.min(Math.max(csvLine, 1), this.lineNos.length) - 1] ?? 0;
  }

  private record(r: RecordWithInfo): void {
    const newlines = (r.raw.match(/\n/g) ?? []).length;
    const endLine = r.info.lines;
    const startLine = this.lineAt(endLine - Math.max(0, newlines - (r.raw.endsWith('\n') ? 1 : 0)));
    if (!this.index && !this.headerProblem) {
      this.header(r.record, startLine);
      return;
    }
    if (this.headerProblem) {
      this.bad(startLine, r.raw, this.headerProblem);
      return;
    }
    const idx = this.index as Partial<Record<CsvRole, number>>;
    const get = (role: CsvRole): string | undefined => {
      const i = idx[role];
      if (i === undefined || i >= r.record.length) return undefined;
      const v = r.record[i].trim();
      return v === '' ? undefined : v;
    };
    const tsText = get('ts');
    const ts: Timestamp | undefined = tsText === undefined ? undefined : timestampFromNsText(tsText) ?? parseTimestamp(tsText);
    if (!ts) {
      this.bad(startLine, r.raw, tsText === undefined ? 'no timestamp in the ts column' : `ts column is not a number: ${JSON.stringify(tsText)}`);
      return;
    }
    const eventText = get('event');
    if (eventText === undefined) {
      this.bad(startLine, r.raw, 'no event name in the event column');
      return;
    }
    const ints: Partial<Record<'cpu' | 'pid' | 'tid' | 'tgid', number>> = {};
    for (const role of ['cpu', 'pid', 'tid', 'tgid'] as const) {
      const v = get(role);
      if (v === undefined) continue;
      if (!/^-?\d+$/.test(v) || !exactInts(Number(v))) {
        this.bad(startLine, r.raw, `${role} column is not an integer (or has too many digits to hold exactly): ${JSON.stringify(v)}`);
        return;
      }
      ints[role] = Number(v);
    }
    let ctx: ContextFlags | undefined;
    const flags = get('flags');
    if (flags !== undefined) ctx = decodeFlags(flags);

    let group = get('group');
    let name = eventText;
    const sep = /^([^:/\s]+)[:/](\S+)$/.exec(eventText);
    if (sep && group === undefined) {
      group = sep[1];
      name = sep[2];
    }
    const args = r.record[idx.args ?? -1] ?? '';
    let payload = args;
    let fields: Record<string, string> | undefined;
    const trimmed = args.trim();
    if (trimmed.startsWith('{')) {
      try {
        const obj = JSON.parse(trimmed) as unknown;
        if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
          fields = {};
          for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
            fields[k.startsWith('args.') ? k.slice(5) : k] = v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
          }
        }
      } catch {
        // Not JSON after all: keep it as key=value text.
      }
    }
    const site = fields ? undefined : splitProbeSite(payload);
    if (site) payload = site.rest;

    let pid: number, tgid: number | undefined;
    if (ints.tid !== undefined) {
      pid = ints.tid;
      tgid = ints.tgid ?? ints.pid;
    } else {
      pid = ints.pid ?? -1;
      tgid = ints.tgid;
    }
    const ev = new ParsedEvent(ts, pid, get('comm') ?? '', name, payload, { file: this.file, line: startLine });
    if (ints.cpu !== undefined) ev.cpu = ints.cpu;
    if (tgid !== undefined) ev.tgid = tgid;
    if (group !== undefined) ev.group = group;
    if (ctx) ev.ctx = ctx;
    if (site) ev.probe = site.probe;
    if (fields) ev.fields = fields;
    else if (!payload.includes('=')) ev.fields = {};
    else if (Object.keys(ev.fields).some((k) => k.startsWith('args.'))) {
      const f: Record<string, string> = {};
      for (const [k, v] of Object.entries(ev.fields)) f[k.startsWith('args.') ? k.slice(5) : k] = v;
      ev.fields = f;
    }
    this.sink(ev);
    this.own.events++;
  }

  private header(names: string[], lineNo: number): void {
    const lower = names.map((n) => n.trim().toLowerCase());
    const index: Partial<Record<CsvRole, number>> = {};
    for (const role of ROLES) {
      const wanted = this.map[role];
      const candidates = wanted !== undefined ? [wanted.toLowerCase()] : [role, ...(ALIASES[role] ?? [])];
      const i = lower.findIndex((n) => candidates.includes(n));
      if (i >= 0) index[role] = i;
      else if (wanted !== undefined) {
        this.headerProblem = `the CSV header has no column '${wanted}' for ${role} (header: ${names.join(',')})`;
      }
    }
    if (!this.headerProblem && (index.ts === undefined || index.event === undefined)) {
      const want = (role: CsvRole) => this.map[role] ?? role;
      this.headerProblem = `the CSV header must name a '${want('ts')}' and an '${want('event')}' column (expected ${CSV_DEFAULT_COLUMNS.join(',')}; header: ${names.join(',')})`;
    }
    if (this.headerProblem) {
      this.unreadable.report(names.join(this.delimiter ?? ','), lineNo, this.headerProblem);
      return;
    }
    this.index = index;
  }

  pushUnreadable(text: string, lineNo: number, reason: string): void {
    this.unreadable.pushed(text, lineNo, reason);
  }

  /** A line fed to csv-parse that did not make an event (`raw` as csv-parse gives it back, newline and all). */
  private bad(line: number, raw: string, reason: string): void {
    if (!this.lastTerminated && line === this.lineNos[this.lineNos.length - 1]) this.own.truncated = true;
    this.unreadable.report(raw.replace(/\r?\n$/, ''), line, reason);
  }

  private fatal(err: Error, lineNo: number): void {
    this.dead = true;
    this.bad(lineNo, '', `CSV reading stopped: ${err.message}`);
  }
}

/** How sure we are that these first lines are CSV events with a header we know (0: not at all). */
export function sniffCsv(lines: readonly string[]): number {
  const first = lines.find((l) => l.trim() !== '' && !l.startsWith('#'));
  return first !== undefined && looksLikeCsvHeader(first) ? 10000 : 0;
}
