/**
 * The contract between the engine and the rules (modelled on ESLint: a rule
 * is `meta` + `create(context)` returning handlers the engine calls).
 */
import type { Timestamp, TraceEvent } from '../model/event';
import type { Operation, Role } from '../semantics/operations';

export type Severity = 'error' | 'warning' | 'info';
export type Confidence = 'certain' | 'likely' | 'inconclusive';

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

export interface EvidenceRef {
  path: string;
  line: number;
  /** What this line is to the finding: an id of its rule's meta.evidenceRoles (`start`, `failed-return`, `proof`, ...). */
  role?: string;
  /** A compact rendering of the event (for people reading the report). */
  text?: string;
}

export interface Finding {
  ruleId: string;
  severity: Severity;
  confidence: Confidence;
  message: string;
  pid: number;
  comm: string;
  cpu?: number;
  /** In a report of several machines (host and guest): the machine of the task (TraceEvent.machine). */
  machine?: string;
  /** Timestamp of the main evidence event, exactly as printed in the trace. */
  timestamp: string;
  evidence: EvidenceRef[];
  /** Stable across runs, machines and directories (engine/fingerprint.ts): the one baselines and SARIF use. */
  fingerprint: string;
  /** Which of its rule's meta.messages the message is. */
  messageId: string;
  /**
   * Later findings of the same rule, confidence and code site (ReportDescriptor.site), counted here
   * instead of listed again: the same defect run again (a buggy callback on every invalidation).
   */
  repeats?: FindingRepeats;
}

/** How often a finding's code site did the same again after the finding, and the last time. */
export interface FindingRepeats {
  count: number;
  last: { path: string; line: number; timestamp: string };
}

/**
 * Findings of one rule, severity and confidence that were counted but not
 * kept (beyond EngineOptions.maxFindingsPerRule): a capture with a million
 * identical faults keeps its memory flat, and its counts stay exact.
 */
export interface UnlistedFindings {
  ruleId: string;
  severity: Severity;
  confidence: Confidence;
  count: number;
}

/** One invalidation range as the engine reconstructed it. */
export interface RangeRecord {
  /** Stable id within one analysis (`r17`). */
  id: string;
  pid: number;
  comm: string;
  start: Operation;
  /** The kretprobe of the start, when captured. */
  startReturn?: Operation;
  end?: Operation;
  /** Pairing key: the range pointer, or mm/start/end when no pointer was captured. */
  key: string;
  keyKind: 'pointer' | 'mm+start+end';
  /** Subscriber callbacks seen for this range on this task. */
  subscriberStarts: Operation[];
  subscriberEnds: Operation[];
  /** Depth in the task's stack of open ranges when it started (0 = outermost). */
  depth: number;
  /** Evidence for who called a non-blocking start (filled in by the engine). */
  caller?: CallerEvidence;
}

/** Why the engine believes a start was (or was not) issued by the OOM reaper. */
export interface CallerEvidence {
  /** `reaper` = the OOM reaper path; `other` = something else; `unknown` = nothing captured says. */
  verdict: 'reaper' | 'other' | 'unknown';
  /** What the verdict rests on, in words, e.g. `stack frame __oom_reap_task_mm`. */
  basis: string;
  /** The caller named by the evidence, when it names one. */
  caller?: string;
  evidence: TraceEvent[];
}

/** The engine's verdict on a missing partner. */
export interface Verdict {
  confidence: Confidence;
  /** Why, in words a kernel engineer can check. */
  reason: string;
  /** Other events that back the reason (an enclosing end, the restart, the exit). */
  evidence: TraceEvent[];
}

export interface SubscriberImbalance {
  subscriber: string;
  subscriberKind?: string;
  pid: number;
  comm: string;
  /** The range pointer (or key) the callbacks were for. */
  key: string;
  /** start without end (count left raised) or end without start (count driven down). */
  direction: 'start-without-end' | 'end-without-start';
  ops: Operation[];
  /** The core range, when the engine saw it. */
  range?: RangeRecord;
  verdict: Verdict;
}

/** A rule's handler for the operations of one role. */
export type OperationHandler = (op: Operation, task: TaskView) => void;

/**
 * Operation handlers by role, like ESLint's node-type selectors:
 * `{ 'secondary-tlb'(op, task) { ... } }`. The engine calls each only for
 * operations of its role (as a plain function, without `this`).
 */
export type OperationHandlers = { [R in Role]?: OperationHandler };

/** Handlers a rule may return from create(). All optional. */
export interface RuleHandlers {
  /** Recognised operations of the roles named, in per-task order. */
  on?: OperationHandlers;
  /** A core start was seen (its return may come later). */
  rangeStart?(range: RangeRecord, task: TaskView): void;
  /** A core start's outcome is known: its return arrived, or its end / the trace's end came without one. */
  rangeStartResolved?(range: RangeRecord): void;
  /** A start and its end were paired. */
  pairClosed?(range: RangeRecord): void;
  /** A start that returned 0 (or whose return was not captured) never got its end. */
  pairLeftOpen?(range: RangeRecord, verdict: Verdict): void;
  /** A start returned non-zero (failed); `end` is set when an end followed it anyway. */
  startFailed?(range: RangeRecord): void;
  endAfterFailedStart?(range: RangeRecord, end: Operation): void;
  /** An end with no start on that task. */
  orphanEnd?(end: Operation, verdict: Verdict): void;
  subscriberImbalance?(imbalance: SubscriberImbalance): void;
  endOfTrace?(): void;
}

/** Read-only view of a task's state that rules may consult. */
export interface TaskView {
  /** taskKey(pid, machine): what tells this task from another of the same pid on another machine. */
  key: number | string;
  pid: number;
  comm: string;
  /** Ranges open on this task, outermost first. */
  openRanges: readonly RangeRecord[];
  /** Inside an oom:start_task_reaping ... finish_task_reaping window of this task. */
  inOomReapWindow?: TraceEvent;
  /** The most recent `__oom_reap_task_mm` entry on this task. */
  lastOomReap?: Operation;
}

/** What a rule reports (ESLint's context.report): a message of its meta.messages by id, with the data for its {{placeholders}}. */
export interface ReportDescriptor<MessageId extends string = string, RoleId extends string = string> {
  messageId: MessageId;
  data?: Record<string, string | number | undefined>;
  confidence: Confidence;
  /** The main event (its task, cpu and timestamp head the finding). */
  event: TraceEvent;
  /** All events involved (the main one first), each with its role: an id of the rule's meta.evidenceRoles. */
  evidence: Array<{ ev: TraceEvent; role?: RoleId }>;
  /**
   * The code the finding is about (e.g. an allocation's call_site), where one exists: a later
   * report of the same rule, confidence and site is counted on the first finding
   * (Finding.repeats) instead of listed again.
   */
  site?: string;
}

export interface CoverageView {
  /** True when events were lost (markers or overwritten head) anywhere between a and b. */
  lossBetween(a: Timestamp | undefined, b: Timestamp | undefined): boolean;
  /** Whether any kprobe event in the capture showed interrupts enabled (kprobes on ftrace report the probed context). */
  kprobeIrqsOnSeen(): boolean;
}

/**
 * Which kernel was assumed and why: the release given (`option`: --kernel or
 * the library's `kernel`), a capture directory's `uname.txt`, or `unknown`:
 * then no older kernel is assumed, and a verdict that depends on the version
 * is at most likely.
 */
export interface KernelBasis {
  release?: string;
  source: 'option' | 'uname.txt' | 'unknown';
}

/** The kernel the trace was captured on, when the user said (`--kernel 6.1.0-56-amd64`). */
export interface KernelInfo {
  /** As given, e.g. `6.1.0-56-amd64`. */
  version: string;
  major: number;
  minor: number;
  /** The stable patch level (`5.10.27` -> 27), 0 when not given. */
  patch?: number;
}

export interface RuleContext<Options = Record<string, unknown>, MessageId extends string = string, RoleId extends string = string> {
  id: string;
  severity: Severity;
  /** The rule's options: its defaultOptions with the config's on top (validated against its schema). */
  options: Options;
  coverage: CoverageView;
  /** Unknown unless the user gave it: rules must then say which versions their verdict holds for. */
  kernel?: KernelInfo;
  report(d: ReportDescriptor<MessageId, RoleId>): void;
  /**
   * The task's innermost open range that may be on `mm` (its mm is `mm`, or either was not captured),
   * found without scanning every range the task holds.
   */
  latestOpenOn(task: TaskView, mm: string | undefined): RangeRecord | undefined;
}

export interface RuleDocs {
  description: string;
  /** Why the kernel forbids it: function, file, behaviour. */
  rationale: string;
  /** Commits the rule rests on, `c2655835fd8c (v5.12): mm/mmu_notifiers: ensure range_end() is paired with range_start()`. */
  commits: string[];
  /** Kernel versions the verdict holds for. */
  kernels: string;
  /** What to capture to get a certain verdict. */
  capture?: string;
}

export interface RuleMeta {
  id: string;
  defaultSeverity: Severity;
  docs: RuleDocs;
  /** Message templates with {{placeholders}}. */
  messages: Readonly<Record<string, string>>;
  /**
   * What an evidence line can be to a finding of this rule, by role id. A
   * finding's evidence carries the id (its fingerprint is made from it), so
   * the words here can be changed without changing a fingerprint.
   */
  evidenceRoles: Readonly<Record<string, string>>;
  /** JSON Schema of the rule's options object (validated with ajv). */
  schema?: OptionsSchema;
  /** Option defaults. */
  defaultOptions?: Record<string, unknown>;
  /**
   * Roles (beyond the engine's own: range start/return/end, subscriber start/end,
   * OOM reaping, task exit) whose events this rule needs in full through its
   * `on` handlers. Events of other roles are only counted, for speed.
   */
  operations?: Role[];
  /**
   * Its findings rest on an event being absent from the trace (an end, a
   * start, a callback, an invalidation in between). When the input turns out
   * to hold fewer entries than its header counted, lines were cut or removed
   * and the absent event may have been on one of them: the engine then makes
   * those findings inconclusive (see Coverage.missingEntries).
   */
  restsOnAbsence?: boolean;
}

export interface RuleModule {
  meta: RuleMeta;
  create(context: RuleContext): RuleHandlers;
}

/** The JSON Schema of a rule's options: an object of named properties. */
export interface OptionsSchema {
  readonly type: 'object';
  readonly additionalProperties?: boolean;
  readonly properties: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * A rule's options schema: an object of these properties and no others (a
 * misspelt option is an error, not ignored), as every rule's options are. The
 * properties keep their literal types, so defineRule types the options from them.
 */
export function optionsSchema<const P extends OptionsSchema['properties']>(
  properties: P,
): { readonly type: 'object'; readonly additionalProperties: false; readonly properties: P } {
  return { type: 'object', additionalProperties: false, properties };
}

/** The TypeScript type of a value its JSON Schema describes (the types rule options use). */
type SchemaValue<P> =
  P extends { readonly enum: ReadonlyArray<infer E> } ? E
  : P extends { readonly type: 'number' | 'integer' } ? number
  : P extends { readonly type: 'string' } ? string
  : P extends { readonly type: 'boolean' } ? boolean
  : P extends { readonly type: 'array'; readonly items: infer I } ? ReadonlyArray<SchemaValue<I>>
  : P extends { readonly type: readonly ['string', 'null'] } ? string | null
  : unknown;

/** A rule's options as its schema types them: an option with a default is always there, another may be absent. */
export type SchemaOptions<S, D> = S extends { readonly properties: infer P }
  ? { readonly [K in keyof P]: K extends keyof D ? SchemaValue<P[K]> : SchemaValue<P[K]> | undefined }
  : Record<string, never>;

/**
 * Define a rule (as ESLint's RuleCreator does): create() gets its options
 * typed from meta.schema and meta.defaultOptions, and report() takes only the
 * ids of meta.messages and, for evidence roles, of meta.evidenceRoles.
 */
export function defineRule<
  const Messages extends Readonly<Record<string, string>>,
  const Roles extends Readonly<Record<string, string>>,
  const Schema extends OptionsSchema = { type: 'object'; properties: {} },
  const Defaults extends { readonly [K in keyof Schema['properties']]?: unknown } = {},
>(rule: {
  meta: Omit<RuleMeta, 'messages' | 'evidenceRoles' | 'schema' | 'defaultOptions'> & { messages: Messages; evidenceRoles: Roles; schema?: Schema; defaultOptions?: Defaults };
  create(context: RuleContext<SchemaOptions<Schema, Defaults>, Extract<keyof Messages, string>, Extract<keyof Roles, string>>): RuleHandlers;
}): RuleModule & { meta: { messages: Messages } } {
  return rule as unknown as RuleModule & { meta: { messages: Messages } };
}

/** Fill `{{name}}` placeholders. */
export function format(template: string, data: Record<string, string | number | undefined>): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => (data[k] === undefined ? `{{${k}}}` : String(data[k])));
}
