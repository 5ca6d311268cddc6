/**
 * Write a {@link ProbeSpec} in a concrete syntax: a kprobe_events / dynamic_events line
 * (register offsets, or BTF names on fprobes) or a `perf probe` definition.
 */
import type { Arch, FetchSpec, ProbeArg, ProbeSpec, ProbeSyntax } from './types';

/** Function-argument registers, in order, by architecture (the kernel's pt_regs names). */
export const ARG_REGISTERS: Record<Arch, readonly string[]> = {
  x86_64: ['di', 'si', 'dx', 'cx', 'r8', 'r9'],
  arm64: ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7'],
};

/** The return-value fetch (the same on every architecture). */
export const RETVAL = '$retval';

export interface RenderContext {
  arch: Arch;
  syntax: ProbeSyntax;
  group: string;
  /** Parameter names by function, for BTF field access (`range->start`). */
  paramNames: Record<string, string[]>;
}

export function argRegister(arch: Arch, index: number): string {
  const regs = ARG_REGISTERS[arch];
  const r = regs[index];
  if (r === undefined) throw new Error(`argument ${index + 1} is not passed in a register on ${arch} (only ${regs.length} are)`);
  return `%${r}`;
}

function paramName(probe: ProbeSpec, index: number, ctx: RenderContext): string {
  const names = ctx.paramNames[probe.symbol];
  const n = names?.[index];
  if (n) return n;
  // Every range-taking function calls its range parameter `range`.
  const arg = probe.args.find((a) => a.fetch.kind === 'param' && a.fetch.index === index);
  return arg?.name ?? `arg${index + 1}`;
}

function offsetFetch(fetch: FetchSpec, arch: Arch): string {
  switch (fetch.kind) {
    case 'param': return argRegister(arch, fetch.index);
    case 'field': return `+${fetch.field.offset}(${argRegister(arch, fetch.param)})`;
    case 'retval': return RETVAL;
  }
}

function btfFetch(probe: ProbeSpec, fetch: FetchSpec, ctx: RenderContext): string {
  switch (fetch.kind) {
    case 'param': return `$arg${fetch.index + 1}`;
    case 'field': return `${paramName(probe, fetch.param, ctx)}->${fetch.field.name}`;
    case 'retval': return RETVAL;
  }
}

function btfArg(probe: ProbeSpec, a: ProbeArg, ctx: RenderContext): string {
  const fetch = btfFetch(probe, a.fetch, ctx);
  // BTF knows a bitfield's position itself; an explicit bitfield type would be applied on top.
  const typed = a.fetch.kind === 'field' && a.fetch.field.bitfield ? '' : `:${a.type}`;
  return `${a.name}=${fetch}${typed}`;
}

/** One line for kprobe_events (offsets) or dynamic_events (btf). */
export function renderDefinition(probe: ProbeSpec, ctx: RenderContext): string {
  if (ctx.syntax === 'btf') {
    const target = probe.at === 'return' ? `${probe.symbol}%return` : probe.symbol;
    const args = probe.args.map((a) => btfArg(probe, a, ctx));
    return [`f:${ctx.group}/${probe.event}`, target, ...args].join(' ');
  }
  const head = probe.at === 'return' ? `r${probe.maxactive ?? ''}:${ctx.group}/${probe.event}` : `p:${ctx.group}/${probe.event}`;
  const args = probe.args.map((a) => `${a.name}=${offsetFetch(a.fetch, ctx.arch)}:${a.type}`);
  return [head, probe.symbol, ...args].join(' ');
}

/** The line that deletes the probe again. */
export function renderRemoval(probe: ProbeSpec, group: string): string {
  return `-:${group}/${probe.event}`;
}

/**
 * A `perf probe -a` definition: `probe:EVENT=SYM[%return] ARGS`. With offsets the arguments are
 * kprobe-tracer fetches perf passes through; with btf they are C expressions perf resolves with
 * the kernel's debuginfo.
 */
export function renderPerfProbe(probe: ProbeSpec, ctx: RenderContext, perfGroup = 'probe'): string {
  const target = `${perfGroup}:${probe.event}=${probe.symbol}${probe.at === 'return' ? '%return' : ''}`;
  const args = probe.args.map((a) => {
    if (ctx.syntax === 'offsets') return `${a.name}=${offsetFetch(a.fetch, ctx.arch)}:${a.type}`;
    const f = a.fetch;
    const expr = f.kind === 'retval' ? RETVAL : f.kind === 'param' ? paramName(probe, f.index, ctx) : `${paramName(probe, f.param, ctx)}->${f.field.name}`;
    return `${a.name}=${expr}:${a.type}`;
  });
  return [target, ...args].join(' ');
}
