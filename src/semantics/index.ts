/**
 * The semantics layer: which trace events mean which kernel operation.
 *
 * kprobes are recognised by the probed symbol printed in the line, whatever the
 * user named the event; where a format prints only an address, by the kprobe
 * definitions the user captured (`--kprobe-events`), by perf's default names
 * (`probe:<symbol>`, `probe:<symbol>__return`), or by the names `mntrace probes`
 * gives. Tracepoints are recognised by name.
 */
import Ajv from 'ajv';
import type { ProbeSite, TraceEvent } from '../model/event';
import { parseIntegerField, parseSmallInt } from '../model/fields';
import catalogJson from './catalog.json';
import catalogSchema from './catalog.schema.json';
import type { KprobeDefinition } from './kprobe-events';
import type { Operation, RangeArgs, Role } from './operations';

export interface Catalog {
  probes: Array<{ symbol: string; return: boolean; role: Role; subscriber?: string; doc?: string }>;
  eventNames: Record<string, string>;
  tracepoints: Array<{ name: string; group?: string; role: Role; pattern?: string }>;
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
  fieldRenames?: Record<string, string>;
}

const NONE: unique symbol = Symbol('none');

let builtIn: Catalog | undefined;

/** The built-in catalog, validated against its schema once per process. */
export function loadCatalog(): Catalog {
  if (builtIn) return builtIn;
  const ajv = new Ajv({ allErrors: true });
  const validate = ajv.compile(catalogSchema);
  if (!validate(catalogJson)) {
    throw new Error(`built-in probe catalog is invalid: ${ajv.errorsText(validate.errors)}`);
  }
  builtIn = catalogJson as unknown as Catalog;
  return builtIn;
}

export class Semantics {
  private readonly byProbe = new Map<string, { role: Role; subscriber?: string }>();
  private readonly byEventName = new Map<string, { symbol: string; isReturn: boolean }>();
  private readonly tracepoints = new Map<string, Array<{ group?: string; role: Role; pattern?: RegExp }>>();
  private readonly userEvents: Map<string, EventMapping>;
  private readonly fieldAliases: Record<string, string[]>;
  /** `alias=` search strings per field name. */
  private readonly needles: Record<string, string[]> = {};
  private readonly cache = new Map<string, { plain: Resolved | typeof NONE | undefined; bySite: Map<string, Resolved | typeof NONE> | undefined }>();

  constructor(readonly catalog: Catalog = loadCatalog(), opts: SemanticsOptions = {}) {
    for (const p of catalog.probes) this.byProbe.set(probeKey(p.symbol, p.return), { role: p.role, subscriber: p.subscriber });
    for (const [name, target] of Object.entries(catalog.eventNames)) {
      if (name.startsWith('$')) continue;
      this.byEventName.set(name, splitTarget(target));
    }
    // Definitions the user captured take precedence over our default names.
    for (const d of opts.kprobeDefinitions ?? []) this.byEventName.set(d.event, { symbol: d.symbol, isReturn: d.isReturn });
    for (const t of catalog.tracepoints) {
      const list = this.tracepoints.get(t.name) ?? [];
      list.push({ group: t.group, role: t.role, pattern: t.pattern ? new RegExp(t.pattern) : undefined });
      this.tracepoints.set(t.name, list);
    }
    this.userEvents = new Map(Object.entries(opts.events ?? {}));
    this.fieldAliases = {};
    for (const [k, v] of Object.entries(catalog.fields)) this.fieldAliases[k] = [...(opts.fields?.[k] ?? []), ...v];
    for (const [k, v] of Object.entries(opts.fields ?? {})) if (!this.fieldAliases[k]) this.fieldAliases[k] = v;
  }

  /** The kernel operation an event stands for, or undefined for events the rules do not need. */
  resolve(ev: TraceEvent): Operation | undefined {
    const r = this.lookup(ev.name, ev.group, ev.probe);
    return r === undefined ? undefined : this.extract(ev, r);
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
      entry = { plain: undefined, bySite: undefined };
      this.cache.set(nameKey, entry);
    }
    let r: Resolved | typeof NONE | undefined;
    if (probe === undefined) {
      r = entry.plain;
      if (r === undefined) r = entry.plain = this.classify(name, group, probe) ?? NONE;
    } else {
      const siteKey = probe.symbol !== undefined ? (probe.isReturn ? `${probe.symbol}%return` : probe.symbol) : probe.isReturn ? '@%return' : '@';
      if (entry.bySite === undefined) entry.bySite = new Map();
      r = entry.bySite.get(siteKey);
      if (r === undefined) {
        r = this.classify(name, group, probe) ?? NONE;
        entry.bySite.set(siteKey, r);
      }
    }
    return r === NONE ? undefined : r;
  }

  /** A role for the event's name/probe, or undefined. */
  private classify(name: string, group: string | undefined, probe: ProbeSite | undefined): Resolved | undefined {
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
    const tps = this.tracepoints.get(ev.name);
    if (tps) {
      const tp = tps.find((t) => !ev.group || !t.group || t.group === ev.group);
      if (tp) return { role: tp.role, pattern: tp.pattern };
    }
    return undefined;
  }

  private field(ev: TraceEvent, name: string, r: Resolved): string | undefined {
    if (ev.probe !== undefined && r.fieldRenames === undefined && ev.payload.indexOf('"') < 0) return this.pickDirect(ev.payload, name);
    return this.pick(ev.fields, name, r);
  }

  /** A field by our name: the event's rename first, then each alias in order. */
  private pick(f: Record<string, string>, name: string, r: Resolved): string | undefined {
    if (r.fieldRenames !== undefined) {
      const renamed = r.fieldRenames[name];
      if (renamed !== undefined && f[renamed] !== undefined) return f[renamed];
    }
    const aliases = this.fieldAliases[name];
    if (aliases === undefined) return f[name];
    for (let i = 0; i < aliases.length; i++) {
      const v = f[aliases[i]];
      if (v !== undefined) return v;
    }
    return undefined;
  }

  private extract(ev: TraceEvent, r: Resolved): Operation {
    const op: Operation = { role: r.role, ev, args: {} };
    switch (r.role) {
      case 'range-start':
      case 'range-end':
      case 'subscriber-start':
      case 'subscriber-end':
        op.args = this.rangeArgs(ev, r, true);
        if (r.role === 'range-start' && op.args.flags !== undefined) op.blockable = (op.args.flags & 1) === 1;
        if (r.role === 'range-end') {
          const oe = this.field(ev, 'onlyEnd', r);
          if (oe !== undefined) op.onlyEnd = oe !== '0' && oe !== 'false';
        }
        if (r.role === 'subscriber-start' || r.role === 'subscriber-end') {
          op.subscriber = normalizePointer(this.field(ev, 'subscriber', r));
          op.subscriberKind = r.subscriberKind;
        }
        break;
      case 'range-start-return': {
        const raw = this.field(ev, 'ret', r) ?? ev.fields.arg1;
        op.ret = toReturnValue(raw);
        const site = ev.probe?.returnTo?.symbol;
        if (site) op.returnSite = site;
        break;
      }
      case 'secondary-tlb':
      case 'subscriber-secondary-tlb':
        op.args = this.rangeArgs(ev, r, false);
        if (r.role === 'subscriber-secondary-tlb') {
          op.subscriber = normalizePointer(this.field(ev, 'subscriber', r));
          op.subscriberKind = r.subscriberKind;
        }
        break;
      case 'oom-reap':
      case 'notifier-register':
      case 'notifier-release':
        op.args = { mm: normalizePointer(this.field(ev, 'mm', r) ?? ev.fields.arg1) };
        break;
      case 'oom-reap-begin':
      case 'oom-reap-end':
      case 'oom-victim': {
        const pid = this.field(ev, 'pid', r);
        if (pid !== undefined && /^\d+$/.test(pid)) op.targetPid = Number(pid);
        break;
      }
      case 'task-exit': {
        const pid = this.field(ev, 'pid', r);
        op.targetPid = pid !== undefined && /^\d+$/.test(pid) ? Number(pid) : ev.pid;
        break;
      }
      case 'alloc':
        op.gfp = this.field(ev, 'gfp', r);
        break;
      case 'interval-insert':
      case 'interval-remove':
      case 'interval-read-begin':
        op.args = this.rangeArgs(ev, r, false);
        op.interval = normalizePointer(this.field(ev, 'interval', r) ?? ev.fields.arg1);
        break;
      case 'itree-inv-start':
        op.args = this.rangeArgs(ev, r, true);
        break;
      case 'device-fault':
        op.address = normalizePointer(this.field(ev, 'address', r));
        op.device = this.field(ev, 'device', r);
        break;
      case 'gup-fast-pin':
      case 'anon-exclusive-clear':
      case 'ksm-write-protect': {
        op.page = normalizePointer(this.field(ev, 'page', r) ?? ev.fields.arg1);
        op.pfn = normalizePointer(this.field(ev, 'pfn', r));
        op.address = normalizePointer(this.field(ev, 'address', r));
        const mm = this.field(ev, 'mm', r);
        if (mm !== undefined) op.args = { mm: normalizePointer(mm) };
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

  private rangeArgs(ev: TraceEvent, r: Resolved, withRange: boolean): RangeArgs {
    // kprobe fetch-args print `k=v` with no spaces in values: read the few we need straight from the payload.
    const direct = ev.probe !== undefined && r.fieldRenames === undefined && ev.payload.indexOf('"') < 0;
    const get = (name: string): string | undefined => this.field(ev, name, r);
    const raw = (key: string): string | undefined => (direct ? valueOf(ev.payload, key + '=') : ev.fields[key]);
    const a: RangeArgs = {};
    if (withRange) {
      const range = get('range') ?? (r.role === 'range-start' || r.role === 'range-end' ? raw('arg1') : undefined);
      if (range !== undefined) a.range = normalizePointer(range);
    }
    const mm = get('mm');
    if (mm !== undefined) a.mm = normalizePointer(mm);
    const start = get('start') ?? raw('range_start');
    if (start !== undefined) a.start = normalizePointer(start);
    const end = get('end') ?? raw('range_end');
    if (end !== undefined) a.end = normalizePointer(end);
    const flags = parseSmallInt(get('flags') ?? raw('range_flags'));
    if (flags !== undefined) a.flags = flags;
    else {
      // 4.19-5.1 ranges carry `bool blockable` instead of a flags word (mntrace probes names it `blockable`).
      const blockable = raw('blockable');
      if (blockable !== undefined) a.flags = blockable === '0' || blockable === 'false' ? 0 : 1;
    }
    const event = parseSmallInt(get('event') ?? raw('range_event'));
    if (event !== undefined) a.event = event;
    return a;
  }

  /** A field by our name straight from a simple `k=v k=v` payload, trying each alias. */
  private pickDirect(payload: string, name: string): string | undefined {
    const needles = this.needles[name] ?? (this.needles[name] = (this.fieldAliases[name] ?? [name]).map((a) => a + '='));
    for (let i = 0; i < needles.length; i++) {
      const v = valueOf(payload, needles[i]);
      if (v !== undefined) return v;
    }
    return undefined;
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

/** Already `0x` + lower-case hex with no leading zero (what `:x64` fetch args print)? */
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
