/**
 * The capture plan: which probes, tracepoints and triggers, built from the kernel facts.
 * Event names are fixed (they are what the analyzer recognises, and what the real captures use).
 */
import {
  SYM_END,
  SYM_ITREE_INSERT,
  SYM_ITREE_INV_END,
  SYM_ITREE_REMOVE,
  SYM_KVM_END,
  SYM_KVM_RANGE,
  SYM_KVM_START,
  SYM_OOM_REAP,
  SYM_REGISTER,
  SYM_RELEASE,
  SYM_START,
} from './tables';
import { atLeast } from './kernel-version';
import type { KernelFacts, KernelVersion, ProbeArg, ProbeSpec, RangeField, TracepointSpec, TriggerSpec } from './types';

export const GROUP = 'kprobes';
export const KRETPROBE_MAXACTIVE = 10;

/** Range members the probes record, and whether they are printed in hex (addresses) or decimal. */
const RECORDED_FIELDS: Array<{ name: string; hex: boolean }> = [
  { name: 'mm', hex: true },
  { name: 'start', hex: true },
  { name: 'end', hex: true },
  { name: 'flags', hex: false },
  { name: 'event', hex: false },
  { name: 'blockable', hex: false },
];

const ADDRESS = 'x64';
const BOOL = 'u8';

function fieldType(field: RangeField, hex: boolean): string {
  if (field.bitfield) return `b${field.bitfield.bits}@${field.bitfield.bitOffset}/${field.bitfield.containerBits}`;
  const bits = field.size * 8;
  return `${hex ? 'x' : 'u'}${bits}`;
}

function param(name: string, index: number, type = ADDRESS): ProbeArg {
  return { name, fetch: { kind: 'param', index }, type };
}

/** `range=<arg> mm=... start=... end=... flags=... event=...` for a range pointer in argument `index`. */
function rangeArgs(facts: KernelFacts, index: number): ProbeArg[] {
  const out: ProbeArg[] = [param('range', index)];
  for (const want of RECORDED_FIELDS) {
    const field = facts.range?.fields.find((x) => x.name === want.name);
    if (field) out.push({ name: want.name, fetch: { kind: 'field', param: index, field }, type: fieldType(field, want.hex) });
  }
  return out;
}

/** A probe on a function's entry that is not required (the capture script goes on without it when it cannot be defined). */
function optionalEntry(event: string, symbol: string, args: ProbeArg[], purpose: string, module?: string): ProbeSpec {
  return { event, symbol, at: 'entry', args, required: false, ...(module !== undefined ? { module } : {}), purpose };
}

/** The probes for a kernel, in the order the real 6.1 captures define them. */
export function planProbes(facts: KernelFacts): ProbeSpec[] {
  const probes: ProbeSpec[] = [];
  const ranged = facts.range !== undefined;

  // Core start / start return / end.
  probes.push({
    event: 'mn_inv_start',
    symbol: SYM_START,
    at: 'entry',
    args: ranged
      ? rangeArgs(facts, 0)
      : [param('mm', 0), param('start', 1), param('end', 2), ...(facts.legacyStartBlockable ? [param('blockable', 3, BOOL)] : [])],
    required: true,
    purpose: 'range start: opens an invalidation (range pointer, mm, [start,end), flags bit0 = blockable, event)',
  });
  if (facts.startReturnsInt) {
    probes.push({
      event: 'mn_inv_start_ret',
      symbol: SYM_START,
      at: 'return',
      maxactive: KRETPROBE_MAXACTIVE,
      args: [{ name: 'ret', fetch: { kind: 'retval' }, type: 's32' }],
      required: true,
      purpose: 'return value of the range start: non-zero (-EAGAIN) means the start failed and no end may follow',
    });
  }
  probes.push({
    event: 'mn_inv_end',
    symbol: SYM_END,
    at: 'entry',
    args: ranged
      ? [...rangeArgs(facts, 0), ...(facts.endOnlyEnd ? [param('only_end', 1, BOOL)] : [])]
      : [param('mm', 0), param('start', 1), param('end', 2), ...(facts.endOnlyEnd ? [param('only_end', 3, BOOL)] : [])],
    required: true,
    purpose: 'range end: closes the invalidation opened with the same range pointer',
  });

  // Secondary-TLB hook of this kernel.
  if (facts.secondaryTlb) {
    probes.push(optionalEntry(facts.secondaryTlb.event, facts.secondaryTlb.symbol, [param('mm', 0), param('start', 1), param('end', 2)], 'secondary-TLB invalidation (IOMMU/SVA flush); mm=0 from a kernel thread is the seed-002 crash'));
  }

  // KVM, the common subscriber (module kvm).
  const kvmArgs = (withBlockable: boolean): ProbeArg[] =>
    ranged
      ? [param('mn', 0), ...rangeArgs(facts, 1)]
      : [param('mn', 0), param('mm', 1), param('start', 2), param('end', 3), ...(withBlockable ? [param('blockable', 4, BOOL)] : [])];
  probes.push(optionalEntry('kvm_mn_inv_start', SYM_KVM_START, kvmArgs(facts.legacyStartBlockable), "KVM subscriber start: raises KVM's in-progress count", 'kvm'));
  probes.push(optionalEntry('kvm_mn_inv_end', SYM_KVM_END, kvmArgs(false), "KVM subscriber end: lowers KVM's in-progress count", 'kvm'));
  if (facts.kvmRangeHook) {
    probes.push(optionalEntry('kvm_mn_inv_range', SYM_KVM_RANGE, [param('mn', 0), param('mm', 1), param('start', 2), param('end', 3)], "KVM's ->invalidate_range callback", 'kvm'));
  }

  probes.push(optionalEntry('mn_register', SYM_REGISTER, [param('subscription', 0), param('mm', 1)], 'a subscriber registers on an mm (from here on, ranges of that mm reach it)'));
  probes.push(optionalEntry('mn_release', SYM_RELEASE, [param('mm', 0)], 'the mm is torn down: subscribers are released'));
  if (facts.intervalNotifiers) {
    probes.push(optionalEntry('mmu_interval_notifier_insert', SYM_ITREE_INSERT, [param('interval_sub', 0), param('mm', 1), param('start', 2), param('length', 3)], 'interval notifier insert (may sleep: forbidden inside an invalidate callback)'));
    probes.push(optionalEntry('mmu_interval_notifier_remove', SYM_ITREE_REMOVE, [param('interval_sub', 0)], 'interval notifier remove (may sleep: forbidden inside an invalidate callback)'));
    probes.push(optionalEntry('mn_itree_inv_end', SYM_ITREE_INV_END, [param('subscriptions', 0)], 'end of an interval-tree invalidation (static; absent when inlined)'));
  }
  if (facts.oomReapMmArg !== undefined) {
    probes.push(optionalEntry('oom_reap_task_mm', SYM_OOM_REAP, [param('mm', facts.oomReapMmArg)], 'the OOM reaper (or process_mrelease) starts reaping an mm: the only legitimate user of the non-blocking start'));
  }
  return probes;
}

/** Tracepoints that give the probes context, for kernel `v`. */
export function planTracepoints(v: KernelVersion): TracepointSpec[] {
  const out: TracepointSpec[] = [
    { spec: 'oom:*', purpose: 'OOM kill and reaper windows (mark_victim, start/finish_task_reaping...)' },
    { spec: 'kvm:kvm_unmap_hva_range', module: 'kvm', purpose: 'KVM unmaps a host virtual range for a notifier' },
    { spec: 'kmem:kmalloc', purpose: 'allocations with gfp_flags (direct reclaim inside an invalidation)' },
  ];
  if (atLeast(v, 5, 10)) out.push({ spec: 'mmap_lock:*', purpose: 'mmap_lock acquire/release (lock context of a range)' });
  out.push({ spec: 'tlb:tlb_flush', purpose: 'CPU TLB flushes (x86 emits it; other architectures define but do not fire it)' });
  out.push({ spec: 'sched:sched_process_exit', purpose: 'task exit (a range left open by a task that exited)' });
  return out;
}

/** A kernel stack for every range start: attributes non-blocking starts to their caller. */
export function planTriggers(): TriggerSpec[] {
  return [{ event: `${GROUP}/mn_inv_start`, command: 'stacktrace' }];
}
