import type { Confidence } from '../src/engine/types';
import { defineRule, optionsSchema } from '../src/engine/types';
import type { Operation } from '../src/semantics/operations';
import { gfpAllowsDirectReclaim, type GfpVerdict } from './support/gfp';
import { describePlacement, InsideInvalidationTracker, PLACEMENT_ROLES, placementEvidence, type Placement } from './support/inside-invalidation';

const rule = defineRule({
  meta: {
    id: 'reclaim-alloc-in-invalidate',
    defaultSeverity: 'error',
    restsOnAbsence: true,
    docs: {
      description: 'A memory allocation that may enter direct reclaim (GFP_KERNEL, GFP_KERNEL_ACCOUNT, GFP_USER, GFP_HIGHUSER_MOVABLE, GFP_NOFS, GFP_NOIO or any mask with __GFP_DIRECT_RECLAIM) made inside an invalidation callback.',
      rationale:
        'Direct reclaim unmaps pages with try_to_unmap_one(), which itself starts invalidation ranges and calls every subscriber\'s ' +
        'invalidate_range_start. An allocation that may reclaim from inside a callback can therefore recurse into the same subscriber ' +
        '(and its locks), and the kernel teaches lockdep exactly that: from about 5.11 fs_reclaim_acquire() takes and releases ' +
        '__mmu_notifier_invalidate_range_start_map for any mask with __GFP_DIRECT_RECLAIM (from about 5.4 lockdep was primed for ' +
        'GFP_KERNEL), and the start holds that map around the callbacks, so lockdep reports the inversion (the ' +
        '"kmalloc(GFP_KERNEL) inside the invalidation callback" report in the ' +
        'review of seed 001). Callbacks must allocate with GFP_NOWAIT/GFP_ATOMIC or preallocate. Only allocations inside the ' +
        'calls count: between the start\'s return and the end\'s entry the caller runs its own code (mremap allocates page tables ' +
        'there) and may reclaim. Inside the end call (subscribers\' invalidate_range_end) the same recursion applies, but lockdep ' +
        'does not annotate it: likely, not certain. Inside the secondary-TLB hook (invalidate_range, under the page table lock) a ' +
        'reclaiming allocation also sleeps in atomic context.',
      commits: [
        '23b68395c7c7 (about v5.4): mm/mmu_notifiers: add a lockdep map for invalidate_range_start/end',
        '66204f1d2d1b (about v5.4): mm/mmu_notifiers: prime lockdep (GFP_KERNEL allocations vs the start map)',
        'mm: Track mmu notifiers in fs_reclaim_acquire/release (about v5.11): every __GFP_DIRECT_RECLAIM mask, not only __GFP_FS, is checked against the start map',
        'd0164adc89f6 (v4.4): mm, page_alloc: distinguish between being unable to sleep, unwilling to sleep and avoiding waking kswapd (__GFP_DIRECT_RECLAIM)',
      ],
      kernels:
        'all kernels with mmu notifiers; lockdep reports GFP_KERNEL from about 5.4 and any direct-reclaim mask from about 5.11. Names in gfp_flags are version independent; numeric ' +
        'masks are decoded with ___GFP_DIRECT_RECLAIM = 0x400 from about 5.1 (GFP_KERNEL 0xcc0; still bit 10 through 6.x), 0x200000 ' +
        'in about 4.18-5.0, 0x400000 in 4.4-about 4.17, __GFP_WAIT 0x10 before 4.4 - pass --kernel, or the directReclaimBit option; ' +
        'without either a numeric mask is judged with 0x400 and the finding is at most likely',
      capture:
        'kmem:kmalloc, kmem:kmem_cache_alloc and/or kmem:mm_page_alloc, the start probe with its kretprobe (to tell the start call ' +
        'from the caller\'s code), the subscriber callbacks and mn_itree_inv_start_range/mn_itree_inv_end; or a stacktrace trigger ' +
        'on the allocation event',
    },
    evidenceRoles: {
      ...PLACEMENT_ROLES,
      allocation: 'the allocation',
    },
    messages: {
      alloc: '{{comm}}-{{pid}} allocated with {{gfp}} ({{why}}){{site}} {{where}}. An allocation that may direct-reclaim there can recurse into reclaim, which invalidates again through the same subscribers.',
    },
    schema: optionsSchema({
      directReclaimBit: {
        type: 'string',
        pattern: '^0x[0-9a-fA-F]+$',
        description: 'the value of ___GFP_DIRECT_RECLAIM for numeric gfp masks (overrides the kernel-version table), e.g. "0x400"',
      },
    }),
    defaultOptions: {},
    operations: ['alloc', 'itree-inv-start', 'itree-inv-end', 'secondary-tlb'],
  },
  create(context) {
    const override = context.options.directReclaimBit;
    const tracker = new InsideInvalidationTracker<GfpVerdict>((c, where) => report(c.op, c.data, where));
    return {
      on: {
        ...tracker.on,
        alloc(op, task) {
          const gfp = gfpAllowsDirectReclaim(op.gfp, context.kernel, override);
          if (!gfp?.direct) return;
          tracker.candidate({ op, data: gfp }, task);
        },
      },
      endOfTrace() {
        tracker.finish();
      },
    };

    function report(op: Operation, gfp: GfpVerdict, where: Placement) {
      let confidence: Confidence;
      if (where.kind === 'start-unproven') confidence = 'inconclusive';
      else if (where.kind === 'call' && where.side === 'end') confidence = 'likely';
      else if (where.kind === 'stack' && where.side === 'end') confidence = 'likely';
      else confidence = 'certain';
      if (confidence === 'certain' && gfp.numeric?.assumed) confidence = 'likely';
      const why = gfp.numeric
        ? `${gfp.token} has __GFP_DIRECT_RECLAIM, decoded with ${gfp.numeric.basis}`
        : gfp.token === '__GFP_DIRECT_RECLAIM' ? 'direct reclaim allowed' : `${gfp.token} includes __GFP_DIRECT_RECLAIM`;
      const site = op.ev.fields.call_site;
      context.report({
        confidence,
        event: op.ev,
        messageId: 'alloc', data: {
          comm: op.ev.comm, pid: op.ev.pid, gfp: op.gfp, why,
          site: site ? ` at ${site}` : '',
          where: describePlacement(where),
        },
        evidence: [{ ev: op.ev, role: 'allocation' as const }, ...placementEvidence(where)],
        // One defect at one call site (a callback that allocates on every invalidation) is one finding; its repeats are counted on it.
        ...(site ? { site } : {}),
      });
    }
  },
});

export default rule;
