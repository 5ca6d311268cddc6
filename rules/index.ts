/** Every rule mntrace ships, in documentation order. */
import type { RuleMeta, RuleModule } from '../src/engine/types';
import unpairedStart from './unpaired-start';
import unpairedEnd from './unpaired-end';
import endAfterFailedStart from './end-after-failed-start';
import failedBlockableStart from './failed-blockable-start';
import nonblockOutsideOomReaper from './nonblock-outside-oom-reaper';
import blockingStartInAtomic from './blocking-start-in-atomic';
import subscriberImbalance from './subscriber-imbalance';
import intervalOpInInvalidate from './interval-op-in-invalidate';
import reclaimAllocInInvalidate from './reclaim-alloc-in-invalidate';
import secondaryTlbWithoutMm from './secondary-tlb-without-mm';
import deviceFaultStorm from './device-fault-storm';
import gupFastAnonExclusiveRace from './gup-fast-anon-exclusive-race';
import slowInvalidation from './slow-invalidation';

export const rules: readonly RuleModule[] = [
  unpairedStart,
  unpairedEnd,
  endAfterFailedStart,
  failedBlockableStart,
  nonblockOutsideOomReaper,
  blockingStartInAtomic,
  subscriberImbalance,
  intervalOpInInvalidate,
  reclaimAllocInInvalidate,
  secondaryTlbWithoutMm,
  deviceFaultStorm,
  gupFastAnonExclusiveRace,
  slowInvalidation,
];

/** Every rule's metadata, for the reports (they describe rules without depending on them). */
export const ruleMetas: readonly RuleMeta[] = rules.map((r) => r.meta);

export function ruleById(id: string): RuleModule | undefined {
  return rules.find((r) => r.meta.id === id);
}
