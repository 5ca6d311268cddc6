/**
 * Kernel operations: what a trace event means, independent of how it was printed.
 * The semantics layer turns TraceEvents into these; the engine only sees these.
 */
import type { TraceEvent } from '../model/event';
import { MMU_NOTIFIER_EVENTS } from '../util/mmu-notifier-event';

export type Role =
  | 'range-start' | 'range-start-return' | 'range-end' | 'secondary-tlb'
  | 'subscriber-start' | 'subscriber-end' | 'subscriber-secondary-tlb'
  | 'oom-reap' | 'oom-reap-begin' | 'oom-reap-end' | 'oom-victim'
  | 'notifier-register' | 'notifier-release'
  | 'interval-insert' | 'interval-remove' | 'interval-read-begin' | 'itree-inv-start' | 'itree-inv-end'
  | 'kvm-unmap-range' | 'task-exit' | 'syscall' | 'sched-switch' | 'alloc' | 'tlb-flush' | 'device-fault'
  | 'gup-fast-pin' | 'anon-exclusive-clear' | 'ksm-write-protect';

/** The name of an `enum mmu_notifier_event` value (`event N` for one this list does not know). */
export function eventTypeName(v: number | undefined): string | undefined {
  if (v === undefined) return undefined;
  return MMU_NOTIFIER_EVENTS[v] ?? `event ${v}`;
}

/** The fields of `struct mmu_notifier_range` a probe may have captured (pointers as lower-case 0x hex). */
export interface RangeArgs {
  /** The `struct mmu_notifier_range *` (a caller stack address; reused by later ranges). */
  range?: string;
  mm?: string;
  start?: string;
  end?: string;
  /** `flags` word; bit 0 is MMU_NOTIFIER_RANGE_BLOCKABLE. */
  flags?: number;
  /** `enum mmu_notifier_event`. */
  event?: number;
}

export interface Operation {
  role: Role;
  ev: TraceEvent;
  args: RangeArgs;
  /** range-start: whether the blockable bit is set (undefined when flags were not captured). */
  blockable?: boolean;
  /** range-start-return: the value returned (signed), when captured. */
  ret?: bigint;
  /** range-start-return: the function returned to (`__oom_reap_task_mm`), when the format shows a symbol. */
  returnSite?: string;
  /** range-end: the only_end argument (before about 6.6). */
  onlyEnd?: boolean;
  /** Subscriber callbacks: the `struct mmu_notifier *` instance, and which driver. */
  subscriber?: string;
  subscriberKind?: string;
  /** oom-reap-begin/-end/victim, task-exit: the pid the event is about. */
  targetPid?: number;
  /** alloc: the GFP mask text. */
  gfp?: string;
  /** device-fault, gup-fast-pin, anon-exclusive-clear, ksm-write-protect: the (user or IO virtual) address, when captured. */
  address?: string;
  /** device-fault: the device (`0000:00:04.0`) and driver (`arm-smmu-v3`), when the event names them. */
  device?: string;
  driver?: string;
  /** gup-fast-pin, anon-exclusive-clear, ksm-write-protect, alloc (mm_page_alloc): the `struct page *` (or folio) and the pfn, when captured. */
  page?: string;
  pfn?: string;
  /** interval-insert/-remove/-read-begin: the `struct mmu_interval_notifier *`, when captured. */
  interval?: string;
  /** Extra named values from a tracepoint's payload pattern. */
  extra?: Record<string, string>;
}
