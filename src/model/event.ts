/**
 * The event model: one shape for every input format.
 *
 * Parsers produce {@link TraceRecord}s: events, plus coverage records that say
 * where the capture's data begins, where it lost events, and what the header
 * claimed. Nothing downstream looks at trace text again.
 */

/** A timestamp kept exactly as written, with an exact split for ordering. */
export interface Timestamp {
  /** The text as it appeared in the trace, e.g. `6.667004`, `23.565443123` or `182736451234`. */
  raw: string;
  /** Whole seconds (or, for bare-integer clocks, the value divided by 1e9, floored). */
  sec: number;
  /** Nanoseconds within `sec` (0 .. 999999999); for bare-integer clocks the low 9 digits. */
  nsec: number;
  /** `seconds` for ns clocks printed as seconds; `counter` for bare integers (counter, x86-tsc clocks). */
  unit: 'seconds' | 'counter';
}

/** Execution context decoded from the ftrace flags column (`d..2.`, `dNh7.`, ...). */
export interface ContextFlags {
  /** The column exactly as printed. */
  raw: string;
  /** `d`: interrupts disabled (also set for `D`). */
  irqsOff: boolean;
  /** `b`/`D`: bottom halves disabled. */
  bhOff: boolean;
  /** `X`: the arch cannot tell whether irqs are off. */
  irqsUnknown: boolean;
  /** need-resched: `N`, `n`, `p`, `L`, `l`, `B` (any of them). */
  needResched: boolean;
  /** `h`, `s`, `H` (hardirq inside softirq), `z`/`Z` (NMI). */
  hardirq: boolean;
  softirq: boolean;
  nmi: boolean;
  /** Preempt depth (hex nibble, 0 when `.`). */
  preemptDepth: number;
  /** Migrate-disable depth (fifth column on about 5.15+; 0 when `.` or absent). */
  migrateDisable: number;
  /** Extra columns we could not name (PREEMPT_RT lazy-preempt and the like), kept raw. */
  extra?: string;
}

export interface StackFrame {
  /** Symbol as printed (`try_to_unmap_one`, `0xffffffffc03a90c8`, `<00000000004004f4>`). */
  symbol: string;
  offset?: number;
  size?: number;
  module?: string;
  address?: string;
}

/** Where a kprobe/kretprobe fired, from the `(sym+off/size [mod])` or `(caller+off/size <- sym)` prefix. */
export interface ProbeSite {
  /** Probed function (kprobe) or the function returned from (kretprobe). Absent when only an address is shown. */
  symbol?: string;
  offset?: number;
  size?: number;
  module?: string;
  /** Raw address when the format prints `(ffffffffb7d20eb0)` instead of a symbol. */
  address?: string;
  /** For return probes: the call site returned to (`__split_huge_pmd+0x501/0xfe0`). */
  returnTo?: { symbol?: string; offset?: number; size?: number; address?: string };
  /** True for kretprobe lines (the `<-` form). */
  isReturn: boolean;
}

export interface SourceLocation {
  file: string;
  line: number;
}

/** How stdin (`-` on the command line) is named in reports, evidence and errors. */
export const STDIN_NAME = '<stdin>';

/** The name a path given on the command line has in source locations, reports and errors. */
export function inputName(path: string): string {
  return path === '-' ? STDIN_NAME : path;
}

export interface TraceEvent {
  kind: 'event';
  ts: Timestamp;
  /** CPU number, when the format shows it. */
  cpu?: number;
  /** Thread id (the ftrace "PID" column). */
  pid: number;
  /** Thread-group id, when record-tgid or the format shows it. */
  tgid?: number;
  /** Task name as printed (`<...>` when ftrace no longer knew it). */
  comm: string;
  /** Flags column, decoded; absent when the trace has no flags column. */
  ctx?: ContextFlags;
  /** Event name as printed (`mn_inv_start`, `tlb_flush`, `<stack trace>` never appears: stacks attach). */
  name: string;
  /** Event group when the format names it (`kprobes` in `kprobes:mn_inv_start`). */
  group?: string;
  /** kprobe/kretprobe location, when the payload starts with one. */
  probe?: ProbeSite;
  /** key=value pairs from the payload (values kept as text). */
  fields: Record<string, string>;
  /** The payload after `name: `, exactly as printed (without the probe-site prefix). */
  payload: string;
  /**
   * Where the payload's `key=value` tokens are, when the ftrace scanner read
   * them from the line's bytes (plain ASCII kprobe payloads): readers need
   * not search the payload again.
   */
  tokens?: PayloadTokens;
  /** Kernel stack attached from a following `<stack trace>` record. */
  stack?: StackFrame[];
  /** User stack attached from a following `<user stack trace>` record. */
  userStack?: StackFrame[];
  /**
   * The machine the event came from, in a report of several inputs
   * (`trace-cmd report -i host.dat -i guest.dat`: `trace.dat`, `trace-guest.dat`).
   * Each machine numbers its pids and CPUs on its own: see taskKey.
   */
  machine?: string;
  src: SourceLocation;
}

/**
 * The keys of a payload `k=v k=v ...` in order: each token's text up to its
 * first `=` with it (`k=`), `''` for a token without `=`. One shared, frozen
 * object per distinct sequence of keys.
 */
export interface PayloadKeys {
  readonly keys: readonly string[];
}

/** A payload's tokens (TraceEvent.tokens): its keys, and where each token's value ends in the payload. */
export interface PayloadTokens {
  keys: PayloadKeys;
  /** Per token, the offset just after its value (the next token starts one space later). */
  ends: number[];
  /** Bit t set: token t's value is a canonical pointer (`0x` + lower-case hex without leading zeros). */
  canonical: number;
}

/**
 * A task's identity across a capture: its pid, or in a report of several
 * machines (host and guest) the machine and the pid, since pid 318 of the
 * guest is not pid 318 of the host.
 */
export function taskKey(pid: number, machine: string | undefined): number | string {
  return machine === undefined ? pid : `${machine}/${pid}`;
}

/** `entries-in-buffer/entries-written: A/B #P:N` from the ftrace header. */
export interface HeaderRecord {
  kind: 'header';
  tracer?: string;
  entriesInBuffer?: number;
  entriesWritten?: number;
  cpus?: number;
  /** Latency format (`latency-format` option) was detected from the header. */
  latencyFormat?: boolean;
  /** Whether the header announced a flags column. */
  hasFlagsColumn?: boolean;
  /** Whether the header announced a TGID column (record-tgid). */
  hasTgidColumn?: boolean;
  /** What a trace.dat says of its capture: the trace clock, the traced machine (uname), what recorded it, its buffer instances ('' the top one). */
  clock?: string;
  uname?: string;
  recorder?: string;
  buffers?: string[];
  /** Per-CPU ring-buffer statistics recorded with the capture (a trace.dat's CPUSTAT options): overrun = oldest events overwritten, dropped = newest not written. */
  bufferStats?: Array<{ cpu: number; overrun: number; dropped: number; entries?: number }>;
  src: SourceLocation;
}

/** `CPU:N [LOST M EVENTS]`, `CPU:N [M EVENTS DROPPED]`, `CPU:N [EVENTS DROPPED]`. */
export interface LostEventsRecord {
  kind: 'lost';
  cpu: number;
  /** Number lost, when the marker says. */
  count?: number;
  /** Timestamp of the last event seen before the marker, if any (filled in by the parser). */
  after?: Timestamp;
  /** The machine whose CPU this is, in a report of several (see TraceEvent.machine). */
  machine?: string;
  src: SourceLocation;
}

/** `##### CPU N buffer started ####`: events before this on CPU N were not captured. */
export interface BufferStartedRecord {
  kind: 'buffer-started';
  cpu: number;
  src: SourceLocation;
}

/**
 * At the end of an input: its ftrace header counted more ring-buffer entries
 * (`entries-in-buffer`) than the file holds (event lines and stack records),
 * so lines were cut or removed after the capture (head, grep, sed, an editor).
 * Where the missing entries were is unknown: anywhere in the capture.
 */
export interface MissingEntriesRecord {
  kind: 'missing-entries';
  /** Entries the header(s) counted (the sum, when a file holds several captures one after another). */
  claimed: number;
  /** Entries the file holds, with the lines that could not be read (each may have been one). */
  found: number;
  /** The (first) header line that counted them. */
  src: SourceLocation;
}

/**
 * One part of a merged capture (a per-CPU file) ends early: its compressed
 * data is cut off or corrupt after `src.line`. The other parts go on, so the
 * events of this part's CPUs after its last event (`after`) are missing from
 * there to the end of the capture.
 */
export interface PartCutRecord {
  kind: 'part-cut';
  /** Timestamp of the part's last event, if it had one. */
  after?: Timestamp;
  /** Why the part stops there (the reader's message). */
  reason: string;
  /** The part and the last line read from it. */
  src: SourceLocation;
}

/** A line the parser could not read. Never dropped: counted and reported. */
export interface UnreadableRecord {
  kind: 'unreadable';
  reason: string;
  text: string;
  src: SourceLocation;
}

export type TraceRecord =
  | TraceEvent
  | HeaderRecord
  | LostEventsRecord
  | BufferStartedRecord
  | MissingEntriesRecord
  | PartCutRecord
  | UnreadableRecord;

/** Counters a user can trust, in the spirit of csv-parse's `info`. */
export interface ParseInfo {
  /** Physical lines read. */
  lines: number;
  /** Events produced. */
  events: number;
  /** Header / comment / blank / stack-frame lines consumed without producing an event. */
  consumed: number;
  /** Unreadable lines. */
  unreadable: number;
  /** Lost-event markers seen, and the events they say were lost (when counted). */
  lostMarkers: number;
  lostEvents: number;
  /** True when the final line had no newline and did not parse (a cut-off file). */
  truncated: boolean;
  /** Stack records with no event before them on the same task and CPU (read, counted, dropped). */
  orphanStacks: number;
  /** Lines taken as the continuation of a multi-line payload (trace_marker writes with newlines). */
  continuationLines: number;
  /** Lines of a tool's summary output rather than events (trace-cmd report's --profile, -w, --stat; also counted in `consumed`), where the format has it. */
  summaryLines?: number;
  /** What printed the first summary seen (said when an input holds a summary instead of events). */
  summaryOf?: string;
  /** Kernel console lines around a console dump of the trace (the oops, other messages): not trace, not unreadable (also in `consumed`). */
  consoleLines?: number;
}

export function emptyParseInfo(): ParseInfo {
  return { lines: 0, events: 0, consumed: 0, unreadable: 0, lostMarkers: 0, lostEvents: 0, truncated: false, orphanStacks: 0, continuationLines: 0 };
}

/**
 * The counters of several parts read as one (the parts of a merged capture, a
 * container and the parser of the text inside it): every counter added, every
 * flag or-ed, a description (`summaryOf`) the first part's. Counters a format
 * adds to ParseInfo are summed the same way, so no list of fields is kept here.
 */
export function sumParseInfo<T extends ParseInfo>(...parts: readonly T[]): T {
  const sum: Record<string, unknown> = { ...emptyParseInfo() };
  for (const part of parts) {
    for (const [k, v] of Object.entries(part)) {
      const had = sum[k];
      if (typeof v === 'number') sum[k] = (typeof had === 'number' ? had : 0) + v;
      else if (typeof v === 'boolean') sum[k] = had === true || v;
      else if (had === undefined) sum[k] = v;
    }
  }
  return sum as T;
}

/**
 * Lets a consumer (the check engine) say which events it needs in full. An
 * event it does not want is still read and counted; the parser reports just
 * its CPU, task, timestamp and line, which is what coverage and task liveness need.
 * Parsers that do not support filtering simply emit every event.
 */
export interface EventFilter {
  wants(name: string, group: string | undefined, probe: ProbeSite | undefined): boolean;
  /** A filtered-out event: its CPU, task, time (see timestampFromParts for `digits`) and line. */
  skipped(cpu: number | undefined, pid: number, sec: number, nsec: number, digits: number, line: number): void;
}
