import type { Confidence } from '../src/engine/types';
import { defineRule, optionsSchema } from '../src/engine/types';
import type { StackFrame, TraceEvent } from '../src/model/event';

/** Kernel threads as ftrace names them (comm): they run with no mm of their own (current->mm == NULL). */
const DEFAULT_KERNEL_THREADS = [
  '^kswapd\\d*$', '^kcompactd\\d*$', '^kworker/', '^ksmd$', '^khugepaged$', '^oom_reaper$', '^kthreadd$',
  '^ksoftirqd/\\d+$', '^migration/\\d+$', '^rcu_', '^kdamond', '^kswapd\\d+:\\d+$', '^swapper(/\\d+)?$', '^<idle>$',
];

const rule = defineRule({
  meta: {
    id: 'secondary-tlb-without-mm',
    defaultSeverity: 'error',
    docs: {
      description: 'The secondary-TLB hook (__mmu_notifier_invalidate_range, __mmu_notifier_arch_invalidate_secondary_tlbs) called with a NULL mm, or on a path that passes current->mm (arch_tlbbatch_flush) from a kernel thread or on behalf of other processes.',
      rationale:
        'The hook tells IOMMUs and other secondary TLBs (SVA, SMMU) to drop translations of [start, end) in one mm. Seed 002 moved ' +
        'it into the architecture TLB-flush code (about 6.6); its first version called ' +
        'mmu_notifier_arch_invalidate_secondary_tlbs(current->mm, 0, -1UL) from arch_tlbbatch_flush(), which flushes the batched ' +
        'unmaps of reclaim. Reclaim runs in kswapd (a kernel thread: current->mm is NULL, hence the NULL dereference SeongJae Park ' +
        'bisected to 75c400f82d34 with stress-ng --bigheap, and the XFS generic/176 regression) or in whatever task entered direct ' +
        'reclaim (current->mm is that task\'s own mm, not the mms whose PTEs were batched: their secondary TLBs are never told). ' +
        'The fix calls the hook from arch_tlbbatch_add_pending() with the mm being unmapped. A kernel thread calling the hook ' +
        'with the mm it is unmapping (kswapd in try_to_unmap_one) is correct and not reported. How "no mm" is told: an mm ' +
        'argument of 0; or a kernel thread (comm matching the kernelThreads option: kswapd, kcompactd, kworker, ksmd, ... or a ' +
        'stack that starts at kthread/ret_from_fork with no syscall entry) with a current->mm frame (arch_tlbbatch_flush) in ' +
        'the hook\'s stack. A user task with that frame notifies its own mm instead of the batched ones (likely).',
      commits: [
        '75c400f82d34 (mm-unstable, Jul 2023, reworked before merge): mmu_notifiers: Call invalidate_range() when invalidating TLBs (seed 002)',
        'mmu_notifiers: rename invalidate_range notifier (about v6.6): __mmu_notifier_invalidate_range becomes __mmu_notifier_arch_invalidate_secondary_tlbs',
      ],
      kernels:
        'mm=0 is a bug on any kernel; the arch_tlbbatch_flush path exists only in the mm-unstable/linux-next trees of Jul 2023 ' +
        '(merged kernels about 6.6+ call the hook from arch_tlbbatch_add_pending with the right mm); before about 6.6 the hook is ' +
        '__mmu_notifier_invalidate_range',
      capture:
        'a kprobe on the hook with its mm argument (mm=%di:x64) and a stacktrace trigger on it ' +
        '(echo stacktrace > events/kprobes/mn_inv_range/trigger)',
    },
    evidenceRoles: {
      'secondary-tlb-hook': 'the secondary-TLB invalidation hook call',
    },
    messages: {
      nullMm: '{{comm}}-{{pid}} called {{hook}} with mm=0 (NULL) for {{span}}: the hook dereferences the mm (mm_has_notifiers), and no secondary TLB learns which address space changed.',
      kthread: 'Kernel thread {{comm}}-{{pid}} called {{hook}} (mm={{mm}}) from {{frame}}, which passes current->mm: a kernel thread has no mm of its own ({{basis}}), so the mm is NULL (a crash) or borrowed, never the mm whose PTEs were batched; their secondary TLBs keep stale entries.',
      userTask: '{{comm}}-{{pid}} called {{hook}} (mm={{mm}}) from {{frame}}, which passes current->mm: the batched flush covers other processes\' PTEs (reclaim), but only this task\'s own mm is notified, so their secondary TLBs keep stale entries.',
    },
    schema: optionsSchema({
      kernelThreads: {
        type: 'array', items: { type: 'string', minLength: 1 },
        description: 'regular expressions for comm names of kernel threads (tasks with no mm)',
      },
      currentMmFrames: {
        type: 'array', items: { type: 'string', minLength: 1 },
        description: 'stack frames that call the hook with current->mm',
      },
    }),
    defaultOptions: { kernelThreads: DEFAULT_KERNEL_THREADS, currentMmFrames: ['arch_tlbbatch_flush'] },
    operations: ['secondary-tlb'],
  },
  create(context) {
    const kthreads = context.options.kernelThreads.map((s) => new RegExp(s));
    const currentMm = new Set(context.options.currentMmFrames);
    return {
      on: {
        'secondary-tlb'(op) {
          const ev = op.ev;
          const hook = ev.probe?.symbol ?? ev.name;
          const span = op.args.start !== undefined ? `${op.args.start}-${op.args.end}` : 'the range';
          if (op.args.mm === '0x0') {
            return report(ev, 'certain', 'nullMm', { comm: ev.comm, pid: ev.pid, hook, span });
          }
          const frame = ev.stack?.find((f) => currentMm.has(f.symbol));
          if (!frame) return;
          const kt = kernelThread(ev, kthreads);
          const data = { comm: ev.comm, pid: ev.pid, hook, mm: op.args.mm ?? '(not captured)', frame: frame.symbol, basis: kt ?? '' };
          if (kt) report(ev, 'certain', 'kthread', data);
          else report(ev, 'likely', 'userTask', data);
        },
      },
    };

    function report(ev: TraceEvent, confidence: Confidence, messageId: 'nullMm' | 'kthread' | 'userTask', data: Record<string, string | number | undefined>) {
      context.report({ confidence, event: ev, messageId, data, evidence: [{ ev, role: 'secondary-tlb-hook' as const }] });
    }
  },
});

/** Why the task is a kernel thread, or undefined when nothing says so. */
export function kernelThread(ev: TraceEvent, patterns: readonly RegExp[]): string | undefined {
  if (ev.pid === 0) return 'pid 0 (the idle task)';
  if (ev.pid === 2) return 'pid 2 (kthreadd)';
  const byStack = kthreadStack(ev.stack);
  if (byStack) return byStack;
  const p = patterns.find((re) => re.test(ev.comm));
  return p ? `comm ${ev.comm} is a kernel thread name (${p.source})` : undefined;
}

/** A kernel stack that starts at kthread()/ret_from_fork with no system call entry. */
function kthreadStack(stack: readonly StackFrame[] | undefined): string | undefined {
  if (!stack || stack.length === 0) return undefined;
  const syms = stack.map((f) => f.symbol);
  if (!syms.includes('kthread')) return undefined;
  if (syms.some((s) => /^(do_syscall_64|entry_SYSCALL|__x64_sys_|__arm64_sys_|el0_svc|invoke_syscall)/.test(s))) return undefined;
  return 'its stack starts at kthread()';
}

export default rule;
