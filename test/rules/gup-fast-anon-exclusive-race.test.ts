import { runRuleTests } from '../rule-tester';

import { at, baseline as b, set, trace } from '../real-lines';

/**
 * Derived lines: the captures probe neither GUP nor KSM. The kprobe lines below follow the real 6.1 kprobe line
 * shape (baseline.trace.txt) with fetch args a user would define: try_grab_folio(page, refs, flags) page=%di,
 * write_protect_page(vma, page, orig_pte) page=%si, page_try_share_anon_rmap(page) page=%di (inline on most builds:
 * a debug build or fprobe). Function sizes are illustrative. ksmd's range lines are the real kvmnotif-147 start/end
 * (baseline.trace.txt lines 25919, 25923) moved to ksmd-37 on CPU 0 with a one-page range, as KSM's
 * write_protect_page issues (MMU_NOTIFY_CLEAR, event=1).
 */
const PAGE = '0xffffea0004a3b2c0';
const ksmLine = (line: string, ts: string) => at(line.replace('        kvmnotif-147     [001]', '            ksmd-37      [000]'), ts);
const wp = `            ksmd-37      [000] .....     6.700000: write_protect_page: (write_protect_page+0x0/0x2f0) page=${PAGE}`;
const ksmStart = ksmLine(set(set(set(b.start, 'range', '0xff4d4553c0a1bd20'), 'start', '0x7fc83c800000'), 'end', '0x7fc83c801000'), '6.700010');
const ksmRet = ksmLine('        kvmnotif-147     [001] .....     6.667965: mn_inv_start_ret: (write_protect_page+0x9e/0x2f0 <- __mmu_notifier_invalidate_range_start) ret=0', '6.700020');
const share = `            ksmd-37      [000] .....     6.700040: page_try_share_anon_rmap: (page_try_share_anon_rmap+0x0/0x60) page=${PAGE}`;
const ksmEnd = ksmLine(set(set(set(b.end, 'range', '0xff4d4553c0a1bd20'), 'start', '0x7fc83c800000'), 'end', '0x7fc83c801000').replace('only_end=1', 'only_end=0'), '6.700060');
/** GUP-fast on CPU 1 (kvmnotif-147, e.g. O_DIRECT or vfio pinning its memory). */
const pin = (ts: string, page = PAGE) => `        kvmnotif-147     [001] .....     ${ts}: try_grab_folio: (try_grab_folio+0x0/0x1b0) page=${page} refs=1 flags=0x40000`;
const ksm = (...mid: string[]) => [wp, ksmStart, ksmRet, share, ...mid, ksmEnd];

/** Migration: try_to_migrate_one's range on CPU 0 (the real compaction shape: comm sh), clearing anon-exclusive inside it. */
const shLine = (line: string, ts: string) => at(line.replace('        kvmnotif-147     [001]', '              sh-193     [000]'), ts);
const migStart = shLine(set(set(set(b.start, 'range', '0xff4d4553c0b3bc10'), 'start', '0x7fc83c800000'), 'end', '0x7fc83c801000'), '6.700000');
const migRet = shLine('        kvmnotif-147     [001] .....     6.667965: mn_inv_start_ret: (try_to_migrate_one+0x915/0xa00 <- __mmu_notifier_invalidate_range_start) ret=0', '6.700010');
const migShare = `              sh-193     [000] .....     6.700030: folio_try_share_anon_rmap_pte: (folio_try_share_anon_rmap_pte+0x0/0x80) folio=${PAGE}`;
const migEnd = shLine(set(set(set(b.end, 'range', '0xff4d4553c0b3bc10'), 'start', '0x7fc83c800000'), 'end', '0x7fc83c801000'), '6.700070');

runRuleTests('gup-fast-anon-exclusive-race', {
  valid: [
    { name: 'the pin before KSM starts', trace: trace(pin('6.699990'), ...ksm()) },
    { name: 'the pin after the PTE is restored', trace: trace(...ksm(), pin('6.700070')) },
    { name: 'another page', trace: trace(...ksm(pin('6.700050', '0xffffea0004a3b300'))) },
    { name: 'the same CPU (not concurrent)', trace: trace(...ksm(pin('6.700050').replace('[001]', '[000]'))) },
    { name: 'a pin with no clearing at all', trace: trace(pin('6.700050'), pin('6.700060')) },
  ],
  invalid: [
    {
      name: 'GUP-fast pins the page on CPU 1 while ksmd clears PageAnonExclusive on CPU 0 (no --kernel)',
      trace: trace(...ksm(pin('6.700050'))),
      errors: [{ messageId: 'race', line: 1, confidence: 'inconclusive', message: ['GUP-fast pin of page 0xffffea0004a3b2c0 by kvmnotif-147 on CPU 1', 'ksmd-37 on CPU 0', '088b8aa537 (v6.0)', 'give --kernel'], evidenceLines: [4, 5, 2, 6] }],
    },
    {
      name: 'the pin line comes before the clear in the file but inside the window in time',
      trace: trace(pin('6.700030'), ...ksm()),
      errors: [{ messageId: 'race', line: 2, confidence: 'inconclusive' }],
    },
    {
      name: 'migration: anon-exclusive cleared inside try_to_migrate_one\'s range',
      trace: trace(migStart, migRet, migShare, pin('6.700050'), migEnd),
      errors: [{ messageId: 'race', line: 3, confidence: 'inconclusive', message: ['sh-193 on CPU 0'], evidenceLines: [1, 4, 5] }],
    },
  ],
});

runRuleTests('gup-fast-anon-exclusive-race', {
  valid: [],
  invalid: [
    { name: 'kernel 5.19 lacks the barriers: likely', kernel: '5.19.0-2-amd64', trace: trace(...ksm(pin('6.700050'))), errors: [{ messageId: 'race', line: 1, confidence: 'likely', message: ['Kernel 5.19.0-2-amd64 has PG_anon_exclusive', 'not 088b8aa537'] }] },
    { name: 'kernel 6.1 has the fix: inconclusive', kernel: '6.1.0-56-amd64', trace: trace(...ksm(pin('6.700050'))), errors: [{ messageId: 'race', line: 1, confidence: 'inconclusive', message: ['has 088b8aa537 (v6.0)', 'backs off'] }] },
    { name: 'kernel 5.15 predates PG_anon_exclusive: inconclusive', kernel: '5.15.0-91-generic', trace: trace(...ksm(pin('6.700050'))), errors: [{ messageId: 'race', line: 1, confidence: 'inconclusive', message: ['predates PG_anon_exclusive'] }] },
  ],
}, 'rule gup-fast-anon-exclusive-race (with --kernel)');
