/**
 * `enum mmu_notifier_event` (include/linux/mmu_notifier.h, 5.2+; MMU_NOTIFY_EXCLUSIVE from 5.13):
 * the names in value order. One list for the probe catalog (which values a kernel has) and the
 * semantics (what a captured `event=` value means); a kernel fact, so it sits below both.
 */
export const MMU_NOTIFIER_EVENTS = [
  'MMU_NOTIFY_UNMAP', 'MMU_NOTIFY_CLEAR', 'MMU_NOTIFY_PROTECTION_VMA', 'MMU_NOTIFY_PROTECTION_PAGE',
  'MMU_NOTIFY_SOFT_DIRTY', 'MMU_NOTIFY_RELEASE', 'MMU_NOTIFY_MIGRATE', 'MMU_NOTIFY_EXCLUSIVE',
] as const;
