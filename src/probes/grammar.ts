/**
 * A checker for kprobe_events / dynamic_events definition lines, after the kernel's documented
 * grammar (Documentation/trace/kprobetrace.rst and fprobetrace.rst):
 *
 *   p[:[GRP/][EVENT]] [MOD:]SYM[+offs]|MEMADDR [FETCHARGS]       kprobe
 *   p[:[GRP/][EVENT]] [MOD:]SYM[+0]%return [FETCHARGS]           return probe written as p
 *   r[MAXACTIVE][:[GRP/][EVENT]] [MOD:]SYM[+0] [FETCHARGS]       kretprobe
 *   f[:[GRP/][EVENT]] SYM [FETCHARGS]                            fprobe, function entry
 *   f[MAXACTIVE][:[GRP/][EVENT]] SYM%return [FETCHARGS]          fprobe, function exit
 *   -:[GRP/]EVENT                                                delete
 *
 *   FETCHARGS: up to 128 of [NAME=]FETCHARG[:TYPE]
 *   FETCHARG:  %REG | @ADDR | @SYM[+|-offs] | $stackN | $stack | $argN | $retval | $comm
 *              | +|-[u]OFFS(FETCHARG) | \IMM | BTF: ARG, ARG->field, ARG.field, $retval->field, $arg*
 *   TYPE:      u8..u64, s8..s64, x8..x64, char, string, ustring, symbol, symstr, %pd, %pD,
 *              b<bit-width>@<bit-offset>/<container-size>; basic types take an array suffix [N], N < 64
 *
 * It is a syntax check, not a kernel: it cannot know whether a symbol exists or a BTF name resolves.
 */
import { ARG_REGISTERS } from './definitions';
import type { Arch } from './types';

export type ProbeLineKind = 'kprobe' | 'kretprobe' | 'fprobe' | 'delete';

export interface ParsedFetchArg {
  text: string;
  /** The name given with `NAME=`, if any. */
  name?: string;
  fetch: string;
  type?: string;
}

export interface ParsedProbeLine {
  kind: ProbeLineKind;
  /** For kprobe/fprobe: a return probe (`r`, or `%return`). */
  isReturn: boolean;
  maxactive?: number;
  group?: string;
  event?: string;
  module?: string;
  symbol?: string;
  offset?: number;
  address?: string;
  args: ParsedFetchArg[];
}

export type CheckResult = { ok: true; parsed: ParsedProbeLine } | { ok: false; error: string };

export interface CheckOptions {
  /** Check register names against this architecture (default: accept any lower-case register name). */
  arch?: Arch;
  /** Accept BTF argument names and field access (kernels with CONFIG_PROBE_EVENTS_BTF_ARGS, about 6.5+). Default true. */
  btfArgs?: boolean;
  /** Accept `f` fprobe lines (about 6.5+, dynamic_events only). Default true. */
  fprobes?: boolean;
}

/** Kernel limits (kernel/trace/trace_probe.h). */
export const MAX_TRACE_ARGS = 128;
export const MAX_EVENT_NAME_LEN = 64;
export const MAX_ARRAY_LEN = 64;
export const KRETPROBE_MAXACTIVE_MAX = 4096;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SYMBOL = /^[A-Za-z_.][A-Za-z0-9_.$]*$/;
const MODULE = /^[A-Za-z0-9_-]+$/;
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|\d+)$/;
const RESERVED_ARG_NAMES = new Set(['common_type', 'common_flags', 'common_preempt_count', 'common_pid', 'common_tgid', '__probe_ip', '__probe_ret_ip', '__probe_func']);
const BASIC_TYPES = new Set(['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'x8', 'x16', 'x32', 'x64', 'char', 'symbol']);
const STRING_TYPES = new Set(['string', 'ustring', 'symstr']);
const VFS_TYPES = new Set(['%pd', '%pD']);
/** Registers the kernel's regs_query_register_offset() knows, by architecture. */
const ARCH_REGISTERS: Record<Arch, ReadonlySet<string>> = {
  x86_64: new Set([
    'ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp', 'sp', 'ip', 'flags', 'cs', 'ss', 'orig_ax',
    'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', ...ARG_REGISTERS.x86_64,
  ]),
  arm64: new Set([...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp', 'pc', 'pstate']),
};

class GrammarError extends Error {}

function fail(msg: string): never {
  throw new GrammarError(msg);
}

function parseNumber(s: string): number {
  return s.startsWith('0x') || s.startsWith('0X') ? parseInt(s.slice(2), 16) : parseInt(s, 10);
}

function checkName(what: string, s: string): void {
  if (s === '') fail(`empty ${what} name`);
  if (!NAME.test(s)) fail(`bad ${what} name "${s}": use letters, digits and _ and do not start with a digit`);
  if (s.length >= MAX_EVENT_NAME_LEN) fail(`${what} name "${s}" is too long (the kernel allows ${MAX_EVENT_NAME_LEN - 1} characters)`);
}

interface HeadInfo {
  kind: ProbeLineKind;
  maxactive?: number;
  group?: string;
  event?: string;
}

function parseHead(head: string): HeadInfo {
  if (head.startsWith('-')) {
    const m = /^-:(?:([^/]*)\/)?([^/]*)$/.exec(head);
    if (!m) fail(`bad delete command "${head}": expected -:[GRP/]EVENT`);
    if (m[1] !== undefined) checkName('group', m[1]);
    checkName('event', m[2]);
    return { kind: 'delete', group: m[1], event: m[2] };
  }
  const m = /^([prf])(\d*)(?::(.*))?$/.exec(head);
  if (!m) fail(`unknown probe type "${head}": a definition starts with p, r, f or -:`);
  const letter = m[1];
  let maxactive: number | undefined;
  if (m[2] !== '') {
    if (letter === 'p') fail(`"${head}": MAXACTIVE is only for return probes (r[MAXACTIVE] or f[MAXACTIVE] with %return)`);
    maxactive = parseInt(m[2], 10);
    if (maxactive > KRETPROBE_MAXACTIVE_MAX) fail(`"${head}": MAXACTIVE ${maxactive} is above the kernel's limit of ${KRETPROBE_MAXACTIVE_MAX}`);
  }
  let group: string | undefined;
  let event: string | undefined;
  if (m[3] !== undefined) {
    const spec = m[3];
    if (spec === '') fail(`"${head}": nothing after ':' (give [GRP/][EVENT] or drop the ':')`);
    const slash = spec.indexOf('/');
    if (slash >= 0) {
      group = spec.slice(0, slash);
      checkName('group', group);
      const ev = spec.slice(slash + 1);
      if (ev.includes('/')) fail(`"${head}": more than one '/' in GRP/EVENT`);
      if (ev !== '') {
        checkName('event', ev);
        event = ev;
      }
    } else {
      checkName('event', spec);
      event = spec;
    }
  }
  const kind: ProbeLineKind = letter === 'p' ? 'kprobe' : letter === 'r' ? 'kretprobe' : 'fprobe';
  return { kind, maxactive, group, event };
}

interface ProbeContext {
  isReturn: boolean;
  /** At a function entry ($argN and BTF names are allowed). */
  atEntry: boolean;
  options: CheckOptions;
}

type FetchClass = 'register' | 'memory' | 'stack' | 'special' | 'immediate' | 'comm' | 'btf' | 'retval' | 'arg';

const BTF_PATH = /^(?:[A-Za-z_][A-Za-z0-9_]*|\$retval|\$arg\d+)(?:(?:->|\.)[A-Za-z_][A-Za-z0-9_]*)*$/;

function parseFetch(s: string, ctx: ProbeContext, depth: number): FetchClass {
  if (depth > 8) fail(`"${s}": dereferences nested too deeply`);
  if (s === '') fail('empty fetch argument');
  const c = s[0];
  if (c === '%') {
    const reg = s.slice(1);
    if (!/^[a-z][a-z0-9_]*$/.test(reg)) fail(`bad register "${s}"`);
    if (ctx.options.arch && !ARCH_REGISTERS[ctx.options.arch].has(reg)) fail(`unknown register "${s}" on ${ctx.options.arch}`);
    return 'register';
  }
  if (c === '@') {
    const rest = s.slice(1);
    if (NUMBER.test(rest)) return 'memory';
    const m = /^([A-Za-z_.][A-Za-z0-9_.]*)(?:([+-])(0[xX][0-9a-fA-F]+|\d+))?$/.exec(rest);
    if (!m) fail(`bad memory fetch "${s}": expected @ADDR or @SYM[+|-offs]`);
    return 'memory';
  }
  if (c === '$') {
    if (s === '$stack') return 'stack';
    if (/^\$stack\d+$/.test(s)) return 'stack';
    if (s === '$comm') return 'comm';
    if (s === '$retval') {
      if (!ctx.isReturn) fail('$retval is only for return probes (r..., or SYM%return)');
      return 'retval';
    }
    const arg = /^\$arg(\d+)$/.exec(s);
    if (arg) {
      if (Number(arg[1]) < 1) fail(`"${s}": arguments count from $arg1`);
      if (!ctx.atEntry) fail(`"${s}": $argN is only for probes on a function entry (offset 0, not a return probe)`);
      return 'arg';
    }
    if (BTF_PATH.test(s)) {
      if (ctx.options.btfArgs === false) fail(`"${s}": BTF field access is not accepted by this kernel`);
      if (s.startsWith('$retval') && !ctx.isReturn) fail(`"${s}": $retval is only for return probes`);
      if (s.startsWith('$arg') && !ctx.atEntry) fail(`"${s}": $argN is only for probes on a function entry`);
      return 'btf';
    }
    fail(`unknown variable "${s}": expected $stack, $stackN, $argN, $retval or $comm`);
  }
  if (c === '+' || c === '-') {
    const m = /^[+-](u?)(0[xX][0-9a-fA-F]+|\d+)\((.*)\)$/.exec(s);
    if (!m) fail(`bad dereference "${s}": expected +|-[u]OFFS(FETCHARG)`);
    const inner = parseFetch(m[3], ctx, depth + 1);
    if (inner === 'comm' || inner === 'immediate') fail(`"${s}": cannot dereference ${inner === 'comm' ? '$comm' : 'an immediate'}`);
    return 'memory';
  }
  if (c === '\\') {
    const rest = s.slice(1);
    if (/^-?(?:0[xX][0-9a-fA-F]+|\d+)$/.test(rest)) return 'immediate';
    if (/^"[^"]*"$/.test(rest)) return 'immediate';
    fail(`bad immediate "${s}": expected \\NUMBER or \\"STRING"`);
  }
  if (BTF_PATH.test(s)) {
    if (ctx.options.btfArgs === false) fail(`"${s}": BTF argument names are not accepted by this kernel (use registers and +OFFS(%reg))`);
    if (!ctx.atEntry) fail(`"${s}": BTF argument names are only for function entries (use $retval->field on return)`);
    return 'btf';
  }
  fail(`bad fetch argument "${s}"`);
}

function checkType(type: string, fetch: FetchClass, argText: string): void {
  const bf = /^b(\d+)@(\d+)\/(\d+)$/.exec(type);
  if (bf) {
    const [w, o, c] = [Number(bf[1]), Number(bf[2]), Number(bf[3])];
    if (![8, 16, 32, 64].includes(c)) fail(`"${argText}": bitfield container size must be 8, 16, 32 or 64, not ${c}`);
    if (w < 1 || o + w > c) fail(`"${argText}": bitfield b${w}@${o}/${c} does not fit its container`);
    return;
  }
  const m = /^([^[\]]+)(?:\[(\d+)\])?$/.exec(type);
  if (!m) fail(`"${argText}": bad type "${type}"`);
  const base = m[1];
  if (!BASIC_TYPES.has(base) && !STRING_TYPES.has(base) && !VFS_TYPES.has(base)) {
    fail(`"${argText}": unknown type "${base}" (u8..u64, s8..s64, x8..x64, char, string, ustring, symbol, symstr, %pd, %pD or b<width>@<offset>/<size>)`);
  }
  if (fetch === 'comm' && base !== 'string') fail(`"${argText}": $comm is a string; no other type applies`);
  if (m[2] !== undefined) {
    const n = Number(m[2]);
    if (n < 1 || n >= MAX_ARRAY_LEN) fail(`"${argText}": array length must be 1..${MAX_ARRAY_LEN - 1}`);
    if (fetch !== 'memory' && fetch !== 'btf') fail(`"${argText}": arrays apply to memory fetches only (e.g. +8(%di):x8[8]), not to registers or stack entries`);
  }
  if ((base === 'string' || base === 'ustring' || base === 'symstr') && (fetch === 'register' || fetch === 'stack')) {
    fail(`"${argText}": a ${base} is read from memory: dereference the pointer, e.g. +0(%di):${base}`);
  }
}

function parseArg(text: string, ctx: ProbeContext): ParsedFetchArg {
  let rest = text;
  let name: string | undefined;
  const eq = text.indexOf('=');
  if (eq >= 0) {
    name = text.slice(0, eq);
    if (!NAME.test(name)) fail(`bad argument name "${name}" in "${text}"`);
    if (RESERVED_ARG_NAMES.has(name)) fail(`argument name "${name}" is reserved by the kernel`);
    rest = text.slice(eq + 1);
  }
  if (rest === '$arg*') {
    if (name !== undefined) fail('"$arg*" expands to all arguments and cannot be named');
    if (ctx.options.btfArgs === false) fail('"$arg*" needs BTF argument support');
    if (!ctx.atEntry) fail('"$arg*" is only for function entries');
    return { text, fetch: rest };
  }
  // The type starts at the first ':' outside an immediate string.
  let colon = -1;
  if (!rest.startsWith('\\"')) colon = rest.indexOf(':');
  else {
    const close = rest.indexOf('"', 2);
    colon = close >= 0 ? rest.indexOf(':', close) : -1;
  }
  const fetch = colon >= 0 ? rest.slice(0, colon) : rest;
  const type = colon >= 0 ? rest.slice(colon + 1) : undefined;
  const cls = parseFetch(fetch, ctx, 0);
  if (type !== undefined) {
    if (type === '') fail(`"${text}": empty type after ':'`);
    checkType(type, cls, text);
  }
  return { text, ...(name !== undefined ? { name } : {}), fetch, ...(type !== undefined ? { type } : {}) };
}

function parseTarget(tok: string, kind: ProbeLineKind, parsed: ParsedProbeLine): void {
  let t = tok;
  if (t.endsWith('%return')) {
    if (kind === 'kretprobe') fail(`"${tok}": %return is for p and f probes; r is already a return probe`);
    parsed.isReturn = true;
    t = t.slice(0, -'%return'.length);
  }
  if (kind === 'fprobe') {
    if (t.includes(':')) fail(`"${tok}": fprobes take a plain function name (no MOD:)`);
    if (t.includes('+')) fail(`"${tok}": fprobes probe function entry/exit only: no +offs`);
    if (!SYMBOL.test(t)) fail(`bad function name "${t}"`);
    parsed.symbol = t;
    return;
  }
  if (NUMBER.test(t) && !parsed.isReturn && kind === 'kprobe') {
    parsed.address = t;
    return;
  }
  const m = /^(?:([^:+]+):)?([^:+]+)(?:\+(0[xX][0-9a-fA-F]+|\d+))?$/.exec(t);
  if (!m) fail(`bad probe point "${tok}": expected [MOD:]SYM[+offs]${kind === 'kprobe' ? ' or MEMADDR' : ''}`);
  if (m[1] !== undefined) {
    if (!MODULE.test(m[1])) fail(`bad module name "${m[1]}"`);
    parsed.module = m[1];
  }
  if (!SYMBOL.test(m[2])) fail(`bad symbol "${m[2]}"`);
  parsed.symbol = m[2];
  const offset = m[3] === undefined ? 0 : parseNumber(m[3]);
  if (m[3] !== undefined) parsed.offset = offset;
  if ((kind === 'kretprobe' || parsed.isReturn) && offset !== 0) fail(`"${tok}": a return probe must be on the function entry (+0)`);
}

/** Check one definition line. */
export function checkProbeLine(line: string, options: CheckOptions = {}): CheckResult {
  try {
    const tokens = line.trim().split(/\s+/).filter((t) => t !== '');
    if (tokens.length === 0) fail('empty line');
    const head = parseHead(tokens[0]);
    const parsed: ParsedProbeLine = { kind: head.kind, isReturn: head.kind === 'kretprobe', args: [] };
    if (head.maxactive !== undefined) parsed.maxactive = head.maxactive;
    if (head.group !== undefined) parsed.group = head.group;
    if (head.event !== undefined) parsed.event = head.event;
    if (head.kind === 'delete') {
      if (tokens.length > 1) fail('a delete command (-:EVENT) takes nothing after the event');
      return { ok: true, parsed };
    }
    if (head.kind === 'fprobe' && options.fprobes === false) fail('fprobe (f) events are not accepted by this kernel');
    if (tokens.length < 2) fail(`"${tokens[0]}" needs a probe point (a symbol${head.kind === 'kprobe' ? ' or an address' : ''})`);
    parseTarget(tokens[1], head.kind, parsed);
    if (head.kind === 'fprobe' && head.maxactive !== undefined && !parsed.isReturn) fail('MAXACTIVE is only for the function exit (SYM%return)');
    const ctx: ProbeContext = {
      isReturn: parsed.isReturn,
      atEntry: !parsed.isReturn && parsed.address === undefined && (parsed.offset ?? 0) === 0,
      options,
    };
    const args = tokens.slice(2);
    if (args.length > MAX_TRACE_ARGS) fail(`${args.length} arguments: the kernel allows at most ${MAX_TRACE_ARGS}`);
    const names = new Set<string>();
    for (const a of args) {
      const p = parseArg(a, ctx);
      if (p.name !== undefined) {
        if (names.has(p.name)) fail(`argument name "${p.name}" is used twice`);
        names.add(p.name);
      }
      parsed.args.push(p);
    }
    return { ok: true, parsed };
  } catch (err) {
    if (err instanceof GrammarError) return { ok: false, error: err.message };
    throw err;
  }
}

export interface LineCheck {
  /** 1-based line number in the text. */
  line: number;
  text: string;
  result: CheckResult;
}

/** Check every definition in a kprobe_events-style text; blank lines and `#` comments are skipped. */
export function checkProbeText(text: string, options: CheckOptions = {}): LineCheck[] {
  const out: LineCheck[] = [];
  text.split('\n').forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    out.push({ line: i + 1, text: raw, result: checkProbeLine(t, options) });
  });
  return out;
}
