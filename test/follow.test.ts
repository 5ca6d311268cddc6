/**
 * `mntrace check --follow -` on a pipe fed slowly, as from trace_pipe: a leaked
 * range is reported while the pipe is still open; the summary comes at EOF.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { at, baseline as b, set } from './real-lines';

const BIN = join(__dirname, '..', '..', 'bin', 'mntrace.js');

/** `mntrace check --follow ...args -` fed line by line: `seen` resolves with stdout once it matches `until`. */
function follow(args: string[], until = /unpaired-start/) {
  const child = spawn(process.execPath, [BIN, 'check', '--follow', ...args, '-'], { env: { ...process.env, NO_COLOR: '1' } });
  const state = { out: '' };
  child.stdout.setEncoding('utf8');
  const seen = new Promise<string>((resolve) => {
    child.stdout.on('data', (d: string) => {
      state.out += d;
      if (until.test(state.out)) resolve(state.out);
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const write = (line: string) => new Promise<void>((resolve) => child.stdin.write(line + '\n', () => resolve()));
  return { child, state, seen, exited, write };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('check --follow', () => {
  it('reports a leaked range before the pipe closes, then summarises at EOF', async () => {
    const cfg = join(mkdtempSync(join(tmpdir(), 'mntrace-follow-')), 'config.json');
    writeFileSync(cfg, JSON.stringify({ engine: { likelyAfterMs: 50 } }));
    const { child, state, seen, exited, write } = follow(['--config', cfg]);
    // A start that returned 0, then the task keeps running (real lines, later timestamps), never ending it.
    await write(b.start);
    await write(b.kvmStart);
    await write(b.ret);
    for (let i = 1; i <= 6; i++) {
      await pause(50);
      await write(at(b.later, `6.${String(700000 + i * 20000)}`));
    }
    const early = await Promise.race([seen, pause(5000).then(() => 'timeout')]);
    assert.notEqual(early, 'timeout', `no live finding while the pipe was open; stdout so far: ${state.out}`);
    assert.match(early, /error \[likely\] unpaired-start: kvmnotif-147 at 6\.667004: .*reported live/);
    assert.equal(child.exitCode, null, 'still running: the pipe is open');
    child.stdin.end();
    const code = await exited;
    assert.equal(code, 1);
    assert.match(state.out, /Summary/);
    assert.match(state.out, /0 paired, 1 open/);
  });

  it('a leak proved by the task\'s system call boundary is reported certain as soon as that line comes', async () => {
    const { child, state, seen, exited, write } = follow([]);
    await write(b.start);
    await write(b.ret);
    await write(b.marker);
    // The parser holds an event until the next line of its CPU shows no stack record follows it.
    await write(at(b.later, '6.673300'));
    const early = await Promise.race([seen, pause(5000).then(() => 'timeout')]);
    assert.match(String(early), /error \[certain\] unpaired-start: kvmnotif-147 at 6\.667004: .*system call boundary .*line 3/);
    assert.equal(child.exitCode, null, 'still running: the pipe is open');
    child.stdin.end();
    assert.equal(await exited, 1);
    assert.match(state.out, /0 paired, 1 open/);
  });

  it('past the per-rule limit, says that findings go on (it went quiet after the limit while problems continued)', async () => {
    const cfg = join(mkdtempSync(join(tmpdir(), 'mntrace-follow-')), 'config.json');
    writeFileSync(cfg, JSON.stringify({ engine: { likelyAfterMs: 50, maxFindingsPerRule: 2 } }));
    const { child, state, seen, exited, write } = follow(['--config', cfg], /findings go on/);
    // Four tasks each start a range that returns 0 and never end it, then run on (real lines, other pids and pointers).
    const as = (line: string, pid: number) => line.replace('kvmnotif-147 ', `kvmnotif-${pid} `);
    for (let pid = 201; pid <= 204; pid++) {
      await write(as(set(b.start, 'range', `0xff4d4553c041bb${pid - 100}`), pid));
      await write(as(b.ret, pid));
    }
    for (let pid = 201; pid <= 204; pid++) await write(as(at(b.later, `6.${800000 + pid}`), pid));
    const early = await Promise.race([seen, pause(5000).then(() => 'timeout')]);
    assert.notEqual(early, 'timeout', `no count line while the pipe was open; stdout so far: ${state.out}`);
    assert.equal((early.match(/unpaired-start: kvmnotif-/g) ?? []).length, 2);
    assert.match(early, /mntrace: findings go on: 1 more not printed \(over 2 per rule: unpaired-start 1\)/);
    assert.equal(child.exitCode, null, 'still running: the pipe is open');
    child.stdin.end();
    assert.equal(await exited, 1);
    assert.match(state.out, /findings go on: 2 more not printed \(over 2 per rule: unpaired-start 2\)/);
  });
});
