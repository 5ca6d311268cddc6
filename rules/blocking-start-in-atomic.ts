import type { RangeRecord } from '../src/engine/types';
import { defineRule } from '../src/engine/types';
import { describeFlags, isAtomic } from '../src/model/flags';

const rule = defineRule({
  meta: {
    id: 'blocking-start-in-atomic',
    defaultSeverity: 'error',
    docs: {
      description: 'A blocking invalidation range start issued with interrupts off, preemption disabled, or in hardirq/softirq/NMI context.',
      rationale:
        'The blocking start may sleep: __mmu_notifier_invalidate_range_start() runs subscribers that take sleeping locks and wait ' +
        'for vCPUs, and lockdep tracks it with __mmu_notifier_invalidate_range_start_map (might_sleep semantics). Calling it ' +
        'under a spinlock, with preemption or interrupts disabled, or inside an RCU read section is a "sleeping function called ' +
        'from invalid context" bug. The ftrace flags column shows the context: `d` (irqs off), a non-zero preempt-depth digit, ' +
        '`h`/`s`/`z` for hardirq/softirq/NMI. Seed example: the UFFDIO_REMAP review moved the start "to before we map the ptes ' +
        'because that\'s where we start the RCU read section".',
      commits: ['93065ac753e4 (v4.19): mm, oom: distinguish blockable mode for mmu notifiers (the blockable contract)'],
      kernels: 'all; the flags column needs the irq-info trace option (on by default)',
      capture: 'kprobes placed on the function entry (ftrace-based, `+0x0` or `+0x4` on IBT kernels) so the flags column shows the probed context',
    },
    evidenceRoles: {
      'blocking-start': 'the blockable start, made in atomic context',
    },
    messages: {
      atomic: '{{comm}}-{{pid}} issued a blocking invalidation start for range {{key}} in atomic context ({{context}}, flags column `{{flags}}`): the blocking start may sleep.',
      irqsOffOnly: '{{comm}}-{{pid}} issued a blocking invalidation start for range {{key}} with interrupts shown off (flags `{{flags}}`), but every kprobe hit in this capture shows interrupts off, as int3-based kprobes do: capture with ftrace-based kprobes to be sure.',
    },
  },
  create(context) {
    const irqsOffOnly: RangeRecord[] = [];
    return {
      rangeStart(range) {
        const ctx = range.start.ev.ctx;
        if (range.start.blockable !== true || !ctx || !isAtomic(ctx)) return;
        const onlyIrqs = ctx.irqsOff && ctx.preemptDepth === 0 && !ctx.hardirq && !ctx.softirq && !ctx.nmi;
        if (onlyIrqs && !context.coverage.kprobeIrqsOnSeen()) {
          irqsOffOnly.push(range);
          return;
        }
        report(range, 'certain');
      },
      endOfTrace() {
        for (const range of irqsOffOnly) report(range, context.coverage.kprobeIrqsOnSeen() ? 'certain' : 'inconclusive');
      },
    };
    function report(range: RangeRecord, confidence: 'certain' | 'inconclusive') {
      const ctx = range.start.ev.ctx!;
      context.report({
        confidence,
        event: range.start.ev,
        messageId: confidence === 'certain' ? 'atomic' : 'irqsOffOnly', data: {
          comm: range.comm, pid: range.pid, key: range.key, context: describeFlags(ctx), flags: ctx.raw,
        },
        evidence: [{ ev: range.start.ev, role: 'blocking-start' as const }],
      });
    }
  },
});

export default rule;
