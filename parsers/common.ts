/**
 * Pieces every text parser shares: the kprobe site prefix, stack frames,
 * and building a TraceEvent with lazily parsed fields.
 */
import type { ContextFlags, PayloadTokens, ProbeSite, SourceLocation, StackFrame, Timestamp, TraceEvent } from '../src/model/event';
import { parseFields } from '../src/model/fields';

const HEX_ADDR = /^(?:0x)?[0-9a-fA-F]{6,16}$/;
const SYM_LOC = /^([^\s+()<>]+?)(?:\+(0x[0-9a-fA-F]+)(?:\/(0x[0-9a-fA-F]+))?)?(?: \[([^\]\s]+)\])?$/;

interface Loc { symbol?: string; offset?: number; size?: number; module?: string; address?: string }

function parseLoc(s: string, requireSize: boolean): Loc | undefined {
  if (HEX_ADDR.test(s)) return { address: s.startsWith('0x') ? s : '0x' + s };
  const m = SYM_LOC.exec(s);
  if (!m) return undefined;
  if (requireSize && m[3] === undefined) return undefined;
  const loc: Loc = { symbol: m[1] };
  if (m[2] !== undefined) loc.offset = parseInt(m[2], 16);
  if (m[3] !== undefined) loc.size = parseInt(m[3], 16);
  if (m[4] !== undefined) loc.module = m[4];
  return loc;
}

/**
 * Split a kprobe/kretprobe prefix off a payload:
 *   `(sym+0x0/0x190 [kvm]) k=v`, `(caller+0x4a/0x60 <- sym) ret=0`,
 *   `(ffffffffb7d20eb0) ...`, `(ffffffffb7d20eb0 <- ffffffffb7d3ae41) ...`, `(0x4004f4)`.
 * Returns undefined when the payload does not start with a probe site
 * (so `(alloc_bprm+0x32) call_site=...` without a size is not mistaken for one).
 */
export function splitProbeSite(payload: string): { probe: ProbeSite; rest: string } | undefined {
  if (payload.charCodeAt(0) !== 40 /* ( */) return undefined;
  const close = payload.indexOf(')');
  if (close < 0) return undefined;
  const inner = payload.slice(1, close);
  let probe = siteCache.get(inner);
  if (probe === undefined) {
    probe = parseSite(inner) ?? null;
    if (siteCache.size >= 8192) siteCache.clear();
    siteCache.set(inner, probe);
  }
  if (probe === null) return undefined;
  const rest = payload.charCodeAt(close + 1) === 32 ? payload.slice(close + 2) : payload.slice(close + 1);
  return { probe, rest };
}

/** Probe sites repeat on every hit: parse each distinct one once. The objects are shared and must not be changed. */
const siteCache = new Map<string, ProbeSite | null>();

function parseSite(inner: string): ProbeSite | undefined {
  const arrow = inner.indexOf(' <- ');
  if (arrow >= 0) {
    const ret = parseLoc(inner.slice(0, arrow), false);
    const fn = parseLoc(inner.slice(arrow + 4), false);
    if (!ret || !fn) return undefined;
    const probe: ProbeSite = { isReturn: true, returnTo: ret };
    if (fn.symbol !== undefined) probe.symbol = fn.symbol;
    if (fn.address !== undefined) probe.address = fn.address;
    if (fn.offset !== undefined) probe.offset = fn.offset;
    if (fn.size !== undefined) probe.size = fn.size;
    if (fn.module !== undefined) probe.module = fn.module;
    return Object.freeze(probe);
  }
  const loc = parseLoc(inner, true);
  if (!loc) return undefined;
  return Object.freeze({ isReturn: false, ...loc });
}

/**
 * One stack frame line body (after `=>`): `try_to_unmap_one`, `kvm_foo+0x12/0x40 [kvm]`,
 * `<00000000004004f4>`, `0xffffffffc03a90c8`, `schedule (ffffffff814b260e)`.
 */
export function parseFrame(body: string): StackFrame {
  const s = body.trim();
  const tc = /^(\S+) \(([0-9a-fA-Fx]+)\)$/.exec(s);
  if (tc) return { ...frameSymbol(tc[1]), address: tc[2] };
  if (s.startsWith('<') && s.endsWith('>')) return { symbol: s, address: s.slice(1, -1) };
  return frameSymbol(s);
}

function frameSymbol(s: string): StackFrame {
  const loc = parseLoc(s, false);
  if (!loc) return { symbol: s };
  const f: StackFrame = { symbol: loc.symbol ?? loc.address ?? s };
  if (loc.offset !== undefined) f.offset = loc.offset;
  if (loc.size !== undefined) f.size = loc.size;
  if (loc.module !== undefined) f.module = loc.module;
  if (loc.address !== undefined) f.address = loc.address;
  return f;
}

/**
 * Whether pids, tgids, CPU numbers and counts read from a line are exact
 * whole numbers (undefined ones are absent): 400 digits read as Infinity,
 * which a JSON report prints as null where its schema says integer. A line
 * with such a number is unreadable. One check for every parser.
 */
export function exactInts(...ns: ReadonlyArray<number | undefined>): boolean {
  for (const n of ns) if (n !== undefined && !Number.isSafeInteger(n)) return false;
  return true;
}

/** A TraceEvent whose `fields` are parsed from the payload on first use. */
export class ParsedEvent implements TraceEvent {
  readonly kind = 'event' as const;
  cpu?: number;
  tgid?: number;
  ctx?: ContextFlags;
  group?: string;
  probe?: ProbeSite;
  stack?: StackFrame[];
  userStack?: StackFrame[];
  machine?: string;
  private parsedFields?: Record<string, string>;

  constructor(
    public ts: Timestamp,
    public pid: number,
    public comm: string,
    public name: string,
    public payload: string,
    public src: SourceLocation,
  ) {}

  /**
   * TraceEvent.tokens: a reading aid that depends on which lane read the line,
   * so it is kept off the event's own properties (events from either lane
   * compare and serialise alike).
   */
  #tokens: PayloadTokens | undefined = undefined;

  get tokens(): PayloadTokens | undefined {
    return this.#tokens;
  }

  set tokens(t: PayloadTokens | undefined) {
    this.#tokens = t;
  }

  get fields(): Record<string, string> {
    if (this.parsedFields === undefined) this.parsedFields = parseFields(this.payload);
    return this.parsedFields;
  }

  set fields(f: Record<string, string>) {
    this.parsedFields = f;
  }
}

/**
 * Split `name: payload` (or the function tracer's `func <-parent`) into an
 * event name, optional probe site and payload. Returns undefined when the
 * text has no event name.
 */
export function splitEventBody(body: string): { name: string; payload: string; probe?: ProbeSite; fields?: Record<string, string> } | undefined {
  const colon = body.indexOf(':');
  const space = body.indexOf(' ');
  if (colon > 0 && (space < 0 || colon < space) && (colon === body.length - 1 || body.charCodeAt(colon + 1) === 32)) {
    const name = body.slice(0, colon);
    let payload = body.slice(colon + 2);
    const site = splitProbeSite(payload);
    if (site) {
      payload = site.rest;
      return { name, payload, probe: site.probe };
    }
    return { name, payload };
  }
  // function tracer: `do_nanosleep <-hrtimer_nanosleep` (trace-cmd prints `<--`)
  const fm = /^(\S+) <-{1,2}(\S+)$/.exec(body);
  if (fm) return { name: 'function', payload: body, fields: { func: fm[1], parent: fm[2] } };
  return undefined;
}
