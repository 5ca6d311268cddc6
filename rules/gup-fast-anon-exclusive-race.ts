import type { Confidence, KernelInfo, TaskView } from '../src/engine/types';
import { defineRule, optionsSchema } from '../src/engine/types';
import { taskKey, type TraceEvent } from '../src/model/event';
import { addNs, compareTimestamps, diffNs } from '../src/model/time';
import type { Operation } from '../src/semantics/operations';

/** One PTE-clear ... anon-exclusive clear ... PTE-restore sequence of one task on one page. */
interface ClearWindow {
  id: number;
  /** taskKey of the task (pid, or machine and pid). */
  task: number | string;
  /** The machine, in a report of several: a pin on another machine is of another page. */
  machine?: string;
  pid: number;
  comm: string;
  cpu?: number;
  keys: string[];
  /** The ksm-write-protect / anon-exclusive-clear operations, in order: the first OPS_KEPT of them. */
  ops: Operation[];
  /** The latest of them (kept or not). */
  last: Operation;
  /** The invalidation range the PTE clear happens in (started before or just after the first op). */
  rangeStart?: Operation;
  rangeEnd?: Operation;
  from: TraceEvent;
  /** Set when the window is closed. */
  to?: TraceEvent;
  toTs?: TraceEvent['ts'];
}

interface Pin {
  op: Operation;
  keys: string[];
}

/** Pins remembered per page key, and page keys remembered at most. */
const PINS_PER_KEY = 16;
const MAX_KEYS = 65536;
const WINDOWS_PER_KEY = 8;
/** Clears kept per window for its evidence: a task clearing the same page a million times keeps a window of this many, not a million. */
const OPS_KEPT = 16;

const rule = defineRule({
  meta: {
    id: 'gup-fast-anon-exclusive-race',
    defaultSeverity: 'warning',
    restsOnAbsence: true,
    docs: {
      description: 'Heuristic: a GUP-fast pin of a page on one CPU overlapping in time, on another CPU, a PTE-clear / PageAnonExclusive-clear / PTE-restore sequence on the same page (KSM write_protect_page, page_try_share_anon_rmap, folio_try_share_anon_rmap_*).',
      rationale:
        'Before a page that was exclusively mapped may become shared (KSM merging, fork, migration, swap-out), the kernel clears ' +
        'the PTE, checks for pins, clears PageAnonExclusive and (KSM) restores the PTE write-protected. RCU GUP-fast runs ' +
        'concurrently without the page table lock: it reads the PTE, pins the page, then re-checks the PTE and PageAnonExclusive. ' +
        'Commit 6c287605fd (v5.19) relied on the TLB flush to order the two sides, which only works for IPI-based GUP-fast; ' +
        'David Hildenbrand\'s 088b8aa537 (v6.0) adds the smp_mb()/smp_wmb()/smp_rmb() pairs. Without them a pin could be taken ' +
        'on a page that may be shared: the pin and the mapped page go out of sync on the next write fault (memory corruption ' +
        'seen by the device or O_DIRECT user). A trace cannot show memory ordering: it shows the two sides overlapping in time, ' +
        'which is the window the race needs. Always a warning: likely on a kernel known to lack 088b8aa537 (5.19), inconclusive ' +
        'otherwise.',
      commits: [
        '088b8aa537 (v6.0): mm: fix PageAnonExclusive clearing racing with concurrent RCU GUP-fast',
        '6c287605fd (v5.19): mm: remember exclusively mapped anonymous pages with PG_anon_exclusive',
        '2667f50e8b (v3.18): mm: introduce a general RCU get_user_pages_fast()',
      ],
      kernels:
        'the race exists from 6c287605fd (v5.19) until 088b8aa537 (v6.0; check whether a 5.19.y stable kernel carries it); from ' +
        '6.0 the overlap is expected and GUP-fast backs off, so the finding is informational; give --kernel for a likely verdict',
      capture:
        'kprobes with the same page identifier on both sides: try_grab_folio / try_grab_folio_fast / try_grab_page (page=%di:x64) ' +
        'for the pin; write_protect_page (page=%si:x64 before about 6.8, its folio after) and, where not inlined, ' +
        'page_try_share_anon_rmap / folio_try_share_anon_rmap_pte for the clear; the invalidation range probes bracket the PTE ' +
        'clear and restore. Keep the CPU column (the default)',
    },
    evidenceRoles: {
      'ksm-write-protect': 'KSM\'s write_protect_page on the page',
      'anon-exclusive-clear': 'the PageAnonExclusive clear',
      'gup-fast-pin': 'the GUP-fast pin on another CPU',
      'range-start': 'the start of the invalidation range the PTE was cleared in',
      'range-end': 'the end of that range, before which the PTE was restored',
    },
    messages: {
      race: 'GUP-fast pin of {{page}} by {{pinComm}}-{{pinPid}}{{pinCpu}} at {{pinTs}} (line {{pinLine}}) overlaps {{clearComm}}-{{clearPid}}{{clearCpu}} clearing PageAnonExclusive of the same page ({{what}}, lines {{fromLine}}-{{toLine}}, {{span}}). {{kernelText}}',
    },
    schema: optionsSchema({
      maxWindowUs: {
        type: 'number', exclusiveMinimum: 0,
        description: 'how long after the anon-exclusive clear the window stays open when no invalidation range end closes it (microseconds)',
      },
    }),
    defaultOptions: { maxWindowUs: 1000 },
    operations: ['gup-fast-pin', 'anon-exclusive-clear', 'ksm-write-protect'],
  },
  create(context) {
    const maxWindowNs = context.options.maxWindowUs * 1000;
    const openByTask = new Map<number | string, ClearWindow>();
    const closedByKey = new Map<string, ClearWindow[]>();
    const pinsByKey = new Map<string, Pin[]>();
    const reported = new Set<string>();
    let nextId = 1;

    return {
      on: {
        'ksm-write-protect': clear,
        'anon-exclusive-clear': clear,
        'range-start'(op, task) {
          const w = openByTask.get(task.key);
          if (w) {
            if (w.rangeStart) close(w, op.ev);
            else w.rangeStart = op; // KSM's write_protect_page starts its range after entry: the PTE clear is inside
          }
        },
        'range-end'(op, task) {
          const w = openByTask.get(task.key);
          if (w) {
            w.rangeEnd = op;
            close(w, op.ev);
          }
        },
        'gup-fast-pin': pin,
        'task-exit'(op) {
          // The exiting task may be another than the one that traced the exit (sched_process_exit's pid=).
          const w = openByTask.get(taskKey(op.targetPid ?? op.ev.pid, op.ev.machine));
          if (w) close(w, op.ev);
        },
      },
      endOfTrace() {
        for (const w of [...openByTask.values()]) close(w, undefined);
      },
    };

    /** A PTE clear (anon-exclusive clear, KSM write-protect) opens or extends the task's window. */
    function clear(op: Operation, task: TaskView) {
      const keys = keysOf(op);
      if (!keys.length) return;
      const w = openByTask.get(task.key);
      if (w && w.keys.some((k) => keys.includes(k))) {
        if (w.ops.length < OPS_KEPT) w.ops.push(op);
        w.last = op;
        return;
      }
      if (w) close(w, op.ev);
      // The PTE clear of try_to_migrate_one / try_to_unmap_one happens inside a range already open.
      const enclosing = task.openRanges[task.openRanges.length - 1];
      openByTask.set(task.key, {
        id: nextId++, task: task.key, machine: op.ev.machine, pid: op.ev.pid, comm: op.ev.comm, cpu: op.ev.cpu, keys, ops: [op], last: op,
        rangeStart: enclosing?.start, from: enclosing?.start.ev ?? op.ev,
      });
    }

    function close(w: ClearWindow, at: TraceEvent | undefined) {
      openByTask.delete(w.task);
      const lastOp = w.last.ev;
      // Without a range end, the restore is not seen: keep the window open at most maxWindowUs after the last clear.
      if (w.rangeEnd) {
        w.to = w.rangeEnd.ev;
        w.toTs = w.rangeEnd.ev.ts;
      } else {
        const limitNs = maxWindowNs;
        const endNs = at ? Math.min(Math.max(0, diffNs(lastOp.ts, at.ts)), limitNs) : limitNs;
        w.to = at && diffNs(lastOp.ts, at.ts) <= limitNs ? at : lastOp;
        w.toTs = addNs(lastOp.ts, BigInt(Math.round(endNs)));
      }
      for (const k of w.keys) {
        const list = closedByKey.get(k) ?? [];
        list.push(w);
        if (list.length > WINDOWS_PER_KEY) list.shift();
        remember(closedByKey, k, list);
        for (const p of pinsByKey.get(k) ?? []) check(w, p);
      }
    }

    function pin(op: Operation) {
      const keys = keysOf(op);
      if (!keys.length) return;
      const p: Pin = { op, keys };
      for (const k of keys) {
        const list = pinsByKey.get(k) ?? [];
        list.push(p);
        if (list.length > PINS_PER_KEY) list.shift();
        remember(pinsByKey, k, list);
        for (const w of closedByKey.get(k) ?? []) check(w, p);
      }
    }

    function check(w: ClearWindow, p: Pin) {
      const ev = p.op.ev;
      if (ev.machine !== w.machine || ev.pid === w.pid) return;
      if (ev.cpu !== undefined && w.cpu !== undefined && ev.cpu === w.cpu) return;
      if (compareTimestamps(ev.ts, w.from.ts) < 0 || compareTimestamps(ev.ts, w.toTs as TraceEvent['ts']) > 0) return;
      const id = `${w.id}:${ev.src.line}`;
      if (reported.has(id)) return;
      reported.add(id);
      const { confidence, text } = verdict(context.kernel);
      const first = w.ops[0];
      const steps: Array<[number, string]> = w.ops.map((o) => [o.ev.src.line, o.ev.probe?.symbol ?? o.ev.name]);
      if (w.rangeStart) steps.push([w.rangeStart.ev.src.line, 'invalidation start (PTE clear)']);
      if (w.rangeEnd) steps.push([w.rangeEnd.ev.src.line, 'invalidation end (PTE restored)']);
      const what = steps.sort((a, b) => a[0] - b[0]).map((x) => x[1]).join(' -> ');
      context.report({
        confidence,
        event: first.ev,
        messageId: 'race', data: {
          page: p.op.pfn !== undefined && first.pfn !== undefined ? `pfn ${p.op.pfn}` : `page ${p.op.page ?? first.page}`,
          pinComm: ev.comm, pinPid: ev.pid, pinCpu: ev.cpu !== undefined ? ` on CPU ${ev.cpu}` : '', pinTs: ev.ts.raw, pinLine: ev.src.line,
          clearComm: w.comm, clearPid: w.pid, clearCpu: w.cpu !== undefined ? ` on CPU ${w.cpu}` : '',
          what, fromLine: w.from.src.line, toLine: (w.to as TraceEvent).src.line,
          span: `${w.from.ts.raw}-${formatTs(w.toTs as TraceEvent['ts'])}`,
          kernelText: text,
        },
        evidence: [
          ...w.ops.map((o) => ({ ev: o.ev, role: o.role === 'ksm-write-protect' ? 'ksm-write-protect' as const : 'anon-exclusive-clear' as const })),
          { ev, role: 'gup-fast-pin' as const },
          ...(w.rangeStart ? [{ ev: w.rangeStart.ev, role: 'range-start' as const }] : []),
          ...(w.rangeEnd ? [{ ev: w.rangeEnd.ev, role: 'range-end' as const }] : []),
        ],
      });
    }
  },
});

function verdict(kernel: KernelInfo | undefined): { confidence: Confidence; text: string } {
  if (!kernel) {
    return {
      confidence: 'inconclusive',
      text: 'Kernel version unknown (give --kernel): from 6c287605fd (v5.19) until 088b8aa537 (v6.0) nothing orders the two sides for RCU GUP-fast, and the pin can stick on a page that may be shared; from 6.0 GUP-fast re-checks after a full barrier and backs off.',
    };
  }
  const v = kernel.major * 1000 + kernel.minor;
  if (v >= 6000) {
    return {
      confidence: 'inconclusive',
      text: `Kernel ${kernel.version} has 088b8aa537 (v6.0): GUP-fast sees the cleared PageAnonExclusive or the changed PTE and backs off; the overlap is reported for information.`,
    };
  }
  if (v >= 5019) {
    return {
      confidence: 'likely',
      text: `Kernel ${kernel.version} has PG_anon_exclusive (6c287605fd, v5.19) but not 088b8aa537 (v6.0) unless its stable tree took it: without the barriers RCU GUP-fast can keep this pin on a page that may now be shared.`,
    };
  }
  return {
    confidence: 'inconclusive',
    text: `Kernel ${kernel.version} predates PG_anon_exclusive (6c287605fd, v5.19) and 088b8aa537 (v6.0): the overlap shows the window, but this kernel protected it differently (page_maybe_dma_pinned() after the clear and TLB flush).`,
  };
}

/** Page identifiers of an operation: the pfn and the struct page pointer, whichever were captured. */
function keysOf(op: Operation): string[] {
  const keys: string[] = [];
  if (op.pfn !== undefined) keys.push(`pfn:${op.pfn}`);
  if (op.page !== undefined) keys.push(`page:${op.page}`);
  return keys;
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (!map.has(key) && map.size >= MAX_KEYS) map.delete(map.keys().next().value as string);
  map.set(key, value);
}

function formatTs(ts: TraceEvent['ts']): string {
  return `${ts.sec}.${String(ts.nsec).padStart(9, '0').slice(0, 6)}`;
}

export default rule;
