/**
 * Does a GFP mask, as a trace prints it, allow direct reclaim?
 *
 * kmem:kmalloc / kmem_cache_alloc / mm_page_alloc print `gfp_flags=` through
 * show_gfp_flags(): composite names first (`GFP_KERNEL|__GFP_ZERO`), bits no
 * name covers as hex (`GFP_NOWAIT|0x400`); some tools print the whole mask as
 * a number (`0xcc0`). Names are version independent; numbers are not: the
 * value of ___GFP_DIRECT_RECLAIM moved twice.
 */
import type { KernelInfo } from '../../src/engine/types';

/** Masks whose definition includes __GFP_DIRECT_RECLAIM (__GFP_WAIT before 4.4). */
const DIRECT_RECLAIM_NAMES = new Set([
  'GFP_KERNEL', 'GFP_KERNEL_ACCOUNT', 'GFP_USER', 'GFP_HIGHUSER', 'GFP_HIGHUSER_MOVABLE',
  // __GFP_RECLAIM | __GFP_IO (| __GFP_FS): limited reclaim, but direct reclaim all the same (fs_reclaim_acquire
  // checks the mmu notifier start map for any mask that may direct-reclaim, from about 5.11).
  'GFP_NOFS', 'GFP_NOIO',
  'GFP_TRANSHUGE', 'GFP_TEMPORARY',
  '__GFP_DIRECT_RECLAIM', '__GFP_RECLAIM', 'GFP_RECLAIM', '__GFP_WAIT', 'GFP_WAIT',
]);

/** One row of the version table for numeric masks. */
export interface DirectReclaimBit {
  bit: number;
  /** Where the value comes from, in words. */
  basis: string;
  /** True when the kernel was not given and the newest layout was assumed. */
  assumed: boolean;
}

/**
 * The value of ___GFP_DIRECT_RECLAIM on a kernel (include/linux/gfp.h, gfp_types.h from 6.0):
 * - before 4.4: no such flag; `__GFP_WAIT` 0x10 meant "may reclaim" (d0164adc89f6, v4.4, split it);
 * - 4.4 to about 4.17: 0x400000;
 * - about 4.18 to 5.0: 0x200000 ("mm: save two stranding bit in gfp_mask");
 * - about 5.1 on: 0x400 ("mm: shuffle GFP_* flags"; GFP_KERNEL = 0xcc0), still bit 10 in the
 *   enum of about 6.10 (0x200 became unused when __GFP_ATOMIC went in 6.3).
 */
export function directReclaimBit(kernel: KernelInfo | undefined, override?: string): DirectReclaimBit {
  if (override !== undefined) return { bit: Number(BigInt(override)), basis: `the configured directReclaimBit ${override}`, assumed: false };
  if (!kernel) return { bit: 0x400, basis: 'the 5.1+ value 0x400 (no --kernel given)', assumed: true };
  const v = kernel.major * 1000 + kernel.minor;
  const k = `${kernel.major}.${kernel.minor}`;
  if (v < 4004) return { bit: 0x10, basis: `__GFP_WAIT 0x10 (kernel ${k}, before 4.4)`, assumed: false };
  if (v < 4018) return { bit: 0x400000, basis: `0x400000 (kernel ${k}, 4.4 to about 4.17)`, assumed: false };
  if (v < 5001) return { bit: 0x200000, basis: `0x200000 (kernel ${k}, about 4.18 to 5.0)`, assumed: false };
  return { bit: 0x400, basis: `0x400 (kernel ${k}, about 5.1 on)`, assumed: false };
}

export interface GfpVerdict {
  /** The mask allows direct reclaim. */
  direct: boolean;
  /** The token that decided (`GFP_KERNEL`, `0xcc0`). */
  token?: string;
  /** Set when a number decided: the bit value used. */
  numeric?: DirectReclaimBit;
}

/** Judge a printed mask. Returns undefined for an empty mask. */
export function gfpAllowsDirectReclaim(text: string | undefined, kernel: KernelInfo | undefined, override?: string): GfpVerdict | undefined {
  if (text === undefined) return undefined;
  const tokens = text.split('|').map((t) => t.trim()).filter((t) => t.length > 0);
  if (tokens.length === 0) return undefined;
  let numericSeen: DirectReclaimBit | undefined;
  for (const tok of tokens) {
    if (DIRECT_RECLAIM_NAMES.has(tok)) return { direct: true, token: tok };
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(tok)) {
      const bit = numericSeen ?? directReclaimBit(kernel, override);
      numericSeen = bit;
      if ((BigInt(tok) & BigInt(bit.bit)) !== 0n) return { direct: true, token: tok, numeric: bit };
    }
  }
  return { direct: false, ...(numericSeen ? { numeric: numericSeen } : {}) };
}
