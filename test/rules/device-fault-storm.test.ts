import { runRuleTests } from '../rule-tester';
import { at, set, trace } from '../real-lines';

/**
 * Derived: the captures (x86 QEMU guest, no IOMMU) hold no device faults. iommu:io_page_fault prints
 * "IOMMU:%s %s iova=0x%016llx flags=0x%04x" (driver, device; include/trace/events/iommu.h); these lines use that
 * format on the ftrace line shape of the real captures, for an SVA device faulting on a page of kvmnotif's range.
 */
const fault = (ts: string, iova = '0x00007fc83c800000') => `          <idle>-0       [000] d.h1.     ${ts}: io_page_fault: IOMMU:arm-smmu-v3 0000:00:04.0 iova=${iova} flags=0x0002`;
/** baseline.trace.txt line 25941: a real secondary-TLB hook (6.1) on another part of the address space. */
const hookElsewhere = '        kvmnotif-147     [001] .....     6.671568: mn_inv_range: (__mmu_notifier_invalidate_range+0x0/0x80) mm=0xff201f0681057180 start=0x7fc83c956000 end=0x7fc83ca56000';
/** The same hook covering the faulting page. */
const hookCovering = set(set(hookElsewhere, 'start', '0x7fc83c800000'), 'end', '0x7fc83c801000');
/** Derived: a driver's own fault event mapped to the device-fault role in the config (values as key=value). */
const driverFault = (ts: string) => `   irq/25-smmu-150     [000] .....     ${ts}: arm_smmu_fault: ssid=1 addr=0x7fc83c800000 perm=write`;

const small = { rules: { 'device-fault-storm': { options: { threshold: 5, windowMs: 10 } } } };
/** n faults one every `stepUs` µs from 6.700000 s. */
function faults(n: number, stepUs = 100, iova?: (i: number) => string): string[] {
  return Array.from({ length: n }, (_, i) => fault((6.7 + (i * stepUs) / 1e6).toFixed(6), iova?.(i)));
}

runRuleTests('device-fault-storm', {
  valid: [
    { name: 'no more faults than the threshold', config: small, trace: trace(hookElsewhere, ...faults(5)) },
    { name: 'an invalidation covering the page comes in between (the device retries legitimately)', config: small, trace: trace(hookElsewhere, ...faults(4), at(hookCovering, '6.700350'), ...faults(10).slice(4, 8)) },
    { name: 'faults on different pages', config: small, trace: trace(hookElsewhere, ...faults(10, 100, (i) => `0x00007fc83c8${i}0000`)) },
    { name: 'faults spread wider than the window', config: small, trace: trace(hookElsewhere, ...faults(10, 3000)) },
    { name: 'the default threshold (100) is not reached by 50 faults', trace: trace(hookElsewhere, ...faults(50)) },
  ],
  invalid: [
    {
      name: 'six faults on one page in 0.5 ms, the hook captured elsewhere: likely',
      config: small,
      trace: trace(hookElsewhere, ...faults(10)),
      errors: [{ messageId: 'storm', line: 7, confidence: 'likely', message: ['arm-smmu-v3 0000:00:04.0 faulted 6 times on 0x7fc83c800000', '(10 faults from line 2 to line 11', 'seed 002'], evidenceLines: [2, 11] }],
    },
    {
      name: 'no secondary-TLB hook captured at all: inconclusive',
      config: small,
      trace: trace(...faults(10)),
      errors: [{ messageId: 'storm', line: 6, confidence: 'inconclusive', message: ['was not captured'] }],
    },
    {
      name: 'same page at different offsets counts as one address',
      config: small,
      trace: trace(hookElsewhere, ...faults(6, 100, (i) => `0x00007fc83c8000${i}0`)),
      errors: [{ messageId: 'storm', line: 7, confidence: 'likely' }],
    },
    {
      name: 'default options: 101 faults within 1 s',
      trace: trace(hookElsewhere, ...faults(101, 5000)),
      errors: [{ messageId: 'storm', line: 102, confidence: 'likely', message: ['101 times', 'within 1.00 s'] }],
    },
    {
      name: 'the storm resumes after an invalidation: counted afresh',
      config: small,
      trace: trace(hookElsewhere, ...faults(3), at(hookCovering, '6.700250'), ...faults(10).slice(3)),
      errors: [{ messageId: 'storm', line: 11, confidence: 'likely' }],
    },
    {
      name: 'a driver\'s own fault event mapped to device-fault (config events) and selected with the events option',
      config: {
        events: { arm_smmu_fault: { role: 'device-fault' } },
        rules: { 'device-fault-storm': { options: { threshold: 2, windowMs: 10, events: ['arm_smmu_fault'] } } },
      },
      trace: trace(hookElsewhere, fault('6.700000'), fault('6.700100'), fault('6.700200'), driverFault('6.700300'), driverFault('6.700400'), driverFault('6.700500')),
      errors: [{ messageId: 'storm', line: 7, confidence: 'likely', message: ['arm_smmu_fault faulted 3 times on 0x7fc83c800000'] }],
    },
  ],
});
