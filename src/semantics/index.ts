/**
 * The semantics layer: which trace events mean which kernel operation.
 *
 * kprobes are recognised by the probed symbol printed in the line, whatever the
 * user named the event; where a format prints only an address, by the kprobe
 * definitions the user captured (`--kprobe-events`), by perf's default names
 * (`probe:<symbol>`, `probe:<symbol>__return`), or by the names `mntrace probes`
 * gives. Tracepoints are recognised by name.
 */
import type { PayloadKeys, ProbeSite, TraceEvent } from '../model/event';
import { parseIntegerField, parseSmallInt } from '../model/fields';
import catalogJson from './catalog.json';
import catalogSchema from './catalog.schema.json';
import { compileSchema, explainAjvErrors } from '../config/ajv';
import type { KprobeDefinition } from './kprobe-events';
import type { Operation, RangeArgs, Role } from './operations';

export interface Catalog {
  probes: Array<{ symbol: string; return: boolean; role: Role; subscriber?: string; doc?: string }>;
  eventNames: Record<string, string>;
  tracepoints: Array<{ name: string; group?: string; role: Role; pattern?: string; when?: string; doc?: string }>;
  fields: Record<string, string[]>;
}

/** What a user's config may say about events (see config.schema.json). */
export interface EventMapping {
  /** The probed function this event fires on (`%return` suffix or `return: true` for a return probe). */
  symbol?: string;
  return?: boolean;
  /** Or the role directly. */
  role?: Role;
  /** Field renames: our name -> the name in this event's payload. */
  fields?: Record<string, string>;
}

export interface SemanticsOptions {
  kprobeDefinitions?: KprobeDefinition[];
  events?: Record<string, EventMapping>;
  /** Extra field aliases, merged before the catalog's. */
  fields?: Record<string, string[]>;
}

interface Resolved {
  role: Role;
  subscriberKind?: string;
  pattern?: RegExp;
  /** The payload must match this for the event to have the role (`print` events: only trace_marker writes). */
  when?: RegExp;
  fieldRenames?: Record<string, string>;
  /** The payload layouts this event's kprobe hits were last seen with (see PayloadLayout), most recent first. */
  layouts?: PayloadLayout[];
}

/** Per name, the role of each probe site (by probed symbol; '' for an address-only site). */
interface CacheEntry {
  plain: Resolved | typeof NONE | undefined;
  bySite: Map<string, Resolved | typeof NONE> | undefined;
  byReturnSite: Map<string, Resolved | typeof NONE> | undefined;
  /** The last probe site looked up and its answer (parsers share one ProbeSite object per distinct site). */
  lastProbe: ProbeSite | undefined;
  lastSite: Resolved | typeof NONE | undefined;
}

interface Tracepoint {
  group?: string;
  role: Role;
  pattern?: RegExp;
  when?: RegExp;
}

/** Unmapped kprobe names kept for the report (Semantics.unmappedKprobes). */
const UNMAPPED_KEPT = 20;

const NONE: unique symbol = Symbol('none');

/**
 * The built-in catalog. It is data shipped with the code, so it is checked
 * against catalog.schema.json by the tests (catalogErrors), not on every run
 * (compiling the schema would cost each run about 50 ms).
 */
export function loadCatalog(): Catalog {
  return catalogJson as unknown as Catalog;
}

/** A catalog's schema errors (ajv), or undefined when it is valid. */
export function catalogErrors(catalog: unknown): string | undefined {
  const validate = compileSchema(catalogSchema);
  return validate(catalog) ? undefined : explainAjvErrors(validate.errors, '');
}

/** Event names whose resolution is cached, at most (past it the cache starts afresh). */
const CACHE_NAMES = 4096;

export class Semantics {
  private readonly byProbe = new Map<string, { role: Role; subscriber?: string }>();
  private readonly byEventName = new Map<string, { symbol: string; isReturn: boolean }>();
  private readonly tracepoints = new Map<string, Tracepoint[]>();
  /** Tracepoints named by a prefix (`sys_enter_*`), by that prefix. */
  private readonly tracepointPrefixes: Array<[string, Tracepoint]> = [];
  private readonly userEvents: Map<string, EventMapping>;
  private readonly fieldAliases: Record<string, string[]>;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly reader: FieldReader;

  constructor(readonly catalog: Catalog = loadCatalog(), opts: SemanticsOptions = {}) {
    for (const p of catalog.probes) this.byProbe.set(probeKey(p.symbol, p.return), { role: p.role, subscriber: p.subscriber });
    for (const [name, target] of Object.entries(catalog.eventNames)) {
      if (name.startsWith('$')) continue;
      this.byEventName.set(name, splitTarget(target));
    }
    // Definitions the user captured take precedence over our default names.
    for (const d of opts.kprobeDefinitions ?? []) this.byEventName.set(d.event, { symbol: d.symbol, isReturn: d.isReturn });
    for (const t of catalog.tracepoints) {
      const tp: Tracepoint = { group: t.group, role: t.role, pattern: t.pattern ? new RegExp(t.pattern) : undefined, when: t.when ? new RegExp(t.when) : undefined };
      if (t.name.endsWith('*')) {
        this.tracepointPrefixes.push([t.name.slice(0, -1), tp]);
        continue;
      }
      const list = this.tracepoints.get(t.name) ?? [];
      list.push(tp);
      this.tracepoints.set(t.name, list);
    }
    this.userEvents = new Map(Object.entries(opts.events ?? {}));
    this.fieldAliases = {};
    for (const [k, v] of Object.entries(catalog.fields)) this.fieldAliases[k] = [...(opts.fields?.[k] ?? []), ...v];
    for (const [k, v] of Object.entries(opts.fields ?? {})) if (!this.fieldAliases[k]) this.fieldAliases[k] = v;
    this.reader = new FieldReader(this.fieldAliases);
  }

  /** The kernel operation an event stands for, or undefined for events the rules do not need. */
  resolve(ev: TraceEvent): Operation | undefined {
    const r = this.lookup(ev.name, ev.group, ev.probe);
    if (r === undefined || (r.when !== undefined && !r.when.test(ev.payload))) return undefined;
    return this.extract(ev, r);
  }

  /** Just the role (for parsers' event filters), from what a parser knows before building the event. */
  roleOf(name: string, group: string | undefined, probe: ProbeSite | undefined): Role | undefined {
    return this.lookup(name, group, probe)?.role;
  }

  /** Two-level cache (name, then probe site) so the hot path builds no strings. */
  private lookup(name: string, group: string | undefined, probe: ProbeSite | undefined): Resolved | undefined {
    const nameKey = group === undefined ? name : `${group}:${name}`;
    let entry = this.cache.get(nameKey);
    if (entry === undefined) {
      entry = { plain: undefined, bySite: undefined, byReturnSite: undefined, lastProbe: undefined, lastSite: undefined };
      // Event names are few in a capture; a file of garbage names is not to make this grow with the file.
      if (this.cache.size >= CACHE_NAMES) this.cache.clear();
      this.cache.set(nameKey, entry);
    }
    let r: Resolved | typeof NONE | undefined;
    if (probe === undefined) {
      r = entry.plain;
      if (r === undefined) r = entry.plain = this.classify(name, group, probe) ?? NONE;
    } else if (probe === entry.lastProbe) {
      r = entry.lastSite;
    } else {
      // classify() depends on the site's symbol and direction only. A symbol is never empty: '' stands for an address.
      const sites = probe.isReturn ? (entry.byReturnSite ??= new Map()) : (entry.bySite ??= new Map());
      const siteKey = probe.symbol ?? '';
      r = sites.get(siteKey);
      if (r === undefined) {
        r = this.classify(name, group, probe) ?? NONE;
        sites.set(siteKey, r);
      }
      entry.lastProbe = probe;
      entry.lastSite = r;
    }
    return r === NONE ? undefined : r;
  }

  /**
   * Kprobe events printed with an address only (trace-cmd report, perf script)
   * whose name maps to no probed function: what `--kprobe-events` would name
   * (`group:name` as printed; at most UNMAPPED_KEPT).
   */
  readonly unmappedKprobes = new Set<string>();

  /** A role for the event's name/probe, or undefined (noting an address-only kprobe it cannot map). */
  private classify(name: string, group: string | undefined, probe: ProbeSite | undefined): Resolved | undefined {
    const r = this.classifyNamed(name, group, probe);
    if (r === undefined && probe !== undefined && probe.symbol === undefined && this.unmappedKprobes.size < UNMAPPED_KEPT) {
      this.unmappedKprobes.add(group === undefined ? name : `${group}:${name}`);
    }
    return r;
  }

  private classifyNamed(name: string, group: string | undefined, probe: ProbeSite | undefined): Resolved | undefined {
    const ev = { name, group, probe };
    const user = this.userEvents.get(ev.name) ?? (ev.group ? this.userEvents.get(`${ev.group}:${ev.name}`) : undefined);
    if (user) {
      if (user.role) return { role: user.role, fieldRenames: user.fields };
      if (user.symbol) {
        const t = splitTarget(user.symbol);
        const hit = this.byProbe.get(probeKey(t.symbol, user.return ?? t.isReturn));
        if (hit) return { role: hit.role, subscriberKind: hit.subscriber, fieldRenames: user.fields };
      }
    }
    // 1. The probed symbol printed in the line.
    if (ev.probe?.symbol) {
      const hit = this.byProbe.get(probeKey(ev.probe.symbol, ev.probe.isReturn));
      if (hit) return { role: hit.role, subscriberKind: hit.subscriber };
      return undefined;
    }
    // 2. An address-only probe (or a format without the prefix): by event name.
    const named = this.byEventName.get(ev.name);
    if (named) {
      const hit = this.byProbe.get(probeKey(named.symbol, ev.probe?.isReturn ?? named.isReturn));
      if (hit) return { role: hit.role, subscriberKind: hit.subscriber };
    }
    // 3. perf's default names: probe:<symbol> and probe:<symbol>__return.
    const isRet = ev.name.endsWith('__return');
    const sym = isRet ? ev.name.slice(0, -'__return'.length) : ev.name;
    const perf = this.byProbe.get(probeKey(sym, isRet || (ev.probe?.isReturn ?? false)));
    if (perf && (ev.probe !== undefined || ev.group === 'probe' || ev.group === 'kprobes')) {
      return { role: perf.role, subscriberKind: perf.subscriber };
    }
    // 4. Tracepoints by name (and group, when the format shows one).
    const tps = this.tracepoints.get(ev.name) ?? this.tracepointPrefixes.filter(([prefix]) => ev.name.startsWith(prefix)).map(([, t]) => t);
    const tp = tps.find((t) => !ev.group || !t.group || t.group === ev.group);
    if (tp) return { role: tp.role, pattern: tp.pattern, when: tp.when };
    return undefined;
  }

  private extract(ev: TraceEvent, r: Resolved): Operation {
    const f = this.reader;
    f.begin(ev, r);
    // One shape for every operation (and its args): the engine and the rules read them at every event.
    const op: Operation = {
      role: r.role, ev, args: { range: undefined, mm: undefined, start: undefined, end: undefined, flags: undefined, event: undefined },
      blockable: undefined, ret: undefined, returnSite: undefined, onlyEnd: undefined, subscriber: undefined, subscriberKind: undefined,
    };
    switch (r.role) {
      case 'range-start':
      case 'range-end':
      case 'subscriber-start':
      case 'subscriber-end':
        rangeArgs(f, r.role, true, op.args);
        if (r.role === 'range-start' && op.args.flags !== undefined) op.blockable = (op.args.flags & 1) === 1;
        if (r.role === 'range-end') {
          const oe = f.field(F.onlyEnd);
          if (oe !== undefined) op.onlyEnd = oe !== '0' && oe !== 'false';
        }
        if (r.role === 'subscriber-start' || r.role === 'subscriber-end') {
          op.subscriber = f.pointer(F.subscriber);
          op.subscriberKind = r.subscriberKind;
        }
        break;
      case 'range-start-return': {
        const raw = f.field(F.ret) ?? ev.fields.arg1;
        op.ret = toReturnValue(raw);
        const site = ev.probe?.returnTo?.symbol;
        if (site) op.returnSite = site;
        break;
      }
      case 'secondary-tlb':
      case 'subscriber-secondary-tlb':
        rangeArgs(f, r.role, false, op.args);
        if (r.role === 'subscriber-secondary-tlb') {
          op.subscriber = f.pointer(F.subscriber);
          op.subscriberKind = r.subscriberKind;
        }
        break;
      case 'oom-reap':
      case 'notifier-register':
      case 'notifier-release':
        op.args.mm = f.pointer(F.mm) ?? normalizePointer(ev.fields.arg1);
        break;
      case 'oom-reap-begin':
      case 'oom-reap-end':
      case 'oom-victim': {
        const pid = f.field(F.pid);
        if (pid !== undefined && /^\d+$/.test(pid)) op.targetPid = Number(pid);
        break;
      }
      case 'task-exit': {
        const pid = f.field(F.pid);
        op.targetPid = pid !== undefined && /^\d+$/.test(pid) ? Number(pid) : ev.pid;
        break;
      }
      case 'alloc':
        op.gfp = f.field(F.gfp);
        break;
      case 'interval-insert':
      case 'interval-remove':
      case 'interval-read-begin':
        rangeArgs(f, r.role, false, op.args);
        op.interval = f.pointer(F.interval) ?? normalizePointer(ev.fields.arg1);
        break;
      case 'itree-inv-start':
        rangeArgs(f, r.role, true, op.args);
        break;
      case 'device-fault':
        op.address = f.pointer(F.address);
        op.device = f.field(F.device);
        break;
      case 'gup-fast-pin':
      case 'anon-exclusive-clear':
      case 'ksm-write-protect': {
        op.page = f.pointer(F.page) ?? normalizePointer(ev.fields.arg1);
        op.pfn = f.pointer(F.pfn);
        op.address = f.pointer(F.address);
        const mm = f.pointer(F.mm);
        if (mm !== undefined) op.args.mm = mm;
        break;
      }
      default:
        break;
    }
    if (r.pattern) {
      const m = r.pattern.exec(ev.payload);
      if (m?.groups) {
        op.extra = { ...m.groups };
        if (m.groups.start !== undefined) op.args.start = normalizePointer(m.groups.start);
        if (m.groups.end !== undefined) op.args.end = normalizePointer(m.groups.end);
        if (m.groups.address !== undefined && op.address === undefined) op.address = normalizePointer(m.groups.address);
        if (m.groups.device !== undefined && op.device === undefined) op.device = m.groups.device;
        if (m.groups.driver !== undefined && op.driver === undefined) op.driver = m.groups.driver;
      }
    }
    return op;
  }
}

/** The fields extract() reads, by our names (each looked up through its aliases and the event's renames). */
const FIELD_NAMES = ['range', 'mm', 'start', 'end', 'flags', 'event', 'onlyEnd', 'ret', 'subscriber', 'pid', 'gfp', 'address', 'device', 'page', 'pfn', 'interval'] as const;
/** Payload keys extract() reads as printed (older probe definitions' names). */
const RAW_KEYS = ['arg1', 'range_start', 'range_end', 'range_flags', 'blockable', 'range_event'] as const;
/** Their indexes: `F.range`, `K.range_start`. */
const F = indexes(FIELD_NAMES);
const K = indexes(RAW_KEYS);

function indexes<T extends string>(names: readonly T[]): Record<T, number> {
  const o = {} as Record<T, number>;
  names.forEach((n, i) => (o[n] = i));
  return o;
}

/** Fill `a` (an operation's empty args) with the range fields the event has. */
function rangeArgs(f: FieldReader, role: Role, withRange: boolean, a: RangeArgs): void {
  if (withRange) {
    const range = f.pointer(F.range) ?? (role === 'range-start' || role === 'range-end' ? f.rawPointer(K.arg1) : undefined);
    if (range !== undefined) a.range = range;
  }
  const mm = f.pointer(F.mm);
  if (mm !== undefined) a.mm = mm;
  const start = f.pointer(F.start) ?? f.rawPointer(K.range_start);
  if (start !== undefined) a.start = start;
  const end = f.pointer(F.end) ?? f.rawPointer(K.range_end);
  if (end !== undefined) a.end = end;
  const flags = parseSmallInt(f.field(F.flags) ?? f.raw(K.range_flags));
  if (flags !== undefined) a.flags = flags;
  else {
    // 4.19-5.1 ranges carry `bool blockable` instead of a flags word (mntrace probes names it `blockable`).
    const blockable = f.raw(K.blockable);
    if (blockable !== undefined) a.flags = blockable === '0' || blockable === 'false' ? 0 : 1;
  }
  const event = parseSmallInt(f.field(F.event) ?? f.raw(K.range_event));
  if (event !== undefined) a.event = event;
}

/**
 * Where one event's payload tokens (split at single spaces) are, for payloads
 * whose keys repeat in the same order on every hit: kprobe fetch-args print
 * `k=v k=v ...` with the keys of the probe definition. Which token holds which
 * field is worked out once per layout; each later payload is only checked
 * (by one regular expression) to have the same key at the start of each token.
 */
class PayloadLayout {
  /** Per token, `key=` (the token's text up to its first `=`), or '' for a token without `=`. */
  readonly needles: string[];
  /** The token holding each of our fields (FIELD_NAMES order: the first token keyed by its first alias present), -1 for none. */
  readonly fieldTokens: Int32Array;
  /** The first token with each of RAW_KEYS as its key, -1 for none. */
  readonly keyTokens: Int32Array;
  /** Per token, 1 where the learning payload's value was a canonical pointer (`0x` + lower-case hex, no leading zero). */
  readonly hexTokens: Uint8Array;
  /** Matches exactly the payloads whose tokens have these keys (no more, no fewer tokens). */
  private readonly pattern: RegExp;
  /** The same, with canonical pointers in the hexTokens (usually true on every hit: `:x64` fetch-args print them so). */
  private readonly strict: RegExp | undefined;

  /** `needles` as described there; `hexTokens` as well, with the patterns to match payloads when `matching`. */
  constructor(needles: string[], hexTokens: Uint8Array, aliases: Record<string, string[]>, matching: boolean) {
    this.needles = needles;
    this.hexTokens = hexTokens;
    const token = (strict: boolean) => (n: string, i: number): string =>
      n === '' ? '[^ =]*' : escapeRegExp(n) + (strict && this.hexTokens[i] === 1 ? CANONICAL_HEX : '[^ ]*');
    this.pattern = matching ? new RegExp(`^${this.needles.map(token(false)).join(' ')}$`) : NEVER;
    this.strict = matching && this.hexTokens.includes(1) ? new RegExp(`^${this.needles.map(token(true)).join(' ')}$`) : undefined;
    const first = (key: string): number => this.needles.indexOf(key + '=');
    this.keyTokens = Int32Array.from(RAW_KEYS, first);
    this.fieldTokens = Int32Array.from(FIELD_NAMES, (name) => {
      for (const a of aliases[name] ?? [name]) {
        const t = first(a);
        if (t >= 0) return t;
      }
      return -1;
    });
  }

  /** The layout of `payload`, learnt from it. */
  static learn(payload: string, aliases: Record<string, string[]>): PayloadLayout {
    const tokens = payload.split(' ');
    const needles = tokens.map((t) => {
      const eq = t.indexOf('=');
      return eq < 0 ? '' : t.slice(0, eq + 1);
    });
    const hexTokens = Uint8Array.from(tokens, (t, i) => (needles[i] !== '' && isCanonicalHex(t.slice(needles[i].length)) ? 1 : 0));
    return new PayloadLayout(needles, hexTokens, aliases, true);
  }

  /** The layout of the tokens the ftrace scanner read (TraceEvent.tokens): where their values are is known, nothing to match. */
  static ofKeys(keys: PayloadKeys, aliases: Record<string, string[]>): PayloadLayout {
    return new PayloadLayout([...keys.keys], new Uint8Array(keys.keys.length), aliases, false);
  }

  /**
   * Whether `payload` has this layout: NO_MATCH, MATCH, or MATCH_CANONICAL
   * (the hexTokens' values are canonical pointers); on a match, record where
   * each token's value is.
   */
  match(payload: string, from: Int32Array, to: Int32Array): number {
    let result: number;
    if (this.strict !== undefined && this.strict.test(payload)) result = MATCH_CANONICAL;
    else if (this.pattern.test(payload)) result = MATCH;
    else return NO_MATCH;
    const needles = this.needles;
    let pos = 0;
    for (let i = 0; i < needles.length; i++) {
      const value = pos + needles[i].length;
      let sp = payload.indexOf(' ', value);
      if (sp < 0) sp = payload.length;
      from[i] = value;
      to[i] = sp;
      pos = sp + 1;
    }
    return result;
  }
}

const NO_MATCH = 0;
const MATCH = 1;
const MATCH_CANONICAL = 2;
/** A pattern for a layout that is never matched against text. */
const NEVER = /$^/;
/** A canonical pointer, as a regular expression source (see isCanonicalHex). */
const CANONICAL_HEX = '0x(?:0|[1-9a-f][0-9a-f]{0,15})';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * The most tokens a learnt layout has: a kprobe prints at most 128 fetch-args
 * (MAX_TRACE_ARGS in kernel/trace/trace_probe.h), plus its probe site. A
 * payload of more (a line padded with thousands of spaces) would make a
 * pattern too big to compile.
 */
const MAX_LAYOUT_TOKENS = 130;

/** Tokens of a payload split at single spaces (counting stops past MAX_LAYOUT_TOKENS). */
function tokenCount(payload: string): number {
  let n = 1;
  for (let i = payload.indexOf(' '); i >= 0 && n <= MAX_LAYOUT_TOKENS; i = payload.indexOf(' ', i + 1)) n++;
  return n;
}

/** Layouts kept per event (a probe redefined with other fetch-args between captures, say). */
const MAX_LAYOUTS = 4;

/**
 * Reads fields by our names from one event at a time (after begin()), with
 * no allocation per event beyond the values returned. kprobe payloads
 * without quotes (`k=v` tokens, values without spaces) are read straight
 * from the payload text: a field is the value of the first token that starts
 * with one of its aliases and `=`, trying the aliases in order. Other events
 * go through their parsed `fields`, with the event's renames first.
 * pointer() gives a field normalised (normalizePointer), with no check of its
 * own where the layout's strict pattern has shown the value canonical.
 */
class FieldReader {
  private ev: TraceEvent | undefined;
  private r: Resolved | undefined;
  private direct = false;
  /** The layout the current payload matched (direct reads only). */
  private layout: PayloadLayout | undefined;
  /** The payload matched its layout's canonical pointers too. */
  private canonical = false;
  /** Tokens the scanner read: bit t set when token t is a canonical pointer (else -1). */
  private tokenBits = -1;
  private from = new Int32Array(32);
  private to = new Int32Array(32);
  /** `alias=` search strings per field name (direct reads without a layout). */
  private readonly needles: Record<string, string[]> = {};
  /**
   * Layouts give the same answers as searching the text only when no alias
   * contains a space or `=` (a user's config could say so): else never used.
   */
  private readonly layoutsExact: boolean;

  constructor(private readonly aliases: Record<string, string[]>) {
    this.layoutsExact = Object.values(aliases).every((list) => list.every((a) => a.indexOf(' ') < 0 && a.indexOf('=') < 0));
  }

  begin(ev: TraceEvent, r: Resolved): void {
    this.ev = ev;
    this.r = r;
    this.tokenBits = -1;
    const tokens = ev.tokens;
    if (tokens !== undefined && ev.probe !== undefined && r.fieldRenames === undefined && this.layoutsExact) {
      // Read by the scanner (a payload without `"`): where each value is, and which are canonical pointers, is known.
      this.direct = true;
      const layout = this.layoutOfKeys(tokens.keys);
      const needles = layout.needles;
      const ends = tokens.ends;
      if (ends.length > this.from.length) this.grow(ends.length);
      let pos = 0;
      for (let t = 0; t < ends.length; t++) {
        this.from[t] = pos + needles[t].length;
        this.to[t] = ends[t];
        pos = ends[t] + 1;
      }
      this.tokenBits = tokens.canonical;
      this.layout = layout;
      return;
    }
    this.direct = ev.probe !== undefined && r.fieldRenames === undefined && ev.payload.indexOf('"') < 0;
    this.layout = this.direct && this.layoutsExact ? this.layoutOf(ev.payload, r) : undefined;
  }

  /** Layouts of the key lists the scanner read payloads with. */
  private readonly byKeys = new Map<PayloadKeys, PayloadLayout>();

  private layoutOfKeys(keys: PayloadKeys): PayloadLayout {
    let l = this.byKeys.get(keys);
    if (l === undefined) {
      l = PayloadLayout.ofKeys(keys, this.aliases);
      if (this.byKeys.size < 1024) this.byKeys.set(keys, l);
    }
    return l;
  }

  private grow(tokens: number): void {
    this.from = new Int32Array(tokens * 2);
    this.to = new Int32Array(tokens * 2);
  }

  /** One of our fields (`F.range`). */
  field(id: number): string | undefined {
    const ev = this.ev as TraceEvent;
    const layout = this.layout;
    if (layout !== undefined) {
      const t = layout.fieldTokens[id];
      return t < 0 ? undefined : ev.payload.slice(this.from[t], this.to[t]);
    }
    const name = FIELD_NAMES[id];
    if (this.direct) {
      const needles = this.needles[name] ?? (this.needles[name] = (this.aliases[name] ?? [name]).map((a) => a + '='));
      for (let i = 0; i < needles.length; i++) {
        const v = valueOf(ev.payload, needles[i]);
        if (v !== undefined) return v;
      }
      return undefined;
    }
    return this.pick(ev.fields, name);
  }

  /** One of our fields as a pointer (normalizePointer), already known canonical when the layout's pattern said so. */
  pointer(id: number): string | undefined {
    const layout = this.layout;
    if (layout !== undefined) return this.pointerAt(layout, layout.fieldTokens[id]);
    return normalizePointer(this.field(id));
  }

  /** A payload key as printed, as a pointer. */
  rawPointer(id: number): string | undefined {
    const layout = this.layout;
    if (layout !== undefined) return this.pointerAt(layout, layout.keyTokens[id]);
    return normalizePointer(this.raw(id));
  }

  private pointerAt(layout: PayloadLayout, t: number): string | undefined {
    if (t < 0) return undefined;
    const v = (this.ev as TraceEvent).payload.slice(this.from[t], this.to[t]);
    const canonical = this.tokenBits >= 0 ? ((this.tokenBits >>> t) & 1) === 1 : this.canonical && layout.hexTokens[t] === 1;
    return canonical ? v : normalizePointer(v);
  }

  /** A payload key as printed (`K.range_start`; no aliases, no renames). */
  raw(id: number): string | undefined {
    const ev = this.ev as TraceEvent;
    const layout = this.layout;
    if (layout !== undefined) {
      const t = layout.keyTokens[id];
      return t < 0 ? undefined : ev.payload.slice(this.from[t], this.to[t]);
    }
    const key = RAW_KEYS[id];
    return this.direct ? valueOf(ev.payload, key + '=') : ev.fields[key];
  }

  /** A field from parsed fields: the event's rename first, then each alias in order. */
  private pick(f: Record<string, string>, name: string): string | undefined {
    const renames = (this.r as Resolved).fieldRenames;
    if (renames !== undefined) {
      const renamed = renames[name];
      if (renamed !== undefined && f[renamed] !== undefined) return f[renamed];
    }
    const aliases = this.aliases[name];
    if (aliases === undefined) return f[name];
    for (let i = 0; i < aliases.length; i++) {
      const v = f[aliases[i]];
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /**
   * The layout `payload` has among those seen for this event (learning it if
   * new); none for a payload of more tokens than a kprobe can print (fields
   * are then searched in the text).
   */
  private layoutOf(payload: string, r: Resolved): PayloadLayout | undefined {
    const layouts = (r.layouts ??= []);
    for (let i = 0; i < layouts.length; i++) {
      const m = layouts[i].match(payload, this.from, this.to);
      if (m !== NO_MATCH) {
        this.canonical = m === MATCH_CANONICAL;
        return layouts[i];
      }
    }
    if (tokenCount(payload) > MAX_LAYOUT_TOKENS) return undefined;
    const l = PayloadLayout.learn(payload, this.aliases);
    if (l.needles.length > this.from.length) this.grow(l.needles.length);
    this.canonical = l.match(payload, this.from, this.to) === MATCH_CANONICAL;
    if (layouts.length >= MAX_LAYOUTS) layouts.pop();
    layouts.unshift(l);
    return l;
  }
}

function probeKey(symbol: string, isReturn: boolean): string {
  return isReturn ? `${symbol}%return` : symbol;
}

function splitTarget(t: string): { symbol: string; isReturn: boolean } {
  return t.endsWith('%return') ? { symbol: t.slice(0, -7), isReturn: true } : { symbol: t, isReturn: false };
}

/** Pointers and addresses as `0x` + lower-case hex without leading zeros, whatever the print format (decimal too). */
export function normalizePointer(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (isCanonicalHex(v)) return v;
  const n = parseIntegerField(v);
  if (n === undefined) return v;
  return '0x' + BigInt.asUintN(64, n).toString(16);
}

/** A kretprobe's return value as a signed int: `-11`, `0xfffffff5`, `0xfffffffffffffff5`, `4294967285` all give -11. */
export function toReturnValue(raw: string | undefined): bigint | undefined {
  const n = parseIntegerField(raw);
  if (n === undefined) return undefined;
  if (n < 0n) return n;
  if (n <= 0xffffffffn) return BigInt.asIntN(32, n);
  return BigInt.asIntN(64, n);
}

/** Already `0x` + lower-case hex with no leading zero (what `:x64` fetch args print)? CANONICAL_HEX is the same as a pattern. */
function isCanonicalHex(v: string): boolean {
  const n = v.length;
  if (n < 3 || n > 18 || v.charCodeAt(0) !== 48 || v.charCodeAt(1) !== 120) return false;
  if (v.charCodeAt(2) === 48 && n > 3) return false;
  for (let i = 2; i < n; i++) {
    const c = v.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** The value of `needle` (`key=`) where it starts a token of a simple payload, up to the next space. */
function valueOf(payload: string, needle: string): string | undefined {
  let i = payload.indexOf(needle);
  while (i >= 0) {
    if (i === 0 || payload.charCodeAt(i - 1) === 32) {
      const from = i + needle.length;
      const sp = payload.indexOf(' ', from);
      return sp < 0 ? payload.slice(from) : payload.slice(from, sp);
    }
    i = payload.indexOf(needle, i + 1);
  }
  return undefined;
}
