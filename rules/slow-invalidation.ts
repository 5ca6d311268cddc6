import type { RangeRecord } from '../src/engine/types';
import { defineRule, optionsSchema } from '../src/engine/types';
import { diffNs, formatDuration } from '../src/model/time';
import { eventTypeName } from '../src/semantics/operations';

/** mms released (mn_release) at most remembered. */
const MAX_RELEASED = 4096;

const rule = defineRule({
  meta: {
    id: 'slow-invalidation',
    defaultSeverity: 'warning',
    restsOnAbsence: true,
    docs: {
      description: 'An invalidation range whose start-to-end time exceeds `thresholdMs` (default 10 ms).',
      rationale:
        'While a range is open every subscriber holds off the range: KVM keeps mmu_invalidate_in_progress raised, so vCPU page ' +
        'faults on it retry, and GPU/IOMMU ' +
        'drivers stall device faults until invalidate_range_end. A range open for many milliseconds shows up as guest or device ' +
        'latency. The finding splits the time into the start call (the subscribers\' invalidate_range_start callbacks; needs the ' +
        'kretprobe) and the time the caller held the range (zapping, copying, waiting for locks or being preempted). Ranges ' +
        'nobody waits on are skipped unless asked for: non-blocking starts (the OOM reaper working on a killed process) and ' +
        'ranges on an mm after its __mmu_notifier_release (exit_mmap tears down the whole address space after the subscribers ' +
        'were detached). The summary of the report gives count/p50/p99/max per event type and per caller.',
      commits: ['93065ac753e4 (v4.19): mm, oom: distinguish blockable mode for mmu notifiers (non-blocking starts are the reaper\'s)'],
      kernels: 'all kernels with mmu notifiers',
      capture: 'the start probe with its kretprobe and the end probe; __mmu_notifier_release (mn_release) to skip teardown ranges; trace_clock global or a monotonic clock (timestamps of one task across CPUs must be comparable)',
    },
    evidenceRoles: {
      start: 'the start',
      'start-return': 'the start\'s return',
      end: 'the end',
    },
    messages: {
      slow: '{{comm}}-{{pid}}: invalidation range {{key}} ({{eventType}}, {{span}}{{caller}}) was open for {{duration}} (threshold {{threshold}}){{split}}.',
    },
    schema: optionsSchema({
      thresholdMs: { type: 'number', exclusiveMinimum: 0, description: 'report ranges open longer than this, in milliseconds' },
      includeNonBlocking: { type: 'boolean', description: 'also judge non-blocking starts (the OOM reaper on a killed process)' },
      includeReleasedMm: { type: 'boolean', description: 'also judge ranges on an mm after __mmu_notifier_release (exit teardown)' },
    }),
    defaultOptions: { thresholdMs: 10, includeNonBlocking: false, includeReleasedMm: false },
    operations: ['notifier-release', 'notifier-register'],
  },
  create(context) {
    const thresholdNs = context.options.thresholdMs * 1e6;
    const includeNonBlocking = context.options.includeNonBlocking;
    const includeReleased = context.options.includeReleasedMm;
    const released = new Set<string>();
    return {
      on: {
        'notifier-release'(op) {
          const mm = op.args.mm;
          if (mm === undefined) return;
          if (released.size >= MAX_RELEASED) released.delete(released.values().next().value as string);
          released.add(mm);
        },
        'notifier-register'(op) {
          if (op.args.mm !== undefined) released.delete(op.args.mm); // the mm_struct address was reused by a new process
        },
      },
      pairClosed(range) {
        const end = range.end;
        if (!end) return;
        const ns = diffNs(range.start.ev.ts, end.ev.ts);
        if (ns <= thresholdNs) return;
        if (!includeNonBlocking && range.start.blockable === false) return;
        if (!includeReleased && range.start.args.mm !== undefined && released.has(range.start.args.mm)) return;
        report(range, ns);
      },
    };

    function report(range: RangeRecord, ns: number) {
      const a = range.start.args;
      const ret = range.startReturn;
      const end = range.end!;
      let split = '';
      if (ret) {
        const call = diffNs(range.start.ev.ts, ret.ev.ts);
        const held = diffNs(ret.ev.ts, end.ev.ts);
        split = `: ${formatDuration(call)} in the start call (subscriber callbacks${range.subscriberStarts.length ? `: ${range.subscriberStarts.map((s) => s.subscriberKind ?? s.subscriber ?? '?').join(', ')}` : ''}), ${formatDuration(held)} held by the caller before the end`;
      }
      const caller = range.caller?.caller ?? ret?.returnSite;
      context.report({
        confidence: 'certain',
        event: range.start.ev,
        messageId: 'slow', data: {
          comm: range.comm, pid: range.pid, key: range.key,
          eventType: eventTypeName(a.event) ?? 'event type not captured',
          span: a.start !== undefined ? `${a.start}-${a.end}` : 'addresses not captured',
          caller: caller ? `, from ${caller}` : '',
          duration: formatDuration(ns), threshold: formatDuration(thresholdNs), split,
        },
        evidence: [
          { ev: range.start.ev, role: 'start' as const },
          ...(ret ? [{ ev: ret.ev, role: 'start-return' as const }] : []),
          { ev: end.ev, role: 'end' as const },
        ],
      });
    }
  },
});

export default rule;
