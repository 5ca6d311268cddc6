/**
 * Read kprobe definitions as written to /sys/kernel/tracing/kprobe_events
 * (`p:kprobes/mn_inv_start __mmu_notifier_invalidate_range_start range=%di:x64 ...`,
 * `r10:kprobes/mn_inv_start_ret __mmu_notifier_invalidate_range_start ret=$retval:s32`).
 * Formats that print only an address (`trace-cmd report`, `perf script`) are
 * mapped back to the probed symbol through these.
 */
export interface KprobeDefinition {
  group: string;
  event: string;
  symbol: string;
  isReturn: boolean;
  /** Fetch-arg names in order (`range`, `mm`, ...). */
  args: string[];
  line: number;
}

const DEF = /^([prf])(\d*):(?:([^/\s]+)\/)?(\S+)\s+(?:([\w.]+):)?([\w.]+)(?:\+(?:0x)?[0-9a-fA-F]+)?(%return)?(?:\s+(.*))?$/;

export interface KprobeParseResult {
  definitions: KprobeDefinition[];
  errors: Array<{ line: number; text: string }>;
}

export function parseKprobeEvents(text: string): KprobeParseResult {
  const definitions: KprobeDefinition[] = [];
  const errors: Array<{ line: number; text: string }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('-:')) return;
    const m = DEF.exec(line);
    if (!m) {
      errors.push({ line: i + 1, text: raw });
      return;
    }
    const kind = m[1];
    definitions.push({
      group: m[3] ?? (kind === 'f' ? 'fprobes' : 'kprobes'),
      event: m[4],
      symbol: m[6],
      isReturn: kind === 'r' || m[7] !== undefined,
      args: (m[8] ?? '').split(/\s+/).filter((a) => a.includes('=')).map((a) => a.slice(0, a.indexOf('='))),
      line: i + 1,
    });
  });
  return { definitions, errors };
}
