/**
 * Files named besides the trace are checked as strictly as the trace: a
 * config role mntrace does not know, a number JSON reads as Infinity, and a
 * --config, --baseline or --kprobe-events pointed at /dev/zero each end in
 * exit 2 with the key or file named, at once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'mntrace.js');
const TRACE = join(ROOT, 'fixtures', 'real', 'baseline.trace.lines-25911-26110.txt');

function run(args: string[]) {
  const res = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: res.status, stderr: res.stderr };
}

function config(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'mntrace-cfg-')), 'mntrace.json');
  writeFileSync(file, text);
  return file;
}

describe('config checks', () => {
  it('an unknown role name is rejected with its event named (it silently dropped the events)', () => {
    const cfg = config(JSON.stringify({ events: { my_start: { symbol: '__mmu_notifier_invalidate_range_start', role: 'range_start' } } }));
    const r = run(['check', '--config', cfg, TRACE]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /events\.my_start\.role: unknown role 'range_start' \(known: range-start, /);
  });

  it('a number too large for a double (1e400, read as Infinity) is rejected with its key named, in the config and in rule options', () => {
    const engine = run(['check', '--config', config('{"engine": {"likelyAfterMs": 1e400}}'), TRACE]);
    assert.equal(engine.code, 2);
    assert.match(engine.stderr, /engine\.likelyAfterMs: the number is too large/);
    const options = run(['check', '--config', config('{"rules": {"slow-invalidation": {"options": {"thresholdMs": -1e999}}}}'), TRACE]);
    assert.equal(options.code, 2);
    assert.match(options.stderr, /rules\.slow-invalidation\.options\.thresholdMs: the number is too large/);
  });

  for (const [option, what] of [['--config', 'config'], ['--baseline', 'baseline'], ['--kprobe-events', 'kprobe definitions']]) {
    it(`${option} /dev/zero ends at once with exit 2 (it read gigabytes)`, () => {
      const t0 = Date.now();
      const r = run(['check', option, '/dev/zero', TRACE]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot read ${what} /dev/zero: it is larger than \\d+ MiB`));
      assert.ok(Date.now() - t0 < 10_000);
    });
  }
});
