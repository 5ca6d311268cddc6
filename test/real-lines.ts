/**
 * Real lines from the Debian 6.1 captures (fixtures/real/, see MANIFEST.md there),
 * used to build rule test traces. Cases that need a bug change one value of a
 * real line (a return value, a flags bit, the flags column) and say so.
 */

/** baseline.trace.txt lines 25919-25924: one munmap range of kvmnotif-147 with its KVM callbacks. */
export const baseline = {
  start: '        kvmnotif-147     [001] .....     6.667004: mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff4d4553c041bb88 mm=0xff201f0681057180 start=0x7fc83c800000 end=0x7fc83ca00000 flags=1 event=1',
  kvmStart: '        kvmnotif-147     [001] .....     6.667146: kvm_mn_inv_start: (kvm_mmu_notifier_invalidate_range_start+0x0/0x360 [kvm]) mn=0xff4d4553c03eea48 range=0xff4d4553c041bb88 mm=0xff201f0681057180 start=0x7fc83c800000 end=0x7fc83ca00000 flags=1 event=1',
  kvmUnmap: '        kvmnotif-147     [001] .....     6.667242: kvm_unmap_hva_range: mmu notifier unmap range: 0x007fc83c800000 -- 0x007fc83ca00000',
  ret: '        kvmnotif-147     [001] .....     6.667965: mn_inv_start_ret: (__split_huge_pmd+0x501/0xfe0 <- __mmu_notifier_invalidate_range_start) ret=0',
  end: '        kvmnotif-147     [001] .....     6.668235: mn_inv_end: (__mmu_notifier_invalidate_range_end+0x0/0xd0) range=0xff4d4553c041bb88 mm=0xff201f0681057180 start=0x7fc83c800000 end=0x7fc83ca00000 flags=1 event=1 only_end=1',
  kvmEnd: '        kvmnotif-147     [001] .....     6.668295: kvm_mn_inv_end: (kvm_mmu_notifier_invalidate_range_end+0x0/0x180 [kvm]) mn=0xff4d4553c03eea48 range=0xff4d4553c041bb88 mm=0xff201f0681057180 start=0x7fc83c800000 end=0x7fc83ca00000 flags=1 event=1',
  /** baseline.trace.txt line 29305: the task still running 106 ms later. */
  later: '        kvmnotif-147     [001] d..1.     6.773943: tlb_flush: pages:-1 reason:flush on task switch (0)',
  /** baseline.trace.txt line 25944: the workload's trace_marker write after its munmap returned. */
  marker: '        kvmnotif-147     [001] .....     6.673242: tracing_mark_write: KVMNOTIF step=munmap_done',
  /** baseline.trace.txt line 29272: the task's own exit tearing down its mm (exit_mmap -> __mmu_notifier_release). */
  release: '        kvmnotif-147     [001] .....     6.726433: mn_release: (__mmu_notifier_release+0x0/0x210) mm=0xff201f0681057180',
};

/**
 * System call events of a real 6.x kernel (fixtures/corpus/trace-cmd/report_filter_mmap_lock.txt lines 7-8,
 * `sleep-89142 [001] ..... 162573.215764: sys_exit: NR 1 = 1` and `sys_exit_write: 0x1`) with task and time
 * changed to kvmnotif-147 just after baseline.start.
 */
export const syscalls = {
  rawExit: '        kvmnotif-147     [001] .....     6.673100: sys_exit:             NR 1 = 1',
  exitWrite: '        kvmnotif-147     [001] .....     6.673102: sys_exit_write:       0x1',
};

/** baseline.trace-cmd-report.txt lines 1 and 24888-24889, 24891 (its end, 24892, is left out by the cases), 24900: trace-cmd report prints kprobes as addresses and marker writes as print events. */
export const traceCmd = {
  header: 'cpus=2',
  start: '        kvmnotif-318   [001]    23.565740: mn_inv_start:         (ffffffffb7d20eb0) range=0xff4d4553c087bb50 mm=0xff201f0681054d80 start=0x7fc2ddd42000 end=0x7fc2dde42000 flags=1 event=0',
  kvmStart: '        kvmnotif-318   [001]    23.565742: kvm_mn_inv_start:     (ffffffffc05d4d60) mn=0xff4d4553c0886a48 range=0xff4d4553c087bb50 mm=0xff201f0681054d80 start=0x7fc2ddd42000 end=0x7fc2dde42000 flags=1 event=0',
  ret: '        kvmnotif-318   [001]    23.565749: mn_inv_start_ret:     (ffffffffb7d20eb0 <- ffffffffb7ccc359) ret=0',
  end: '        kvmnotif-318   [001]    23.565917: mn_inv_end:           (ffffffffb7d21040) range=0xff4d4553c087bb50 mm=0xff201f0681054d80 start=0x7fc2ddd42000 end=0x7fc2dde42000 flags=1 event=0 only_end=0',
  print: '        kvmnotif-318   [001]    23.566306: print:                tracing_mark_write: KVMNOTIF step=munmap_done',
};

/** oom_reaper.trace.txt lines 14823-14824, 14834, 14846-14851, 15183: the reaper's first non-blocking range. */
export const reaper = {
  begin: '      oom_reaper-30      [000] .....    18.912973: start_task_reaping: pid=152',
  probe: '      oom_reaper-30      [000] .....    18.913015: oom_reap_task_mm: (__oom_reap_task_mm+0x0/0x1a0) mm=0xff20d20941bb1200',
  start: '      oom_reaper-30      [000] .....    18.913178: mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) range=0xff3ea321000ffd90 mm=0xff20d20941bb1200 start=0x400000 end=0x401000 flags=0 event=0',
  kvmStart: '      oom_reaper-30      [000] .....    18.913205: kvm_mn_inv_start: (kvm_mmu_notifier_invalidate_range_start+0x0/0x360 [kvm]) mn=0xff3ea321003e6a48 range=0xff3ea321000ffd90 mm=0xff20d20941bb1200 start=0x400000 end=0x401000 flags=0 event=0',
  ret: '      oom_reaper-30      [000] .....    18.913230: mn_inv_start_ret: (__oom_reap_task_mm+0x179/0x1a0 <- __mmu_notifier_invalidate_range_start) ret=0',
  end: '      oom_reaper-30      [000] .....    18.913279: mn_inv_end: (__mmu_notifier_invalidate_range_end+0x0/0xd0) range=0xff3ea321000ffd90 mm=0xff20d20941bb1200 start=0x400000 end=0x401000 flags=0 event=0 only_end=0',
  kvmRange: '      oom_reaper-30      [000] .....    18.913287: kvm_mn_inv_range: (kvm_mmu_notifier_invalidate_range+0x0/0x70 [kvm]) mn=0xff3ea321003e6a48 mm=0xff20d20941bb1200 start=0x400000 end=0x401000',
  kvmEnd: '      oom_reaper-30      [000] .....    18.913295: kvm_mn_inv_end: (kvm_mmu_notifier_invalidate_range_end+0x0/0x180 [kvm]) mn=0xff3ea321003e6a48 range=0xff3ea321000ffd90 mm=0xff20d20941bb1200 start=0x400000 end=0x401000 flags=0 event=0',
  finish: '      oom_reaper-30      [000] .....    19.016385: finish_task_reaping: pid=152',
  /** oom_reaper.trace.txt line 15308: the victim's own exit releasing the mm the reaper reaped. */
  victimRelease: '        kvmnotif-152     [001] .....    22.314088: mn_release: (__mmu_notifier_release+0x0/0x210) mm=0xff20d20941bb1200',
};

/** The ftrace header of the 6.1 captures (baseline.trace.txt lines 1-12). */
export const header = `# tracer: nop
#
# entries-in-buffer/entries-written: 29294/29294   #P:2
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |`;

/** Replace the timestamp column of a line. */
export function at(line: string, ts: string): string {
  return line.replace(/(\s)\d+\.\d+:/, `$1${ts}:`);
}

/** Replace `key=value` in a line's payload. */
export function set(line: string, key: string, value: string): string {
  const re = new RegExp(`(\\s${key.replace(/[$]/g, '\\$')}=)\\S+`);
  if (!re.test(line)) throw new Error(`no ${key}= in ${line}`);
  return line.replace(re, `$1${value}`);
}

/** Replace the flags column (`.....`). */
export function flags(line: string, f: string): string {
  return line.replace(/\] \S{4,} /, `] ${f} `);
}

/** Join lines into a trace; line N of the result is lines[N-1]. */
export function trace(...lines: string[]): string {
  return lines.join('\n') + '\n';
}
