/**
 * Per-CPU files of one capture merged by timestamp: the real baseline and OOM
 * captures split into per_cpu/cpuN/trace files (each with the header and its
 * own CPU's entry count, as the kernel writes them) give the same pairing and findings as the whole file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { analyzeMerged, analyzeTrace } from '../src/analyze';

const ROOT = join(__dirname, '..', '..');

/** Split an ftrace text capture into per-CPU files; stack records stay with their CPU's event. */
function splitPerCpu(gz: string): string[] {
  const lines = gunzipSync(readFileSync(join(ROOT, 'fixtures', 'real', gz))).toString('utf8').split('\n');
  const header = lines.filter((l) => l.startsWith('#'));
  const byCpu = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const l of lines) {
    if (l.startsWith('#') || l === '') continue;
    const m = /\[(\d{3})\]/.exec(l);
    if (m && !l.startsWith(' =>')) {
      current = byCpu.get(m[1]) ?? [];
      byCpu.set(m[1], current);
    }
    current?.push(l);
  }
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-percpu-'));
  return [...byCpu.entries()].map(([cpu, body]) => {
    const d = join(dir, 'per_cpu', `cpu${Number(cpu)}`);
    mkdirSync(d, { recursive: true });
    // The kernel's per-CPU header counts that CPU's entries (its event lines and stack records).
    const entries = body.filter((l) => !l.startsWith(' =>')).length;
    const own = header.map((l) => l.replace(/entries-in-buffer\/entries-written: \d+\/\d+/, `entries-in-buffer/entries-written: ${entries}/${entries}`));
    writeFileSync(join(d, 'trace'), [...own, ...body].join('\n') + '\n');
    return join(d, 'trace');
  });
}

describe('per-CPU files merged by timestamp', () => {
  for (const gz of ['baseline.stacktrace.trace.txt.gz', 'oom_reaper.trace.txt.gz']) {
    it(`${gz} split per CPU reads as the whole capture`, async () => {
      const files = splitPerCpu(gz);
      assert.ok(files.length >= 2);
      const whole = await analyzeTrace(join(ROOT, 'fixtures', 'real', gz));
      const merged = await analyzeMerged(files);
      assert.equal(merged.input.events, whole.input.events);
      assert.equal(merged.input.unreadableLines, 0);
      assert.equal(merged.input.orphanStacks, 0);
      assert.deepEqual(merged.counts, whole.counts);
      assert.deepEqual(merged.subscribers, whole.subscribers);
      assert.deepEqual(merged.findings, []);
      assert.deepEqual(merged.input.merged, files);
      assert.equal(merged.input.missingEntries, undefined);
    });
  }

  it('check --merge reports one input; without it each file is its own capture', () => {
    const files = splitPerCpu('process_mrelease.trace.txt.gz');
    const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'mntrace.js'), 'check', '--format', 'json', ...args, ...files], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const merged = run(['--merge']);
    assert.equal(merged.status, 0, merged.stderr);
    const m = JSON.parse(merged.stdout);
    assert.equal(m.inputs.length, 1);
    assert.equal(m.inputs[0].ranges.paired, 11);
    const separate = JSON.parse(run([]).stdout);
    assert.equal(separate.inputs.length, files.length);
  });
});
