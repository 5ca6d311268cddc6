/**
 * Types shared by probe generation (`mntrace probes`): what we know about a kernel, the probes we
 * build from it, and the capture plan the renderers turn into commands.
 */

export type Arch = 'x86_64' | 'arm64';
export const ARCHES: readonly Arch[] = ['x86_64', 'arm64'];

/** `offsets`: registers and `+OFFS(%reg)` fetches (every kernel); `btf`: fprobes with BTF names (about 6.5+). */
export type ProbeSyntax = 'offsets' | 'btf';
export const SYNTAXES: readonly ProbeSyntax[] = ['offsets', 'btf'];

export type OutputFormat = 'kprobe_events' | 'trace-cmd' | 'perf-probe' | 'script';
export const FORMATS: readonly OutputFormat[] = ['kprobe_events', 'trace-cmd', 'perf-probe', 'script'];

/** A kernel release as `uname -r` prints it, with the numbers that decide the tables. */
export interface KernelVersion {
  raw: string;
  major: number;
  minor: number;
  patch: number;
}

/** Where a fact about the kernel came from. */
export type Provenance = 'table' | 'btf';

/** A member of `struct mmu_notifier_range`. */
export interface RangeField {
  name: string;
  /** Byte offset of the member (of its first byte for a bitfield). */
  offset: number;
  /** Size in bytes (of the containing storage unit for a bitfield). */
  size: number;
  /** Present when the member is a bitfield: width and offset inside a container of `containerBits` at `offset`. */
  bitfield?: { bits: number; bitOffset: number; containerBits: number };
}

/** The layout of `struct mmu_notifier_range` the probes dereference. */
export interface RangeLayout {
  fields: RangeField[];
  source: Provenance;
  /** Human description, e.g. `about 5.2-6.2: vma 0, mm 8, start 16, end 24, flags 32, event 36, owner 40`. */
  description: string;
}

/** One enumerator of `enum mmu_notifier_event`. */
export interface EventValue {
  name: string;
  value: number;
}

/** Everything generation needs to know about the target kernel. */
export interface KernelFacts {
  /** undefined before about 5.0: the functions take (mm, start, end) and there is no range struct. */
  range: RangeLayout | undefined;
  /** `__mmu_notifier_invalidate_range_start` returns int (about 4.19+); before that void. */
  startReturnsInt: boolean;
  /** Before 5.0: a 4th `bool blockable` argument of the start (about 4.19-4.20). */
  legacyStartBlockable: boolean;
  /** `bool only_end` second argument of the end (about 4.15 .. before about 6.6; 4th argument before 5.0). */
  endOnlyEnd: boolean;
  /** The secondary-TLB hook and the event name we give its probe; undefined when unknown. */
  secondaryTlb: { symbol: string; event: string } | undefined;
  /** KVM's `kvm_mmu_notifier_invalidate_range` (->invalidate_range op), about 4.15 .. before 6.6. */
  kvmRangeHook: boolean;
  /** Interval notifiers (`mmu_interval_notifier_insert/remove`, `mn_itree_inv_end`), about 5.5+. */
  intervalNotifiers: boolean;
  /** Which argument of `__oom_reap_task_mm` is the mm (0-based); undefined when the function does not exist. */
  oomReapMmArg: number | undefined;
  /** `enum mmu_notifier_event` (about 5.2+); empty when the kernel has none. */
  eventValues: EventValue[];
  /** Parameter names by function (from BTF when given; used by `--syntax btf` and perf with debuginfo). */
  paramNames: Record<string, string[]>;
  /** Which facts came from BTF and which from the version tables. */
  provenance: Record<string, Provenance>;
}

/** How a probe argument is fetched, independent of the syntax it is written in. */
export type FetchSpec =
  | { kind: 'param'; index: number }
  | { kind: 'field'; param: number; field: RangeField }
  | { kind: 'retval' };

export interface ProbeArg {
  name: string;
  fetch: FetchSpec;
  /** kprobe fetch type: `x64`, `u32`, `u8`, `s32`, `b3@2/32`... */
  type: string;
}

/** One probe, before it is written in a syntax. */
export interface ProbeSpec {
  /** Event name (the analyzer recognises these). */
  event: string;
  /** The probed function. */
  symbol: string;
  /** Entry probe, or return probe (kretprobe / fprobe exit). */
  at: 'entry' | 'return';
  /** kretprobe MAXACTIVE (`r10:`); offsets syntax only. */
  maxactive?: number;
  args: ProbeArg[];
  /** A capture is pointless without it (the script aborts when it cannot be defined). */
  required: boolean;
  /** The module that holds the symbol when it is not in vmlinux (`kvm`). */
  module?: string;
  /** What the probe tells the analyzer. */
  purpose: string;
}

/** A tracepoint (or group of them) to enable. */
export interface TracepointSpec {
  /** `group:event` or `group:*`. */
  spec: string;
  /** The module that must be loaded for it to exist. */
  module?: string;
  purpose: string;
}

/** An event trigger to install. */
export interface TriggerSpec {
  /** `group/event`, as under tracefs events/. */
  event: string;
  command: string;
}

/** The result of {@link generateProbes}: the capture plan for one kernel. */
export interface ProbeSet {
  kernel: KernelVersion;
  /** Where the version came from: the `--kernel` option or `uname -r` of this machine. */
  kernelSource: 'option' | 'uname';
  arch: Arch;
  syntax: ProbeSyntax;
  /** The tracefs group of every probe. */
  group: string;
  /** The tracefs file the definitions are written to. */
  definitionsFile: 'kprobe_events' | 'dynamic_events';
  facts: KernelFacts;
  probes: ProbeSpec[];
  /** The definitions, one line each, as written to `definitionsFile`. */
  definitions: string[];
  tracepoints: TracepointSpec[];
  triggers: TriggerSpec[];
  /** Things the user should know (approximate version boundaries, BTF overriding the tables...). */
  warnings: string[];
  /** Set when the facts were read from a BTF file. */
  btfSource?: string;
}
