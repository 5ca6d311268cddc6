/**
 * Kprobes given their own names and printed as addresses (trace-cmd report, perf script) map to nothing without
 * the capture's kprobe_events: the report names those events and --kprobe-events, rather than a bare "0 ranges, ok".
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { traceCmd as tc, trace } from './real-lines';
import { parseReport, runCli } from './report-helpers';

/** The real trace-cmd report lines with the kprobes named by the user (inv_begin, inv_begin_ret, inv_done), and their definitions. */
function renamed(): { file: string; defs: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-unmapped-'));
  const file = join(dir, 'report.txt');
  writeFileSync(file, trace(tc.header, tc.start.replace('mn_inv_start:    ', 'inv_begin:       '), tc.ret.replace('mn_inv_start_ret:', 'inv_begin_ret:   '), tc.end.replace('mn_inv_end:  ', 'inv_done:    '), tc.print));
  const defs = join(dir, 'kprobe_events');
  writeFileSync(defs, [
    'p:kprobes/inv_begin __mmu_notifier_invalidate_range_start range=%di:x64 mm=+8(%di):x64 start=+16(%di):x64 end=+24(%di):x64 flags=+32(%di):u32 event=+36(%di):u32',
    'r10:kprobes/inv_begin_ret __mmu_notifier_invalidate_range_start ret=$retval:s32',
    'p:kprobes/inv_done __mmu_notifier_invalidate_range_end range=%di:x64 mm=+8(%di):x64 start=+16(%di):x64 end=+24(%di):x64 flags=+32(%di):u32 event=+36(%di):u32 only_end=%si:u8',
  ].join('\n') + '\n');
  return { file, defs };
}

describe('kprobes printed as addresses under names mntrace does not know', () => {
  it('the summary names the events and --kprobe-events; JSON lists them', () => {
    const { file } = renamed();
    const text = runCli(['check', file]).stdout;
    assert.match(text, /0 paired/);
    assert.match(text, /'inv_begin', 'inv_begin_ret', 'inv_done' look like kprobes printed at an address only/);
    assert.match(text, /--kprobe-events FILE/);
    const json = parseReport(runCli(['check', '-q', '--format', 'json', file]).stdout);
    assert.deepEqual(json.inputs[0].unmappedKprobes, ['inv_begin', 'inv_begin_ret', 'inv_done']);
  });

  it('with --kprobe-events the range is paired and nothing is listed as unmapped', () => {
    const { file, defs } = renamed();
    const json = parseReport(runCli(['check', '-q', '--format', 'json', '--kprobe-events', defs, file]).stdout);
    assert.equal(json.inputs[0].ranges.paired, 1);
    assert.equal(json.inputs[0].unmappedKprobes, undefined);
  });
});
