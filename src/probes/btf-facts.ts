/**
 * Read the facts probe generation needs from the kernel's own BTF: the layout of
 * `struct mmu_notifier_range`, the values of `enum mmu_notifier_event`, and which functions exist
 * with which parameters. Every fact BTF answers overrides the version tables; the rest stay.
 */
import { Btf, BtfKind, type BtfFunc } from '../btf/reader';
import {
  SECONDARY_EVENT,
  SYM_END,
  SYM_ITREE_INSERT,
  SYM_OOM_REAP,
  SYM_REGISTER,
  SYM_SECONDARY_NEW,
  SYM_SECONDARY_OLD,
  SYM_START,
} from './tables';
import type { KernelFacts, RangeField } from './types';

/** Members of the range struct the probes may read, in the order the struct has them. */
const RANGE_MEMBERS = ['vma', 'mm', 'start', 'end', 'flags', 'event', 'blockable', 'owner'];

function pointsToStruct(btf: Btf, typeId: number, name: string): boolean {
  const r = btf.resolve(typeId);
  if (r.kind !== BtfKind.PTR || r.target === undefined) return false;
  const t = btf.resolve(r.target);
  return (t.kind === BtfKind.STRUCT || t.kind === BtfKind.FWD) && t.name === name;
}

/** The range struct layout from BTF, or undefined when the kernel has no `struct mmu_notifier_range`. */
export function btfRangeFields(btf: Btf): RangeField[] | undefined {
  const s = btf.findStruct('mmu_notifier_range');
  if (!s) return undefined;
  const fields: RangeField[] = [];
  for (const name of RANGE_MEMBERS) {
    const m = s.member(name);
    if (!m) continue;
    const r = btf.resolve(m.typeId);
    const size = r.size ?? btf.pointerSize;
    if (m.bitfieldSize > 0) {
      // Read the bitfield from the naturally aligned unit that holds it (32 bits unless it spans more).
      const containerBits = m.bitOffset % 32 + m.bitfieldSize <= 32 ? 32 : 64;
      const unitStart = m.bitOffset - (m.bitOffset % containerBits);
      fields.push({
        name,
        offset: unitStart / 8,
        size: containerBits / 8,
        bitfield: { bits: m.bitfieldSize, bitOffset: m.bitOffset - unitStart, containerBits },
      });
    } else {
      fields.push({ name, offset: m.byteOffset, size });
    }
  }
  fields.sort((a, b) => a.offset - b.offset || (a.bitfield?.bitOffset ?? 0) - (b.bitfield?.bitOffset ?? 0));
  return fields;
}

function describe(fields: RangeField[]): string {
  return fields.map((x) => `${x.name} ${x.offset}${x.bitfield ? ` (bits ${x.bitfield.bitOffset}+${x.bitfield.bits})` : ''}`).join(', ');
}

/**
 * Apply what `btf` says on top of `facts` (from the tables). Returns notes on every fact where
 * BTF disagreed with the tables, and on what BTF could not answer.
 */
export function applyBtfFacts(facts: KernelFacts, btf: Btf): string[] {
  const notes: string[] = [];
  const fn = (name: string): BtfFunc | undefined => btf.findFunc(name);
  const hasFunctions = fn(SYM_REGISTER) !== undefined || fn(SYM_START) !== undefined;
  if (!hasFunctions) {
    notes.push(`${btf.source} has no FUNC records for the mmu_notifier functions (a module's BTF, or BTF without functions?): function signatures come from the version tables`);
  }

  // struct mmu_notifier_range
  const fields = btfRangeFields(btf);
  const start = fn(SYM_START);
  if (fields) {
    const wasTable = facts.range ? describe(facts.range.fields) : 'no range struct';
    facts.range = { fields, source: 'btf', description: `from BTF: ${describe(fields)}` };
    if (wasTable !== describe(fields)) notes.push(`BTF layout of struct mmu_notifier_range (${describe(fields)}) differs from the version table (${wasTable}): using BTF`);
    facts.provenance.range = 'btf';
    facts.legacyStartBlockable = false;
  } else if (start && start.params.length > 0 && !pointsToStruct(btf, start.params[0].typeId, 'mmu_notifier_range')) {
    if (facts.range) notes.push(`BTF has no struct mmu_notifier_range and ${SYM_START} takes (${start.params.map((p) => p.name).join(', ')}): using the pre-5.0 argument form`);
    facts.range = undefined;
    facts.legacyStartBlockable = start.params.length >= 4;
    facts.provenance.range = 'btf';
  } else {
    notes.push(`${btf.source} has no struct mmu_notifier_range: its layout comes from the version table`);
  }

  // enum mmu_notifier_event
  const en = btf.findEnum('mmu_notifier_event');
  if (en) {
    facts.eventValues = en.values.map((v) => ({ name: v.name, value: Number(v.value) }));
    facts.provenance.eventValues = 'btf';
  } else if (fields) {
    if (facts.eventValues.length > 0 && !fields.some((x) => x.name === 'event')) facts.eventValues = [];
    facts.provenance.eventValues = 'btf';
  }

  if (!hasFunctions) return notes;

  if (start) {
    const ret = btf.resolve(start.returnTypeId);
    facts.startReturnsInt = ret.kind === BtfKind.INT && !ret.isBool;
    facts.provenance.startReturnsInt = 'btf';
    facts.paramNames[SYM_START] = start.params.map((p, i) => p.name || `arg${i + 1}`);
  }

  const end = fn(SYM_END);
  if (end) {
    const onlyEnd = end.params.length === (facts.range ? 2 : 4);
    if (onlyEnd !== facts.endOnlyEnd) notes.push(`BTF: ${SYM_END} ${onlyEnd ? 'has' : 'has no'} only_end argument, unlike the version table: using BTF`);
    facts.endOnlyEnd = onlyEnd;
    facts.provenance.endOnlyEnd = 'btf';
    facts.paramNames[SYM_END] = end.params.map((p, i) => p.name || `arg${i + 1}`);
  }

  const newHook = fn(SYM_SECONDARY_NEW);
  const oldHook = fn(SYM_SECONDARY_OLD);
  const hook = newHook ?? oldHook;
  if (hook) {
    if (facts.secondaryTlb?.symbol !== hook.name) notes.push(`BTF: the secondary-TLB hook is ${hook.name}, unlike the version table (${facts.secondaryTlb?.symbol ?? 'none'}): using BTF`);
    facts.secondaryTlb = { symbol: hook.name, event: SECONDARY_EVENT[hook.name] };
    facts.paramNames[hook.name] = hook.params.map((p, i) => p.name || `arg${i + 1}`);
    // KVM's ->invalidate_range op went away together with the core hook (about 6.6); KVM lives
    // in a module whose BTF we do not have, so follow the core.
    facts.kvmRangeHook = hook === oldHook;
    facts.provenance.secondaryTlb = 'btf';
    facts.provenance.kvmRangeHook = 'btf';
  } else {
    notes.push(`BTF has neither ${SYM_SECONDARY_OLD} nor ${SYM_SECONDARY_NEW}: keeping ${facts.secondaryTlb?.symbol ?? 'no'} secondary-TLB probe from the version table`);
  }

  const itree = fn(SYM_ITREE_INSERT);
  if (itree !== undefined) {
    facts.intervalNotifiers = true;
    facts.paramNames[SYM_ITREE_INSERT] = itree.params.map((p, i) => p.name || `arg${i + 1}`);
  } else {
    facts.intervalNotifiers = false;
  }
  facts.provenance.intervalNotifiers = 'btf';

  const reap = fn(SYM_OOM_REAP);
  if (reap) {
    const idx = reap.params.findIndex((p) => pointsToStruct(btf, p.typeId, 'mm_struct'));
    if (idx >= 0) {
      facts.oomReapMmArg = idx;
      facts.provenance.oomReapMmArg = 'btf';
    }
    facts.paramNames[SYM_OOM_REAP] = reap.params.map((p, i) => p.name || `arg${i + 1}`);
  }

  for (const name of [SYM_REGISTER, 'mmu_interval_notifier_remove', 'mn_itree_inv_end', '__mmu_notifier_release']) {
    const f = fn(name);
    if (f) facts.paramNames[name] = f.params.map((p, i) => p.name || `arg${i + 1}`);
  }
  facts.provenance.paramNames = 'btf';
  return notes;
}

/** Static functions BTF does not list are probably inlined: their probes will likely fail to register. */
export function btfMissingFunctions(btf: Btf, symbols: string[]): string[] {
  return symbols.filter((s) => btf.findFunc(s) === undefined);
}
