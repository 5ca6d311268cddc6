/**
 * What we know about mmu_notifier internals by kernel version, without BTF.
 *
 * Versions are "about": each boundary sits between two kernels we know, not on a commit. The
 * checked points are Debian 6.1 (BTF: vma 0, mm 8, start 16, end 24, flags 32, event 36, owner 40;
 * `only_end`; `__mmu_notifier_invalidate_range`) and Debian 6.12 (mm 0, start 8, end 16, flags 24,
 * event 28, owner 32; no `only_end`; `__mmu_notifier_arch_invalidate_secondary_tlbs`). Give `--btf`
 * to read the facts from the kernel itself instead.
 */
import { atLeast } from './kernel-version';
import { MMU_NOTIFIER_EVENTS } from '../util/mmu-notifier-event';
import type { EventValue, KernelFacts, KernelVersion, RangeField, RangeLayout } from './types';

export const SYM_START = '__mmu_notifier_invalidate_range_start';
export const SYM_END = '__mmu_notifier_invalidate_range_end';
export const SYM_SECONDARY_OLD = '__mmu_notifier_invalidate_range';
export const SYM_SECONDARY_NEW = '__mmu_notifier_arch_invalidate_secondary_tlbs';
export const SYM_KVM_START = 'kvm_mmu_notifier_invalidate_range_start';
export const SYM_KVM_END = 'kvm_mmu_notifier_invalidate_range_end';
export const SYM_KVM_RANGE = 'kvm_mmu_notifier_invalidate_range';
export const SYM_REGISTER = '__mmu_notifier_register';
export const SYM_RELEASE = '__mmu_notifier_release';
export const SYM_ITREE_INSERT = 'mmu_interval_notifier_insert';
export const SYM_ITREE_REMOVE = 'mmu_interval_notifier_remove';
export const SYM_ITREE_INV_END = 'mn_itree_inv_end';
export const SYM_OOM_REAP = '__oom_reap_task_mm';

/** Event name of the secondary-TLB probe, by hook symbol. */
export const SECONDARY_EVENT: Record<string, string> = {
  [SYM_SECONDARY_OLD]: 'mn_inv_range',
  [SYM_SECONDARY_NEW]: 'mn_inv_secondary_tlbs',
};

/** `enum mmu_notifier_event` (about 5.2+; EXCLUSIVE from about 5.13). */
export const EVENT_VALUES: readonly EventValue[] = MMU_NOTIFIER_EVENTS.map((name, value) => ({ name, value }));

const f = (name: string, offset: number, size: number): RangeField => ({ name, offset, size });

/** `struct mmu_notifier_range` by version (x86_64 and arm64 agree: both LP64). */
export function tableRangeLayout(v: KernelVersion): RangeLayout | undefined {
  if (!atLeast(v, 5, 0)) return undefined;
  if (!atLeast(v, 5, 2)) {
    return {
      fields: [f('mm', 0, 8), f('start', 8, 8), f('end', 16, 8), f('blockable', 24, 1)],
      source: 'table',
      description: 'about 5.0-5.1: mm 0, start 8, end 16, bool blockable 24',
    };
  }
  if (!atLeast(v, 6, 3)) {
    const fields = [f('vma', 0, 8), f('mm', 8, 8), f('start', 16, 8), f('end', 24, 8), f('flags', 32, 4), f('event', 36, 4)];
    if (atLeast(v, 5, 9)) fields.push(f('owner', 40, 8));
    return {
      fields,
      source: 'table',
      description: `about 5.2-6.2: vma 0, mm 8, start 16, end 24, flags 32, event 36${atLeast(v, 5, 9) ? ', owner 40 (about 5.9+)' : ''}`,
    };
  }
  return {
    fields: [f('mm', 0, 8), f('start', 8, 8), f('end', 16, 8), f('flags', 24, 4), f('event', 28, 4), f('owner', 32, 8)],
    source: 'table',
    description: 'about 6.3+: mm 0, start 8, end 16, flags 24, event 28, owner 32',
  };
}

/** Default parameter names (the names in the kernel source; BTF overrides them). */
export function tableParamNames(v: KernelVersion): Record<string, string[]> {
  const ranged = atLeast(v, 5, 0);
  return {
    [SYM_START]: ranged ? ['range'] : atLeast(v, 4, 19) ? ['mm', 'start', 'end', 'blockable'] : ['mm', 'start', 'end'],
    [SYM_END]: ranged ? (atLeast(v, 6, 6) ? ['range'] : ['range', 'only_end']) : atLeast(v, 4, 15) ? ['mm', 'start', 'end', 'only_end'] : ['mm', 'start', 'end'],
    [SYM_SECONDARY_OLD]: ['mm', 'start', 'end'],
    [SYM_SECONDARY_NEW]: ['mm', 'start', 'end'],
    [SYM_KVM_START]: ranged ? ['mn', 'range'] : atLeast(v, 4, 19) ? ['mn', 'mm', 'start', 'end', 'blockable'] : ['mn', 'mm', 'start', 'end'],
    [SYM_KVM_END]: ranged ? ['mn', 'range'] : ['mn', 'mm', 'start', 'end'],
    [SYM_KVM_RANGE]: ['mn', 'mm', 'start', 'end'],
    [SYM_REGISTER]: ['subscription', 'mm'],
    [SYM_RELEASE]: ['mm'],
    [SYM_ITREE_INSERT]: ['interval_sub', 'mm', 'start', 'length', 'ops'],
    [SYM_ITREE_REMOVE]: ['interval_sub'],
    [SYM_ITREE_INV_END]: ['subscriptions'],
    [SYM_OOM_REAP]: atLeast(v, 4, 17) ? ['mm'] : ['tsk', 'mm'],
  };
}

/** All facts from the version tables alone. */
export function tableFacts(v: KernelVersion): KernelFacts {
  const range = tableRangeLayout(v);
  const newHook = atLeast(v, 6, 6);
  const secondary = newHook ? SYM_SECONDARY_NEW : SYM_SECONDARY_OLD;
  const facts: KernelFacts = {
    range,
    startReturnsInt: atLeast(v, 4, 19),
    legacyStartBlockable: !range && atLeast(v, 4, 19),
    endOnlyEnd: range ? !newHook : atLeast(v, 4, 15),
    secondaryTlb: { symbol: secondary, event: SECONDARY_EVENT[secondary] },
    kvmRangeHook: atLeast(v, 4, 15) && !newHook,
    intervalNotifiers: atLeast(v, 5, 5),
    oomReapMmArg: atLeast(v, 4, 17) ? 0 : atLeast(v, 4, 14) ? 1 : undefined,
    eventValues: atLeast(v, 5, 2) ? EVENT_VALUES.filter((e) => e.name !== 'MMU_NOTIFY_EXCLUSIVE' || atLeast(v, 5, 13)) : [],
    paramNames: tableParamNames(v),
    provenance: {},
  };
  for (const k of ['range', 'startReturnsInt', 'endOnlyEnd', 'secondaryTlb', 'kvmRangeHook', 'intervalNotifiers', 'oomReapMmArg', 'eventValues', 'paramNames']) {
    facts.provenance[k] = 'table';
  }
  return facts;
}

/** Notes for versions where the tables are least certain. */
export function tableWarnings(v: KernelVersion): string[] {
  const out: string[] = [];
  if (!atLeast(v, 4, 15)) out.push(`kernel ${v.raw} is older than the tables cover (about 4.15+): the probes may not match; give --btf if the kernel has BTF`);
  const near: Array<[number, number, string]> = [
    [5, 2, 'struct mmu_notifier_range gained vma/flags/event in about 5.2'],
    [6, 3, 'struct mmu_notifier_range lost vma in about 6.3'],
    [6, 6, 'only_end and __mmu_notifier_invalidate_range went away in about 6.6'],
  ];
  for (const [maj, min, what] of near) {
    if (v.major === maj && Math.abs(v.minor - min) <= 1) out.push(`kernel ${v.raw} is next to a layout change (${what}); the boundary is approximate: check with --btf /sys/kernel/btf/vmlinux`);
  }
  return out;
}
