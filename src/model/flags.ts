import type { ContextFlags } from './event';

/**
 * Decode the ftrace flags column (kernel/trace/trace_output.c, trace_print_lat_fmt).
 *
 * Position, not width, decides meaning:
 *   0 irqs-off:   d (irqs off), D (irqs and BH off), b (BH off), X (not supported), .
 *   1 need-resched: N n p L l B b .  (any letter means a reschedule is pending)
 *   2 hard/soft irq: Z (NMI in hardirq), z (NMI), H (hardirq in softirq), h, s, .
 *   3 preempt depth: hex nibble or .
 *   4 migrate-disable depth (about 5.15+): hex nibble or .
 * PREEMPT_RT kernels before 6.x printed 7+ columns with need-resched-lazy at
 * position 2 and hard/soft irq at 3 (then preempt, lazy count, migrate): we
 * recognise that layout when position 2 is `L`/`.` and position 3 is an irq letter.
 * Returns undefined when the text is not a flags column.
 */
export function decodeFlags(raw: string): ContextFlags | undefined {
  const n = raw.length;
  if (n < 4) return undefined;
  const c0 = raw[0];
  if (!'dDbX.'.includes(c0)) return undefined;
  const c1 = raw[1];
  if (!'NnpLlBb.'.includes(c1)) return undefined;
  let irqCol = 2;
  let depthCol = 3;
  let migrateCol = 4;
  let extraFrom = 5;
  if (n >= 7 && 'L.'.includes(raw[2]) && 'ZzHhs.'.includes(raw[3]) && isNibble(raw[4])) {
    irqCol = 3;
    depthCol = 4;
    migrateCol = 6;
    extraFrom = 7;
  }
  const ci = raw[irqCol];
  if (!'ZzHhs.'.includes(ci)) return undefined;
  const cd = raw[depthCol];
  if (!isNibble(cd)) return undefined;
  const cm = migrateCol < n ? raw[migrateCol] : '.';
  if (!isNibble(cm)) return undefined;
  const flags: ContextFlags = {
    raw,
    irqsOff: c0 === 'd' || c0 === 'D',
    bhOff: c0 === 'D' || c0 === 'b',
    irqsUnknown: c0 === 'X',
    needResched: c1 !== '.',
    hardirq: ci === 'h' || ci === 'H' || ci === 'Z',
    softirq: ci === 's' || ci === 'H',
    nmi: ci === 'z' || ci === 'Z',
    preemptDepth: nibble(cd),
    migrateDisable: nibble(cm),
  };
  if (irqCol === 3) flags.extra = raw[2] + (n > 5 ? raw[5] : '');
  if (n > extraFrom) flags.extra = (flags.extra ?? '') + raw.slice(extraFrom);
  return flags;
}

const flagsCache = new Map<string, ContextFlags | null>();

/** decodeFlags with a cache: a capture has few distinct flag columns, and the results are shared read-only. */
export function decodeFlagsCached(raw: string): ContextFlags | undefined {
  let f = flagsCache.get(raw);
  if (f === undefined) {
    f = decodeFlags(raw) ?? null;
    if (flagsCache.size < 4096) flagsCache.set(raw, f);
  }
  return f ?? undefined;
}

function isNibble(c: string): boolean {
  return c === '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

function nibble(c: string): number {
  return c === '.' ? 0 : parseInt(c, 16);
}

/** True when the context forbids sleeping: irqs off, preemption off, or irq/NMI context. */
export function isAtomic(f: ContextFlags): boolean {
  return f.irqsOff || f.preemptDepth > 0 || f.hardirq || f.softirq || f.nmi;
}

/** A short human reading of the flags: `irqs off, preempt depth 2`. */
export function describeFlags(f: ContextFlags): string {
  const parts: string[] = [];
  if (f.irqsOff) parts.push('irqs off');
  if (f.bhOff) parts.push('BH off');
  if (f.nmi) parts.push('NMI');
  if (f.hardirq) parts.push('hardirq');
  if (f.softirq) parts.push('softirq');
  if (f.preemptDepth > 0) parts.push(`preempt depth ${f.preemptDepth}`);
  if (f.migrateDisable > 0) parts.push(`migrate-disable ${f.migrateDisable}`);
  if (f.needResched) parts.push('need-resched');
  return parts.length ? parts.join(', ') : 'preemptible, irqs on';
}
